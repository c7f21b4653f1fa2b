"""Server settings, from command-line options and ``THREADKIT_*`` environment variables.

The one place that reads the environment: the stores, the app and the workflows get
their settings from here (a library user passes them to the constructors instead).
"""

from __future__ import annotations

import importlib.util
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_DATABASE_URL = "sqlite:///./threadkit.db"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_SHUTDOWN_TIMEOUT = 30.0
LOG_FORMATS = ("text", "json")


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() not in ("0", "false", "no", "off", "")


def database_url(option: str | None = None) -> str:
    """``--db``, else ``THREADKIT_DATABASE_URL``, else a SQLite file in the working folder."""
    return option or os.environ.get("THREADKIT_DATABASE_URL") or DEFAULT_DATABASE_URL


def default_attachments_dir(url: str) -> str:
    """Beside the database file for SQLite, ``./threadkit-files`` otherwise."""
    if url.startswith("sqlite:///"):
        return str(Path(url.removeprefix("sqlite:///")).parent / "threadkit-files")
    return "./threadkit-files"


#: store constructor options and the variables that set them, per backend
_STORE_VARIABLES: dict[str, list[tuple[str, str, Callable[[str], Any]]]] = {
    "sqlite": [("cache_mib", "THREADKIT_SQLITE_CACHE_MIB", int)],
    "postgres": [
        ("pool_min", "THREADKIT_PG_POOL_MIN", int),
        ("pool_max", "THREADKIT_PG_POOL_MAX", int),
        ("statement_cache_size", "THREADKIT_PG_STATEMENT_CACHE_SIZE", int),
        ("connect_timeout", "THREADKIT_PG_CONNECT_TIMEOUT", float),
        ("acquire_timeout", "THREADKIT_PG_ACQUIRE_TIMEOUT", float),
        ("command_timeout", "THREADKIT_PG_COMMAND_TIMEOUT", float),
    ],
}


