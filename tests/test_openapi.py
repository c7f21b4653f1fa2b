"""``GET /v1/openapi.json``: the hosted part is OpenAI's document unchanged, every extension
is marked, the extensions' responses match the document, and schemathesis finds no 5xx
and no response outside the document, on both backends."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import jsonschema
import schemathesis
from hypothesis import HealthCheck, given, settings
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.chatkit_helpers import Chat
from tests.conftest import Server
from tests.helpers import SPEC

EXTENSION = "x-threadkit-extension"
BETA = {"OpenAI-Beta": "chatkit_beta=v1"}
METHODS = ("get", "post", "put", "patch", "delete")


def served(server: Server) -> dict[str, Any]:
    r = httpx.get(f"{server.base_url}/openapi.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    return r.json()


def without_extensions(document: dict[str, Any]) -> dict[str, Any]:
    """The document less every operation and parameter marked as threadkit's."""
    hosted = copy.deepcopy(document)
    for path, operations in list(hosted["paths"].items()):
        for method in [m for m in operations if m in METHODS]:
            operation = operations[method]
            if operation.get(EXTENSION):
                del operations[method]
                continue
            kept = [p for p in operation.get("parameters", []) if not p.get(EXTENSION)]
            if "parameters" in operation:
                operation["parameters"] = kept
        if not operations:
            del hosted["paths"][path]
    return hosted


def test_the_hosted_part_is_openais_document_unchanged(server: Server) -> None:
    document = served(server)
    reference = json.loads(SPEC.read_text())
    hosted = without_extensions(document)
    assert hosted["paths"] == reference["paths"]
    assert document["openapi"] == reference["openapi"]
    for kind, entries in reference["components"].items():
        for name, value in entries.items():
            assert document["components"][kind][name] == value, (kind, name)
    assert document["security"] == reference["security"]
    assert document["servers"] == [{"url": "/v1"}]


def test_every_extension_is_marked(server: Server) -> None:
    document = served(server)
    reference = json.loads(SPEC.read_text())
    added = []
    for path, operations in document["paths"].items():
        for method in [m for m in operations if m in METHODS]:
            hosted = reference["paths"].get(path, {}).get(method)
            operation = operations[method]
            if hosted is None:
                assert operation[EXTENSION] is True, (method, path)
                added.append(f"{method.upper()} {path}")
            else:
                assert EXTENSION not in operation
                names = {p["name"] for p in hosted.get("parameters", [])}
                for parameter in operation.get("parameters", []):
                    assert (parameter["name"] in names) != bool(parameter.get(EXTENSION))
    assert sorted(added) == [
        "DELETE /chatkit/threads/{thread_id}/items/{item_id}",
        "GET /chatkit/export",
        "GET /chatkit/threads/{thread_id}/feedback",
        "POST /chatkit/threads",
        "POST /chatkit/threads/{thread_id}",
        "POST /chatkit/threads/{thread_id}/items",
    ]
    listing = document["paths"]["/chatkit/threads"]["get"]["parameters"]
    assert {p["name"] for p in listing if p.get(EXTENSION)} == {"q", "include"}


