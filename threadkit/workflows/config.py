"""The workflows configuration: a TOML file (``threadkit serve --config FILE``).

    default_workflow = "support"     # for API-key callers that name no workflow

    [workflows.echo]
    enabled = false                  # the built-in echo is on unless turned off

    [workflows.support]
    kind = "openai-compatible"
    base_url = "http://127.0.0.1:11434/v1"
    model = "llama3.2"
    api_key_env = "MODEL_API_KEY"    # optional: the variable holding the API key
    instructions = "You help {{user}} on the {{plan}} plan."

    [workflows.mine]
    kind = "python"
    target = "my_workflow:respond"
    python_path = ["."]              # added to sys.path, relative to this file (default)

The full reference is docs/workflows.md. Mistakes are reported as ``ConfigError``
naming the setting, at start-up rather than on the first request.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import Workflow, WorkflowRegistry
from .echo import EchoWorkflow

KINDS = ("echo", "openai-compatible", "python")
_TOP_LEVEL = ("default_workflow", "workflows", "server", "maintenance", "retention")
#: tables read by ``threadkit.config``, not here
_ELSEWHERE = ("server", "maintenance", "retention")


class ConfigError(ValueError):
    """The configuration file is unreadable or names something wrong."""


class _Table:
    """Typed reads of one TOML table, each mistake named by its dotted path."""

    def __init__(self, data: dict[str, Any], where: str) -> None:
        self.data = dict(data)
        self.where = where

    def _take(self, key: str, kinds: tuple[type, ...], label: str, default: Any) -> Any:
        if key not in self.data:
            return default
        value = self.data.pop(key)
        if isinstance(value, bool) and bool not in kinds:
            raise ConfigError(f"{self.where}.{key} must be {label}")
        if not isinstance(value, kinds):
            raise ConfigError(f"{self.where}.{key} must be {label}")
        return value

    def string(self, key: str, default: str | None = None, *, required: bool = False) -> Any:
        value = self._take(key, (str,), "a string", default)
        if required and not value:
            raise ConfigError(f"{self.where}.{key} is required (a non-empty string)")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        return bool(self._take(key, (bool,), "true or false", default))

    def integer(self, key: str, default: int | None, low: int = 1) -> Any:
        value = self._take(key, (int,), "an integer", default)
        if value is not None and value < low:
            raise ConfigError(f"{self.where}.{key} must be at least {low}")
        return value

    def number(self, key: str, default: float | None) -> Any:
        value = self._take(key, (int, float), "a number", default)
        return None if value is None else float(value)

    def strings(self, key: str) -> list[str]:
        value = self._take(key, (list,), "a list of strings", [])
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self.where}.{key} must be a list of strings")
        return list(value)

    def table(self, key: str) -> dict[str, Any]:
        return dict(self._take(key, (dict,), "a table", {}))

    def done(self) -> None:
        if self.data:
            unknown = ", ".join(sorted(self.data))
            raise ConfigError(f"{self.where}: unknown setting(s): {unknown}")


def _echo(workflow_id: str, table: _Table, folder: Path) -> Workflow:
    return EchoWorkflow(workflow_id)


def _openai_compatible(workflow_id: str, table: _Table, folder: Path) -> Workflow:
    from .openai_compatible import OpenAICompatibleWorkflow

    base_url = table.string("base_url", required=True)
    model = table.string("model", required=True)
    key_env = table.string("api_key_env")
    api_key = None
    if key_env:
        api_key = os.environ.get(key_env)
        if not api_key:
            raise ConfigError(
                f"{table.where}.api_key_env names the environment variable {key_env!r}, "
                "which is not set"
            )
    workflow = OpenAICompatibleWorkflow(
        workflow_id,
        base_url=base_url,
        model=model,
        api_key=api_key,
        instructions=table.string("instructions"),
        temperature=table.number("temperature", None),
        max_tokens=table.integer("max_tokens", None),
        max_history_items=table.integer("max_history_items", 50),
        timeout=table.number("timeout", 60.0),
    )
    return workflow


def _python(workflow_id: str, table: _Table, folder: Path) -> Workflow:
    from .python import PythonWorkflow

    target = table.string("target", required=True)
    paths = [str((folder / p).resolve()) for p in table.strings("python_path") or ["."]]
    options = table.table("options")
    try:
        return PythonWorkflow(workflow_id, target=target, python_path=paths, options=options)
    except Exception as exc:
        raise ConfigError(f"{table.where}: {exc}") from exc


_FACTORIES: dict[str, Callable[[str, _Table, Path], Workflow]] = {
    "echo": _echo,
    "openai-compatible": _openai_compatible,
    "python": _python,
}


def parse(data: dict[str, Any], folder: Path) -> WorkflowRegistry:
    """The registry described by a parsed config file (``folder``: where the file is)."""
    unknown = sorted(set(data) - set(_TOP_LEVEL))
    if unknown:
        raise ConfigError(f"unknown top-level setting(s): {', '.join(unknown)}")
    server = data.get("server", {})
    if not isinstance(server, dict):
        raise ConfigError("[server] must be a table")
    server_table = _Table(server, "server")
    server_table.strings("cors_origins")
    server_table.string("attachments_dir")
    server_table.string("public_url")
    server_table.integer("max_body_bytes", None, low=1024)
    server_table.string("attachments_url")
    server_table._take("metrics", (str, int), '"on", "off" or a port number', None)
    server_table.boolean("access_log", True)
    server_table.string("log_format")
    server_table.string("log_level")
    server_table.number("shutdown_timeout", None)
    server_table.boolean("ui", True)
    server_table.string("ui_project")
    server_table.done()
    top = _Table({k: v for k, v in data.items() if k not in _ELSEWHERE}, "config")
    default = top.string("default_workflow")
    tables = top.table("workflows")
    top.done()
    workflows: dict[str, Workflow] = {}
    if "echo" not in tables:
        workflows["echo"] = EchoWorkflow("echo")
    for workflow_id, raw in tables.items():
        where = f"workflows.{workflow_id}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where} must be a table")
        table = _Table(raw, where)
        if not table.boolean("enabled", True):
            table.data.clear()
            continue
        kind = table.string("kind", "echo" if workflow_id == "echo" else None)
        if kind is None:
            raise ConfigError(f"{where}.kind is required: one of {', '.join(KINDS)}")
        if kind not in _FACTORIES:
            raise ConfigError(f"{where}.kind must be one of {', '.join(KINDS)}, not {kind!r}")
        workflows[workflow_id] = _FACTORIES[kind](workflow_id, table, folder)
        table.done()
    if default is not None and default not in workflows:
        raise ConfigError(f"default_workflow names {default!r}, which is not a workflow here")
    if default is None and "echo" in workflows:
        default = "echo"
    return WorkflowRegistry(workflows, default)


def load_registry(path: str | os.PathLike[str] | None) -> WorkflowRegistry:
    """The workflows of the config file at ``path``; without a file, the built-in echo."""
    if path is None:
        return WorkflowRegistry({"echo": EchoWorkflow("echo")}, "echo")
    file = Path(path)
    try:
        with file.open("rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file} is not valid TOML: {exc}") from exc
    try:
        return parse(data, file.resolve().parent)
    except ConfigError as exc:
        raise ConfigError(f"{file}: {exc}") from exc