def store_options(url: str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The store's constructor options set in the environment, for the backend of ``url``:

    * SQLite: ``THREADKIT_SQLITE_CACHE_MIB`` (each reader's page cache, MiB);
    * PostgreSQL: ``THREADKIT_PG_POOL_MIN`` / ``THREADKIT_PG_POOL_MAX`` (pool size per
      process), ``THREADKIT_PG_STATEMENT_CACHE_SIZE`` (``0`` behind a transaction-mode
      pooler such as PgBouncer), ``THREADKIT_PG_CONNECT_TIMEOUT``,
      ``THREADKIT_PG_ACQUIRE_TIMEOUT``, ``THREADKIT_PG_COMMAND_TIMEOUT`` (seconds).
    """
    env = os.environ if environ is None else environ
    backend = "postgres" if url.startswith(("postgresql://", "postgres://")) else "sqlite"
    options: dict[str, Any] = {}
    for option, variable, parse in _STORE_VARIABLES[backend]:
        raw = env.get(variable, "").strip()
        if not raw:
            continue
        try:
            options[option] = parse(raw)
        except ValueError:
            raise ValueError(f"{variable} must be a number, got {raw!r}") from None
    return options


@dataclass(frozen=True, slots=True)
class ObjectStore:
    """Where an ``s3://bucket/prefix`` attachments URL points, and the credentials,
    from the standard AWS variables."""

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str = ""
    secret_access_key: str = ""
    session_token: str | None = None


def object_store(url: str, environ: Mapping[str, str] | None = None) -> ObjectStore:
    """The object store of ``url`` (``s3://bucket[/prefix]``) with ``AWS_ENDPOINT_URL_S3``
    or ``AWS_ENDPOINT_URL`` (default: AWS itself), ``AWS_REGION`` or
    ``AWS_DEFAULT_REGION`` (default ``us-east-1``), ``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY`` and ``AWS_SESSION_TOKEN``. Credentials must be given:
    nothing is looked up anywhere else."""
    env = os.environ if environ is None else environ
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"attachments URL: expected s3://bucket/prefix, got {url!r}")
    if importlib.util.find_spec("aiobotocore") is None:
        raise ValueError("s3:// attachments need the s3 extra: pip install 'threadkit[s3]'")
    access_key = env.get("AWS_ACCESS_KEY_ID", "").strip()
    secret_key = env.get("AWS_SECRET_ACCESS_KEY", "").strip()
    if not access_key or not secret_key:
        raise ValueError(f"{url}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the bucket")
    endpoint = (env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or "").strip()
    region = (env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "").strip()
    return ObjectStore(
        bucket=parts.netloc,
        prefix=parts.path.strip("/"),
        endpoint_url=endpoint or None,
        region=region or "us-east-1",
        access_key_id=access_key,
        secret_access_key=secret_key,
        session_token=env.get("AWS_SESSION_TOKEN") or None,
    )


def server_section(config_path: str | None) -> dict[str, Any]:
    """The ``[server]`` table of the TOML config file (empty without a file)."""
    if not config_path:
        return {}
    with open(config_path, "rb") as f:
        section = tomllib.load(f).get("server", {})
    if not isinstance(section, dict):
        raise ValueError(f"{config_path}: [server] must be a table")
    return section


def metrics_setting(raw: object) -> str | int:
    """``on``, ``off`` or a port number (``/metrics`` on a port of its own)."""
    value = str(raw).strip().lower()
    if value in ("on", "off"):
        return value
    if value in ("1", "true", "yes"):
        return "on"
    if value in ("0", "false", "no", ""):
        return "off"
    if value.isdigit() and 0 < int(value) < 65536:
        return int(value)
    raise ValueError(f"metrics: expected on, off or a port number, got {raw!r}")


def log_format_setting(raw: object) -> str:
    value = str(raw).strip().lower()
    if value not in LOG_FORMATS:
        raise ValueError(f"log format: expected text or json, got {raw!r}")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    #: the hosted API refuses REST calls without ``OpenAI-Beta: chatkit_beta=v1``
    require_beta_header: bool = True
    #: the TOML file naming the workflows (``--config``); ``None``: the built-in echo only
    config_path: str | None = None
    #: browser origins allowed to call the server (CORS); empty: no CORS headers
    cors_origins: tuple[str, ...] = ()
    #: where attachment bytes are kept; ``None``: see ``default_attachments_dir``
    attachments_dir: str | None = None
    #: an object store for attachment bytes instead of a folder (see ``object_store``)
    attachments_store: ObjectStore | None = None
    #: the server's public URL for upload and preview links; ``None``: from the request
    public_url: str | None = None
    #: largest ``POST /chatkit`` body accepted
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    #: the store's constructor options (see ``store_options``)
    store_options: Mapping[str, Any] = field(default_factory=dict)
    #: background pruning and retention (see ``maintenance_settings``)
    maintenance: MaintenanceSettings = field(default_factory=lambda: MaintenanceSettings())
    #: ``GET /metrics`` on the server's port (``"on"``), nowhere (``"off"``) or on a port
    #: of its own (a number, served by the ``serve`` process for all workers)
    metrics: str | int = "on"
    #: ``"text"`` or ``"json"`` (one JSON object a line)
    log_format: str = "text"
    log_level: str = "info"
    #: one line per request on stderr, whatever the log level (``THREADKIT_ACCESS_LOG=0``
    #: turns them off)
    access_log: bool = True
    #: seconds in-flight requests and streams get to finish after SIGTERM/SIGINT
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT
    #: ``threads.get_by_id``, ``items.list`` and ``threads.list`` answered from the stored
    #: JSON (``protocol.reads``); ``THREADKIT_PROTOCOL_FAST_READS=0`` turns it off
    protocol_fast_reads: bool = True

    @property
    def metrics_on_app(self) -> bool:
        """Whether the app answers ``GET /metrics`` itself."""
        return self.metrics == "on"

    @property
    def metrics_recorded(self) -> bool:
        return self.metrics != "off"

    @property
    def files_dir(self) -> str:
        return self.attachments_dir or default_attachments_dir(self.database_url)

    @classmethod
    def from_env(cls, db: str | None = None) -> Settings:
        """Settings from ``THREADKIT_*`` variables; the config file's ``[server]`` table
        fills what the variables leave unset."""
        config_path = os.environ.get("THREADKIT_CONFIG") or None
        server = server_section(config_path)
        origins = os.environ.get("THREADKIT_CORS_ORIGINS")
        cors = (
            [o.strip() for o in origins.split(",") if o.strip()]
            if origins is not None
            else server.get("cors_origins", [])
        )
        max_body = os.environ.get("THREADKIT_MAX_BODY_BYTES") or server.get(
            "max_body_bytes", DEFAULT_MAX_BODY_BYTES
        )
        public_url = os.environ.get("THREADKIT_PUBLIC_URL") or server.get("public_url")
        attachments_dir = os.environ.get("THREADKIT_ATTACHMENTS_DIR")
        if not attachments_dir and server.get("attachments_dir") and config_path:
            # In the file, a relative folder is relative to the file.
            attachments_dir = str(Path(config_path).parent / str(server["attachments_dir"]))
        attachments_url = os.environ.get("THREADKIT_ATTACHMENTS_URL") or server.get(
            "attachments_url"
        )
        url = database_url(db)
        metrics = os.environ.get("THREADKIT_METRICS") or server.get("metrics", "on")
        log_format = os.environ.get("THREADKIT_LOG_FORMAT") or server.get("log_format", "text")
        shutdown_timeout = os.environ.get("THREADKIT_SHUTDOWN_TIMEOUT") or server.get(
            "shutdown_timeout", DEFAULT_SHUTDOWN_TIMEOUT
        )
        return cls(
            database_url=url,
            store_options=store_options(url),
            require_beta_header=_flag("THREADKIT_REQUIRE_BETA_HEADER", True),
            config_path=config_path,
            cors_origins=tuple(str(o) for o in cors),
            attachments_dir=attachments_dir,
            attachments_store=object_store(str(attachments_url)) if attachments_url else None,
            public_url=str(public_url).rstrip("/") if public_url else None,
            max_body_bytes=int(max_body),
            maintenance=maintenance_settings(config_file(config_path)),
            metrics=metrics_setting(metrics),
            log_format=log_format_setting(log_format),
            access_log=_flag("THREADKIT_ACCESS_LOG", bool(server.get("access_log", True))),
            log_level=os.environ.get("THREADKIT_LOG_LEVEL") or str(server.get("log_level", "info")),
            shutdown_timeout=float(shutdown_timeout),
            protocol_fast_reads=_flag("THREADKIT_PROTOCOL_FAST_READS", True),
        )


# --- maintenance and retention (the config file's [maintenance] and [retention]) -------------

DEFAULT_MAINTENANCE_INTERVAL = 300


@dataclass(frozen=True, slots=True)
class MaintenanceSettings:
    """How often the server prunes, what it keeps, and for how long."""

    #: seconds between background runs (each delayed by up to half as much again, at
    #: random); ``0``: no background maintenance
    interval_seconds: int = DEFAULT_MAINTENANCE_INTERVAL
    #: sessions are kept this long after they expired or were cancelled
    session_grace_hours: int = 24
    #: uploads whose bytes never arrived are kept this long after they were created
    upload_grace_hours: int = 24
    #: rows examined (and at most deleted) per statement
    batch_size: int = 500
    #: threads inactive for longer are deleted; ``None``: kept forever
    retention_days: int | None = None
    #: per-project retention, overriding ``retention_days`` (``0``: kept forever)
    project_retention_days: Mapping[str, int] = field(default_factory=dict)

    def retention_for(self, project: str) -> int | None:
        days = self.project_retention_days.get(project, self.retention_days)
        return days or None


def _whole(table: dict[str, Any], key: str, where: str, default: int, low: int) -> int:
    value = table.pop(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{where}.{key} must be a whole number >= {low}")
    return value


def maintenance_settings(
    data: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> MaintenanceSettings:
    """``[maintenance]`` and ``[retention]`` of a parsed config file; the variable
    ``THREADKIT_MAINTENANCE_INTERVAL`` (seconds, ``0`` to turn it off) wins over the file."""
    env = os.environ if environ is None else environ
    tables = {}
    for name in ("maintenance", "retention"):
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise ValueError(f"[{name}] must be a table")
        tables[name] = dict(table)
    m, r = tables["maintenance"], tables["retention"]
    interval = _whole(m, "interval_seconds", "maintenance", DEFAULT_MAINTENANCE_INTERVAL, 0)
    raw = env.get("THREADKIT_MAINTENANCE_INTERVAL", "").strip()
    if raw:
        if not raw.isdigit():
            raise ValueError(f"THREADKIT_MAINTENANCE_INTERVAL must be seconds >= 0, got {raw!r}")
        interval = int(raw)
    settings = MaintenanceSettings(
        interval_seconds=interval,
        session_grace_hours=_whole(m, "session_grace_hours", "maintenance", 24, 0),
        upload_grace_hours=_whole(m, "upload_grace_hours", "maintenance", 24, 0),
        batch_size=_whole(m, "batch_size", "maintenance", 500, 1),
        retention_days=_whole(r, "default_days", "retention", 0, 0) or None,
        project_retention_days=_project_days(r.pop("projects", {})),
    )
    for name, left in (("maintenance", m), ("retention", r)):
        if left:
            raise ValueError(f"unknown setting(s) in [{name}]: {', '.join(sorted(left))}")
    return settings


def _project_days(table: Any) -> dict[str, int]:
    if not isinstance(table, dict):
        raise ValueError("[retention.projects] must be a table of project = days")
    days = dict(table)
    return {p: _whole(days, p, "retention.projects", 0, 0) for p in list(days)}


def config_file(config_path: str | None) -> dict[str, Any]:
    """The whole parsed config file (empty without one)."""
    if not config_path:
        return {}
    with open(config_path, "rb") as f:
        return tomllib.load(f)
