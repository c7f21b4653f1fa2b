"""``GET /v1/openapi.json``: threadkit's OpenAPI document.

Built once from two files of this package: ``openai-chatkit.json``, the hosted ChatKit
paths exactly as in OpenAI's OpenAPI document (a copy of the reference the tests hold the
API to), and ``extensions.json``, what threadkit adds: operations, query parameters of
hosted operations, and the components they use, each operation and parameter marked
``x-threadkit-extension: true``. The hosted operations are left as they are apart from
the parameters added to them.
"""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from threadkit import __version__

EXTENSION = "x-threadkit-extension"


def _load(name: str) -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))


def hosted_document() -> dict[str, Any]:
    """The hosted ChatKit API's paths and components, as OpenAI publishes them."""
    return _load("openai-chatkit.json")


def build_document() -> dict[str, Any]:
    """The hosted document with threadkit's extensions merged in."""
    document = hosted_document()
    extensions = _load("extensions.json")
    document["info"] = {**document["info"], **extensions["info"], "version": __version__}
    document["servers"] = extensions["servers"]
    for path, operations in extensions["paths"].items():
        methods = document["paths"].setdefault(path, {})
        for method, operation in operations.items():
            if method in methods:
                raise ValueError(f"{method.upper()} {path} is a hosted operation already")
            methods[method] = operation
    for path, operations in extensions["parameters"].items():
        for method, parameters in operations.items():
            document["paths"][path][method].setdefault("parameters", []).extend(parameters)
    components = document.setdefault("components", {})
    for kind, entries in extensions["components"].items():
        found = components.setdefault(kind, {})
        taken = set(found) & set(entries)
        if taken:
            raise ValueError(f"components.{kind} already holds {sorted(taken)}")
        found.update(entries)
    return document


@functools.cache
def _document_bytes() -> bytes:
    return orjson.dumps(build_document())


def document() -> dict[str, Any]:
    """A copy of the merged document (``build_document``, built once)."""
    return copy.deepcopy(orjson.loads(_document_bytes()))


async def openapi_json(request: Request) -> Response:
    return Response(_document_bytes(), media_type="application/json")
