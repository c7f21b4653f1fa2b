"""The ``threadkit`` command line: serve, migrate, keys, import, export, sync."""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click
from rich.console import Console
from rich.table import Table

from threadkit import __version__
from threadkit.cli import maintenance
from threadkit.cli.options import db_option, err, project_option, with_store
from threadkit.cli.progress import ByteProgress, SyncProgress
from threadkit.config import Settings, database_url
from threadkit.services.feedback import export_feedback
from threadkit.services.keys import KeyService
from threadkit.services.search_index import SearchIndexer
from threadkit.services.transfer import Importer, ImportFailed, export_lines
from threadkit.services.ui_login import UILogin, is_login_project
from threadkit.stores import ThreadStore
from threadkit.stores.records import KeyRow

if TYPE_CHECKING:
    from threadkit.services.sync import SyncStats


@click.group()
@click.version_option(__version__, prog_name="threadkit")
def main() -> None:
    """threadkit: a self-hosted ChatKit backend."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@db_option
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--no-beta-header",
    is_flag=True,
    help="Accept REST calls without 'OpenAI-Beta: chatkit_beta=v1'.",
)
@click.option("--log-level", default="info", show_default=True)
@click.option(
    "--server",
    "engine",
    type=click.Choice(["granian", "uvicorn"]),
    default="granian",
    show_default=True,
    envvar="THREADKIT_SERVER",
    help="HTTP server to run the app on ($THREADKIT_SERVER).",
)
@click.option(
    "--config",
    "config",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="TOML file naming the workflows (default: $THREADKIT_CONFIG; else echo only).",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="Browser origin allowed to call the server (repeatable; $THREADKIT_CORS_ORIGINS).",
)
@click.option(
    "--attachments-dir",
    default=None,
    metavar="DIR",
    help="Where attachment bytes are kept (default: beside the SQLite file, else "
    "./threadkit-files).",
)
@click.option(
    "--attachments-url",
    default=None,
    metavar="URL",
    help="Keep attachment bytes in an S3-compatible bucket, s3://BUCKET/PREFIX "
    "(endpoint and credentials: the AWS_* variables; instead of --attachments-dir).",
)
@click.option(
    "--public-url",
    default=None,
    metavar="URL",
    help="The server's public URL, for upload and preview links (default: from each request).",
)
@click.option(
    "--max-body-bytes",
    default=None,
    type=click.IntRange(1024),
    help="Largest POST /chatkit body (default: 1 MiB).",
)
@click.option(
    "--metrics",
    default=None,
    metavar="on|off|PORT",
    help="GET /metrics on the server's port (on, the default), nowhere (off), or on a "
    "port of its own ($THREADKIT_METRICS).",
)
@click.option(
    "--access-log/--no-access-log",
    default=None,
    help="One log line per request (the default; $THREADKIT_ACCESS_LOG=0 turns it off).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=None,
    help="Logs on stderr as text (the default) or JSON lines ($THREADKIT_LOG_FORMAT).",
)
@click.option(
    "--shutdown-timeout",
    type=click.FloatRange(0),
    default=None,
    help="Seconds in-flight requests and streams get to finish after SIGTERM/SIGINT "
    "(default: 30; $THREADKIT_SHUTDOWN_TIMEOUT).",
)
@click.option(
    "--no-ui",
    is_flag=True,
    default=False,
    help="Turn off the chat page at / and the UI's files under /ui/ ($THREADKIT_UI=0).",
)
def serve(
    host: str,
    port: int,
    db: str | None,
    workers: int,
    no_beta_header: bool,
    log_level: str,
    engine: Literal["granian", "uvicorn"],
    config: str | None,
    cors_origins: tuple[str, ...],
    attachments_dir: str | None,
    attachments_url: str | None,
    public_url: str | None,
    max_body_bytes: int | None,
    metrics: str | None,
    access_log: bool | None,
    log_format: str | None,
    shutdown_timeout: float | None,
    no_ui: bool,
) -> None:
    """Run the HTTP server (the schema is created or upgraded first)."""
    from threadkit import multiprocess, server
    from threadkit.workflows.config import ConfigError, load_registry

    url = database_url(db)
    os.environ["THREADKIT_DATABASE_URL"] = url
    if no_beta_header:
        os.environ["THREADKIT_REQUIRE_BETA_HEADER"] = "0"
    # Passed on through the environment: each worker builds its app from it.
    if config:
        os.environ["THREADKIT_CONFIG"] = str(Path(config).resolve())
    if cors_origins:
        os.environ["THREADKIT_CORS_ORIGINS"] = ",".join(cors_origins)
    if attachments_dir:
        os.environ["THREADKIT_ATTACHMENTS_DIR"] = str(Path(attachments_dir).resolve())
    if attachments_url:
        os.environ["THREADKIT_ATTACHMENTS_URL"] = attachments_url
    if public_url:
        os.environ["THREADKIT_PUBLIC_URL"] = public_url
    if max_body_bytes:
        os.environ["THREADKIT_MAX_BODY_BYTES"] = str(max_body_bytes)
    if metrics is not None:
        os.environ["THREADKIT_METRICS"] = metrics
    if access_log is not None:
        os.environ["THREADKIT_ACCESS_LOG"] = "1" if access_log else "0"
    if log_format is not None:
        os.environ["THREADKIT_LOG_FORMAT"] = log_format
    if shutdown_timeout is not None:
        os.environ["THREADKIT_SHUTDOWN_TIMEOUT"] = str(shutdown_timeout)
    if no_ui:
        os.environ["THREADKIT_UI"] = "0"
    os.environ["THREADKIT_LOG_LEVEL"] = log_level
    try:
        settings = Settings.from_env()
        workflows = load_registry(settings.config_path)
    except (ConfigError, ValueError, OSError) as exc:
        raise click.ClickException(f"configuration: {exc}") from None
    # The page's one-time login token only where no one else can reach the URL; older
    # unused tokens are retired first, so only the last one printed works.
    with_token = settings.ui and is_loopback(host)
    keys, token = with_store(url, lambda store: _keys_and_token(store, settings, with_token))
    say: Callable[[str], None] = lambda markup: err.print(markup, soft_wrap=True)  # noqa: E731
    if settings.log_format == "json":
        import logging

        from rich.text import Text

        from threadkit.logs import configure

        configure("json", log_level)
        log = logging.getLogger("threadkit.serve")
        say = lambda markup: log.info(Text.from_markup(markup).plain)  # noqa: E731
    say(f"threadkit {__version__} on [bold]http://{host}:{port}[/] — database {url}")
    say(f"workflows: {', '.join(workflows) or 'none'}")
    if settings.ui:
        page = f"http://{_url_host(host)}:{port}/"
        if token:
            say(f"chat in the browser: {page}?token={token}")
        else:
            say(f"chat in the browser: {page} (sign in with a project API key)")
    if not any(k.revoked_at is None for k in keys):
        say(
            "No API key yet. In another terminal run [bold]threadkit keys create"
            + (f" --db {url}" if db else "")
            + "[/] and use the last line it prints as the Bearer token."
        )
    folder = None
    made_here = not os.environ.get(multiprocess.MULTIPROC_VARIABLE)
    if settings.metrics_recorded:
        # Before any worker starts: prometheus-client picks its storage on import.
        folder = multiprocess.prepare_multiprocess_dir()
        if isinstance(settings.metrics, int):
            from threadkit.api.metrics import serve_on_port

            serve_on_port(host, settings.metrics)
            say(f"metrics on http://{host}:{settings.metrics}/metrics")
    try:
        server.run(
            engine,
            host,
            port,
            workers,
            log_level,
            settings.log_format,
            settings.shutdown_timeout,
        )
    finally:
        if folder is not None:
            multiprocess.remove_multiprocess_dir(folder, made_here)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (what ``--host`` names) is a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


async def _keys_and_token(
    store: ThreadStore, settings: Settings, with_token: bool
) -> tuple[list[KeyRow], str | None]:
    """The project API keys (login tokens left out) and, if asked, a new login token."""
    keys = [k for k in await store.list_keys() if not is_login_project(k.project)]
    if not settings.ui:
        return keys, None
    logins = UILogin(store, settings.ui_project)
    await logins.retire_unused()
    return keys, (await logins.issue() if with_token else None)


@main.command()
@db_option
def migrate(db: str | None) -> None:
    """Create or upgrade the database schema, then exit."""

    async def work(store: ThreadStore) -> tuple[ThreadStore, int]:
        return store, await store.schema_version()

    store, version = with_store(db, work)
    if store.migrations_applied:
        click.echo(f"{store.backend}: applied {', '.join(store.migrations_applied)}")
    click.echo(f"{store.backend} schema is up to date (version {version})")


@main.group()
def keys() -> None:
    """Manage project API keys."""


@keys.command("create")
@project_option
@db_option
def keys_create(project: str, db: str | None) -> None:
    """Create an API key; the secret is the last line of output (it is shown only once)."""
    created = with_store(db, lambda store: KeyService(store).create(project))
    click.echo(f"created key {created.row.id} for project '{project}'")
    click.echo(created.secret)


@keys.command("list")
@click.option("--project", default=None, help="Only this project's keys.")
@db_option
def keys_list(project: str | None, db: str | None) -> None:
    """List API keys (ids and masked hints, never secrets)."""
    rows = with_store(db, lambda store: KeyService(store).list(project))
    if project is None:  # the chat page's login tokens are not keys
        rows = [r for r in rows if not is_login_project(r.project)]
    header = ("id", "project", "key", "created", "revoked")
    lines = [(r.id, r.project, r.hint, _when(r.created_at), _when(r.revoked_at)) for r in rows]
    if not sys.stdout.isatty():  # tab-separated for scripts
        for line in (header, *lines):
            click.echo("\t".join(line))
        return
    table = Table(*header)
    for line in lines:
        table.add_row(*line)
    Console().print(table)


@keys.command("revoke")
@click.argument("key_id")
@db_option
def keys_revoke(key_id: str, db: str | None) -> None:
    """Revoke a key: requests with it fail from now on."""
    with_store(db, lambda store: KeyService(store).revoke(key_id))
    click.echo(f"revoked {key_id}")


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@project_option
@click.option(
    "--index-now",
    is_flag=True,
    help="Index the imported threads for search before exiting (default: the servers "
    "on the database index them in the background).",
)
@db_option
def import_(file: Path, project: str, index_now: bool, db: str | None) -> None:
    """Import threads and items from a JSON Lines FILE in the REST shapes (all or nothing)."""
    with ByteProgress(err, "importing", file.stat().st_size) as advance, file.open("rb") as stream:
        try:
            result = with_store(
                db,
                lambda store: Importer(store, project).run_stream(stream, advance),
            )
        except ImportFailed as exc:
            raise click.ClickException(f"{file}: {exc}; nothing was imported") from None
    click.echo(f"imported {result.threads} threads and {result.items} items into '{project}'")
    if index_now:
        with_store(db, lambda store: SearchIndexer(store).catch_up())
        click.echo("indexed them for search")
    else:
        click.echo("search finds them once a server on this database has indexed them")


@main.command("index-search")
@db_option
def index_search(db: str | None) -> None:
    """Index for search what bulk imports left (every server does it in the background)."""
    rows = with_store(db, lambda store: SearchIndexer(store).catch_up())
    click.echo(f"indexed what bulk imports left for search ({rows} rows at most)")


@main.command()
@project_option
@click.option("--user", default=None, help="Only this user's threads.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Default: stdout.")
@db_option
def export(project: str, user: str | None, out: Path | None, db: str | None) -> None:
    """Export threads and items as JSON Lines in the REST shapes."""
    _write_export(db, out, "lines", lambda store: export_lines(store, project, user))


@main.command()
@click.option(
    "--from",
    "source_url",
    required=True,
    metavar="URL",
    help="Base URL of the ChatKit API to copy from, as the SDK's base_url: "
    "https://api.openai.com/v1, or http://HOST:PORT/v1 of another threadkit.",
)
@click.option(
    "--api-key",
    required=True,
    metavar="KEY",
    envvar="THREADKIT_SYNC_API_KEY",
    help="API key at the source ($THREADKIT_SYNC_API_KEY).",
)
@project_option
@click.option("--user", default=None, help="Only this user's threads.")
@click.option(
    "--max-retries",
    default=6,
    show_default=True,
    type=click.IntRange(0, 100),
    help="Retries of a request answered 429 or 5xx, or not answered (honouring retry-after).",
)
@db_option
def sync(
    source_url: str,
    api_key: str,
    project: str,
    user: str | None,
    max_retries: int,
    db: str | None,
) -> None:
    """Copy the threads and items of another ChatKit API, then only what is new or changed."""
    import openai  # here, not at the top: other commands start without it

    from threadkit.services.sync import Source, Syncer, SyncFailed

    base_url = _api_base_url(source_url)

    async def work(store: ThreadStore) -> SyncStats:
        async with openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, max_retries=max_retries, timeout=60
        ) as client:
            syncer = Syncer(store, project, Source(client, user), progress=bar.update)
            try:
                return await syncer.run()
            except SyncFailed as exc:
                stats = syncer.stats
                if not (stats.threads_new or stats.threads_updated or stats.items_copied):
                    raise click.ClickException(f"sync stopped: {exc}\nnothing was copied") from None
                raise click.ClickException(
                    f"sync stopped: {exc}\ncopied before that: {_sync_summary(stats)}; all of"
                    " it is stored consistently, and the same command goes on from there"
                ) from None

    with SyncProgress(err) as bar:
        stats = with_store(db, work)
    resumed = " (resumed an unfinished run)" if stats.resumed else ""
    click.echo(f"synced '{project}' from {base_url}{resumed}: {_sync_summary(stats)}")


def _api_base_url(url: str) -> str:
    """``url`` as the SDK's base URL: a bare host gets the API's path, ``/v1``."""
    scheme, _, rest = url.partition("://")
    if scheme not in ("http", "https") or not rest.strip("/"):
        raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint="--from")
    return url.rstrip("/") + ("/v1" if "/" not in rest.strip("/") else "")


def _sync_summary(stats: SyncStats) -> str:
    gone = f", {stats.threads_gone} gone" if stats.threads_gone else ""
    return (
        f"{stats.threads_new} threads new, {stats.threads_updated} updated,"
        f" {stats.threads_unchanged} unchanged{gone}; {stats.items_copied} items copied"
    )


@main.group()
def feedback() -> None:
    """Feedback users gave on thread items (items.feedback)."""


@feedback.command("export")
@project_option
@click.option("--user", default=None, help="Only this user's feedback.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Default: stdout.")
@db_option
def feedback_export(project: str, user: str | None, out: Path | None, db: str | None) -> None:
    """Export feedback as JSON Lines: one chatkit.feedback object per line, oldest first."""
    _write_export(db, out, "feedback lines", lambda store: export_feedback(store, project, user))


def _write_export(
    db: str | None,
    out: Path | None,
    what: str,
    lines: Callable[[ThreadStore], AsyncIterator[bytes]],
) -> None:
    """Write an export's lines to ``out`` (default: stdout), with progress on a terminal."""
    stream: Any = out.open("wb") if out else sys.stdout.buffer

    async def work(store: ThreadStore) -> int:
        count = 0
        with ByteProgress(err, "exporting", None) as advance:
            async for line in lines(store):
                stream.write(line)
                count += 1
                advance(1)
        return count

    try:
        count = with_store(db, work)
    finally:
        if out:
            stream.close()
        else:
            stream.flush()
    if out:
        err.print(f"exported {count} {what} to {out}")


def _when(ts: int | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M") if ts else ""


# Maintenance commands live in their own module.
main.add_command(maintenance.prune)
main.add_command(maintenance.backup)