class Document:
    """Validates a response against what the served document says of its operation."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.registry = Registry().with_resource(
            "urn:threadkit", Resource.from_contents(document, default_specification=DRAFT202012)
        )

    def check(self, method: str, path: str, response: httpx.Response) -> None:
        responses = self.document["paths"][path][method.lower()]["responses"]
        status = str(response.status_code)
        declared = responses.get(status) or responses.get(f"{status[0]}XX")
        assert declared is not None, (method, path, response.status_code, response.text)
        if "$ref" in declared:
            declared = self.resolve(declared["$ref"])
        content = declared["content"]
        if "application/x-ndjson" in content:
            # JSON Lines: each line a thread or an item object of the document
            assert response.headers["content-type"] == "application/x-ndjson"
            for line in response.content.splitlines():
                value = json.loads(line)
                name = "ThreadResource" if value["object"] == "chatkit.thread" else "ThreadItem"
                self.validate({"$ref": f"#/components/schemas/{name}"}, value)
            return
        assert response.headers["content-type"] == "application/json"
        self.validate(content["application/json"]["schema"], response.json())

    def validate(self, schema: dict[str, Any], value: Any) -> None:
        if "$ref" in schema:
            schema = {"$ref": "urn:threadkit" + schema["$ref"]}
        jsonschema.Draft202012Validator(schema, registry=self.registry).validate(value)

    def resolve(self, ref: str) -> dict[str, Any]:
        node: Any = self.document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return node


def said(text: str) -> dict[str, Any]:
    return {"type": "chatkit.assistant_message", "content": [{"type": "output_text", "text": text}]}


def test_extension_responses_match_the_document(server: Server, project: str) -> None:
    doc = Document(served(server))
    every_item = [
        {"type": "chatkit.user_message", "content": [{"type": "input_text", "text": "hi"}]},
        said("hello"),
        {"type": "chatkit.widget", "widget": '{"type":"Card","children":[]}'},
        {
            "type": "chatkit.client_tool_call",
            "status": "completed",
            "call_id": "c1",
            "name": "n",
            "arguments": "{}",
            "output": "ok",
        },
        {"type": "chatkit.task", "task_type": "thought", "heading": None, "summary": "s"},
        {
            "type": "chatkit.task_group",
            "tasks": [{"type": "custom", "heading": "h", "summary": None}],
        },
    ]
    with server.http(project) as http:
        made = http.post("/v1/chatkit/threads", json={"user": "u", "items": every_item})
        doc.check("POST", "/chatkit/threads", made)
        thread_id = made.json()["id"]
        answer = http.get(f"/v1/chatkit/threads/{thread_id}/items").json()["data"][-2]["id"]
        user = Chat(server.url, server.key(project), {"X-ChatKit-User": "u", **BETA})
        user.call(
            "items.feedback", {"thread_id": thread_id, "item_ids": [answer], "kind": "positive"}
        )
        with_metadata = http.post(
            "/v1/chatkit/threads",
            params={"include": "metadata"},
            json={"user": "u", "title": "t", "metadata": {"k": "v"}},
        )
        doc.check("POST", "/chatkit/threads", with_metadata)
        assert with_metadata.json()["metadata"] == {"k": "v"}
        one = f"/v1/chatkit/threads/{thread_id}"
        calls = [
            ("POST", "/chatkit/threads/{thread_id}", one, {"title": "new"}, {}),
            ("POST", "/chatkit/threads/{thread_id}", one, {"status": {"type": "closed"}}, {}),
            (
                "POST",
                "/chatkit/threads/{thread_id}",
                one,
                {"metadata": {}},
                {"include": "metadata"},
            ),
            ("POST", "/chatkit/threads/{thread_id}", one, {"status": {"type": "x"}}, {}),
            ("POST", "/chatkit/threads/{thread_id}", "/v1/chatkit/threads/cthr_no", {}, {}),
            (
                "POST",
                "/chatkit/threads/{thread_id}/items",
                f"{one}/items",
                {"items": every_item},
                {},
            ),
            ("POST", "/chatkit/threads/{thread_id}/items", f"{one}/items", {"items": []}, {}),
            ("GET", "/chatkit/threads", "/v1/chatkit/threads", None, {"q": "hello"}),
            (
                "GET",
                "/chatkit/threads",
                "/v1/chatkit/threads",
                None,
                {"q": "new", "include": "metadata"},
            ),
            ("GET", "/chatkit/threads/{thread_id}", one, None, {"include": "metadata"}),
            ("GET", "/chatkit/threads/{thread_id}/feedback", f"{one}/feedback", None, {}),
            (
                "GET",
                "/chatkit/threads/{thread_id}/feedback",
                "/v1/chatkit/threads/cthr_no/feedback",
                None,
                {},
            ),
            ("GET", "/chatkit/export", "/v1/chatkit/export", None, {}),
            ("GET", "/chatkit/export", "/v1/chatkit/export", None, {"user": "u"}),
            ("GET", "/chatkit/export", "/v1/chatkit/export", None, {"user": ""}),
        ]
        for method, template, path, body, params in calls:
            r = http.request(method, path, json=body, params=params)
            doc.check(method, template, r)
        item_id = http.get(f"{one}/items").json()["data"][0]["id"]
        template = "/chatkit/threads/{thread_id}/items/{item_id}"
        for _ in range(2):  # deleted, then not found
            doc.check("DELETE", template, http.delete(f"{one}/items/{item_id}"))
        assert http.get("/v1/chatkit/threads", params={"q": "hello"}).json()["data"] != []
        marks = http.get(f"/v1/chatkit/threads/{thread_id}/feedback").json()["data"]
        assert [(m["item_id"], m["kind"]) for m in marks] == [(answer, "positive")]


# --- schemathesis over the whole document, against the real server -------------------------

#: examples per operation and way of generating them: about 25 s per backend here
EXAMPLES = 10


def test_schemathesis_finds_no_server_error_and_no_response_outside_the_document(
    server: Server, project: str
) -> None:
    """Every operation of the document (hosted and extensions) with valid and invalid
    inputs, on made-up threads and on a real one: never a 5xx, and every response whose
    status the document describes matches its schema."""
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
    headers = {"Authorization": f"Bearer {server.key(project)}", **BETA}
    checks = [not_a_server_error, response_schema_conformance]
    ran = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        # A thread of its own for each operation (one may delete it).
        with server.http(project) as http:
            body = {"user": "u", "items": [said("x")]}
            real = http.post("/v1/chatkit/threads", json=body).json()
            item = http.get(f"/v1/chatkit/threads/{real['id']}/items").json()["first_id"]
        fixed: list[dict[str, str]] = [{}]
        names = {p.name for p in operation.path_parameters}
        if names == {"thread_id"}:
            fixed.append({"thread_id": real["id"]})
        elif names == {"thread_id", "item_id"}:
            fixed.append({"thread_id": real["id"], "item_id": item})  # deleted, then missing
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for path_parameters in fixed:
                strategy = operation.as_strategy(
                    generation_mode=mode, path_parameters=path_parameters or None
                )

                @given(case=strategy)
                @settings(
                    max_examples=EXAMPLES,
                    deadline=None,
                    suppress_health_check=list(HealthCheck),
                    derandomize=True,
                    database=None,
                )
                def run(case: Any) -> None:
                    case.call_and_validate(base_url=server.base_url, headers=headers, checks=checks)

                run()
                ran += 1
    assert ran >= 20  # every operation was exercised
