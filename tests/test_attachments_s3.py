"""Attachments in an S3-compatible bucket (moto on loopback): uploads straight from the
client through the presigned request, the checks of what arrived, previews through
presigned redirects, removal of the objects, and two threadkit processes sharing one
bucket and one database; also the storage as a library and its settings."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from chatkit.types import UserMessageItem

from tests.chatkit_helpers import Chat, done_items, error_of, texts
from tests.conftest import Kept, Server, serving, start_server
from tests.s3_helpers import (
    ACCESS_KEY,
    BUCKET,
    SECRET_KEY,
    S3Server,
    signature_valid,
    start_s3,
    stop_s3,
    upload_request,
)
from tests.test_attachments import create, png, uploader
from threadkit.config import Settings, object_store

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = start_s3(tmp_path_factory.mktemp("moto") / "moto.log")
    yield server
    stop_s3(server)


@contextmanager
def two_servers(
    url: str, backend: str, folder: Path, s3: S3Server
) -> Iterator[tuple[Server, Server]]:
    option = ("--attachments-url", f"s3://{BUCKET}/uploads/{backend}")
    with (
        serving(start_server(url, backend, folder, *option, env=s3.env)) as first,
        serving(start_server(url, backend, folder, *option, env=s3.env)) as second,
    ):
        yield first, second


@pytest.fixture(scope="session")
def s3_servers(
    database: tuple[str, str],
    s3: S3Server,
    kept: Kept,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Server, Server]:
    """Per backend: two threadkit processes on one database and one bucket prefix, as
    two hosts behind a load balancer would be."""
    backend, url = database
    return kept.get(
        ("s3_servers", backend),
        lambda: two_servers(url, backend, tmp_path_factory.mktemp("s3-servers"), s3),
    )


@pytest.fixture
def host_a(s3_servers: tuple[Server, Server]) -> Server:
    return s3_servers[0]


def put(descriptor: dict[str, Any], data: bytes, **headers: str) -> httpx.Response:
    """Upload as a browser would, after checking S3 would take the request."""
    request = upload_request(descriptor, data, **headers)
    assert signature_valid(request)
    with httpx.Client(timeout=30) as client:
        return client.send(request)


def send_anyway(descriptor: dict[str, Any], data: bytes, **headers: str) -> httpx.Response:
    """A request S3 refuses (its signature does not cover it); moto, which checks no
    signatures, stores it, and threadkit's own checks must then catch it."""
    request = upload_request(descriptor, data, **headers)
    assert not signature_valid(request)
    with httpx.Client(timeout=30) as client:
        return client.send(request)


def message_with(client: Chat, attachment_id: str) -> httpx.Response:
    return client.post(
        "threads.create",
        {
            "input": {
                "content": [{"type": "input_text", "text": "look"}],
                "attachments": [attachment_id],
                "inference_options": {},
            }
        },
    )


def test_direct_upload_end_to_end(host_a: Server, s3: S3Server, project: str) -> None:
    alice = uploader(host_a, project)
    image = png()
    attachment = create(alice, "dot.png", len(image), "image/png")
    descriptor = attachment["upload_descriptor"]
    assert descriptor["method"] == "PUT"
    assert descriptor["url"].startswith(f"{s3.endpoint}/{BUCKET}/uploads/")
    assert descriptor["headers"] == {"content-type": "image/png"}
    query = parse_qs(urlsplit(descriptor["url"]).query)
    assert query["X-Amz-SignedHeaders"] == ["content-length;content-type;host"]
    assert int(query["X-Amz-Expires"][0]) <= 600
    assert "metadata" not in attachment
    # The preview stays on threadkit, which checks access before it redirects.
    assert attachment["preview_url"].startswith(host_a.url + "/chatkit/attachments/")

    response = message_with(alice, attachment["id"])
    assert (response.status_code, error_of(response)["code"]) == (400, "attachment_not_uploaded")
    assert httpx.get(attachment["preview_url"]).status_code == 404

    assert put(descriptor, image).status_code == 200
    [key] = s3.objects_of(attachment["id"])
    assert key.startswith(f"uploads/{host_a.backend}/")
    assert s3.body(key) == image

    preview = httpx.get(attachment["preview_url"])
    assert preview.status_code == 307
    assert preview.headers["cache-control"] == "private, max-age=150"
    target = preview.headers["location"]
    assert target.startswith(f"{s3.endpoint}/{BUCKET}/{key}?")
    assert int(parse_qs(urlsplit(target).query)["X-Amz-Expires"][0]) == 300
    served = httpx.get(target)
    assert (served.status_code, served.content) == (200, image)
    assert served.headers["content-type"] == "image/png"
    assert served.headers["content-disposition"] == "inline"

    thread_id, events = alice.create_thread("look at this", [attachment["id"]])
    assert texts(events) == ["look at this"]
    [message] = done_items(events, UserMessageItem)
    [carried] = message.attachments
    assert (carried.id, carried.upload_descriptor) == (attachment["id"], None)

    # Deleting the thread (REST) removes the object.
    host_a.client(project).beta.chatkit.threads.delete(thread_id)
    assert s3.objects_of(attachment["id"]) == []
    assert httpx.get(attachment["preview_url"]).status_code == 404


def test_wrong_size_is_refused_and_removed(host_a: Server, s3: S3Server, project: str) -> None:
    alice = uploader(host_a, project)
    image = png()
    for declared in (len(image) - 1, len(image) + 1):
        attachment = create(alice, "x.png", declared, "image/png")
        sent = send_anyway(attachment["upload_descriptor"], image)
        assert sent.status_code == 200  # moto takes it; S3 would answer 403
        response = message_with(alice, attachment["id"])
        assert response.status_code == 400
        error = error_of(response)
        assert (error["code"], error["param"]) == ("size_mismatch", "params.input.attachments")
        assert f"has {len(image)} bytes, but {declared} were declared" in error["message"]
        assert s3.objects_of(attachment["id"]) == []

    # The descriptor still works for the declared bytes (a PNG with one byte more).
    assert put(attachment["upload_descriptor"], image + b"\x00").status_code == 200
    thread_id, _ = alice.create_thread("now", [attachment["id"]])
    assert thread_id.startswith("cthr_")


def test_wrong_type_is_refused_and_removed(host_a: Server, s3: S3Server, project: str) -> None:
    alice = uploader(host_a, project)
    image = png()

    # Bytes that are not a PNG, sent exactly as the descriptor says.
    html = b"<html><body>not an image</body></html>"
    attachment = create(alice, "x.png", len(html), "image/png")
    assert put(attachment["upload_descriptor"], html).status_code == 200
    assert s3.objects_of(attachment["id"])
    response = message_with(alice, attachment["id"])
    assert (response.status_code, error_of(response)["code"]) == (400, "mime_type_mismatch")
    assert s3.objects_of(attachment["id"]) == []

    # A PNG stored under another type than declared.
    attachment = create(alice, "y.png", len(image), "image/png")
    sent = send_anyway(attachment["upload_descriptor"], image, **{"content-type": "text/html"})
    assert sent.status_code == 200
    response = message_with(alice, attachment["id"])
    assert (response.status_code, error_of(response)["code"]) == (400, "mime_type_mismatch")
    assert s3.objects_of(attachment["id"]) == []

    # The preview checks too: a bad upload is no preview, and is removed.
    attachment = create(alice, "z.png", len(html), "image/png")
    assert put(attachment["upload_descriptor"], html).status_code == 200
    assert httpx.get(attachment["preview_url"]).status_code == 404
    assert s3.objects_of(attachment["id"]) == []


def test_preview_access_check(host_a: Server, s3: S3Server, project: str) -> None:
    alice = uploader(host_a, project)
    image = png()
    attachment = create(alice, "a.png", len(image), "image/png")
    assert put(attachment["upload_descriptor"], image).status_code == 200
    url = urlsplit(attachment["preview_url"])
    query = parse_qs(url.query)
    bare = f"{host_a.url}{url.path}?project={query['project'][0]}"

    assert httpx.get(bare).status_code == 404
    assert httpx.get(bare + "&token=wrong").status_code == 404
    bob = uploader(host_a, project, "bob")
    assert httpx.get(bare, headers={"Authorization": f"Bearer {bob.secret}"}).status_code == 404
    elsewhere = uploader(host_a, f"{project}_other", "alice")
    other_project = f"{host_a.url}{url.path}?project={project}_other&token={query['token'][0]}"
    assert httpx.get(other_project).status_code == 404
    headers = {"Authorization": f"Bearer {elsewhere.secret}"}
    assert httpx.get(other_project, headers=headers).status_code == 404

    owner = httpx.get(bare, headers={"Authorization": f"Bearer {alice.secret}"})
    assert owner.status_code == 307
    followed = httpx.get(owner.headers["location"])
    assert (followed.status_code, followed.content) == (200, image)


def test_svg_preview_is_never_shown_in_place(host_a: Server, s3: S3Server, project: str) -> None:
    alice = uploader(host_a, project)
    attachment = create(alice, "a.svg", len(SVG), "image/svg+xml")
    assert put(attachment["upload_descriptor"], SVG).status_code == 200
    preview = httpx.get(attachment["preview_url"])
    assert preview.status_code == 307
    served = httpx.get(preview.headers["location"])
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/svg+xml"
    assert served.headers["content-disposition"] == "attachment"


def test_protocol_deletes_remove_the_objects(host_a: Server, s3: S3Server, project: str) -> None:
    alice = uploader(host_a, project)
    data = b"hello, file"
    attachment = create(alice, "notes.txt", len(data), "text/plain")
    assert "preview_url" not in attachment
    assert put(attachment["upload_descriptor"], data).status_code == 200
    assert s3.objects_of(attachment["id"])

    bob = uploader(host_a, project, "bob")
    assert bob.post("attachments.delete", {"attachment_id": attachment["id"]}).status_code == 404
    assert s3.objects_of(attachment["id"])
    assert alice.call("attachments.delete", {"attachment_id": attachment["id"]}) == {}
    assert s3.objects_of(attachment["id"]) == []

    ids = []
    for name in ("one.txt", "two.txt"):
        attachment = create(alice, name, len(data), "text/plain")
        assert put(attachment["upload_descriptor"], data).status_code == 200
        ids.append(attachment["id"])
    thread_id, _ = alice.create_thread("with files", ids[:1])
    alice.say(thread_id, "and another", ids[1:])
    assert all(s3.objects_of(i) for i in ids)
    assert alice.call("threads.delete", {"thread_id": thread_id}) == {}
    assert [s3.objects_of(i) for i in ids] == [[], []]


def test_two_processes_share_one_bucket(
    s3_servers: tuple[Server, Server], s3: S3Server, project: str
) -> None:
    host_a, host_b = s3_servers
    assert host_a.url != host_b.url
    alice_a = uploader(host_a, project)
    alice_b = Chat(host_b.url, alice_a.secret)
    image = png(3, 3)
    attachment = create(alice_a, "shared.png", len(image), "image/png")
    assert put(attachment["upload_descriptor"], image).status_code == 200

    # Host B checks and uses what host A handed out.
    thread_id, events = alice_b.create_thread("from the other host", [attachment["id"]])
    [message] = done_items(events, UserMessageItem)
    assert [a.id for a in message.attachments] == [attachment["id"]]
    b_preview = attachment["preview_url"].replace(host_a.url, host_b.url)
    preview = httpx.get(b_preview)
    assert preview.status_code == 307
    assert httpx.get(preview.headers["location"]).content == image
    listed = host_a.client(project).beta.chatkit.threads.list_items(thread_id)
    assert any(item.type == "chatkit.user_message" for item in listed)

    # Deleted through B: gone for A as well.
    assert alice_b.call("threads.delete", {"thread_id": thread_id}) == {}
    assert s3.objects_of(attachment["id"]) == []
    assert httpx.get(attachment["preview_url"]).status_code == 404


# --- the storage as a library -----------------------------------------------------------


def test_storage_library(s3: S3Server) -> None:
    from threadkit.attachments.s3 import S3FileStorage

    storage = S3FileStorage(
        BUCKET,
        "/library/",
        endpoint_url=s3.endpoint,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        part_size=5 * 1024 * 1024,
    )
    big = os.urandom(11 * 1024 * 1024)

    async def write(attachment_id: str, data: bytes, *, commit: bool = True) -> None:
        writer = await storage.writer("proj", attachment_id)
        for start in range(0, len(data), 1024 * 1024):
            await writer.write(data[start : start + 1024 * 1024])
        await (writer.commit() if commit else writer.abort())

    async def read(attachment_id: str) -> bytes:
        return b"".join([chunk async for chunk in storage.read("proj", attachment_id)])

    async def work() -> None:
        await write("small", b"hello")
        await write("big", big)  # three parts
        await write("empty", b"")
        await write("dropped", big, commit=False)
        assert await read("small") == b"hello"
        assert await read("big") == big
        assert await storage.size("proj", "big") == len(big)
        assert await storage.size("proj", "missing") is None
        assert await storage.size("other project", "small") is None
        assert await storage.head("proj", "big", 16) == big[:16]
        assert await storage.head("proj", "small", 16) == b"hello"
        assert await storage.head("proj", "empty", 16) == b""
        with pytest.raises(FileNotFoundError):
            await read("missing")
        await storage.delete("proj", ["small", "missing", "../../x"])
        assert await storage.size("proj", "small") is None
        await storage.close()
        assert await storage.size("proj", "big") == len(big)  # reopens after close()
        await storage.delete("proj", ["big", "empty"])
        await storage.close()

    asyncio.run(work())
    assert s3.keys("library/") == []
    assert s3.client().list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    with pytest.raises(ValueError):
        storage.key("proj", "../escape")


# --- settings -------------------------------------------------------------------------------


def test_settings(tmp_path: Path) -> None:
    env = {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
    found = object_store("s3://bucket/some/prefix/", env)
    assert (found.bucket, found.prefix, found.endpoint_url, found.region) == (
        "bucket",
        "some/prefix",
        None,
        "us-east-1",
    )
    found = object_store(
        "s3://bucket", {**env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_REGION": "eu-x"}
    )
    assert (found.prefix, found.endpoint_url, found.region) == ("", "http://127.0.0.1:9", "eu-x")
    for wrong in ("gs://bucket/x", "s3:///x", "/var/files", "s3://bucket/x?y=1"):
        with pytest.raises(ValueError, match="expected s3://bucket/prefix"):
            object_store(wrong, env)
    with pytest.raises(ValueError, match="AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"):
        object_store("s3://bucket", {})

    config = tmp_path / "threadkit.toml"
    config.write_text('[server]\nattachments_url = "s3://from-file/p"\n')
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "THREADKIT_"))}
    script = (
        "from threadkit.config import Settings; s = Settings.from_env().attachments_store; "
        "print(s.bucket, s.prefix, s.endpoint_url)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", script],
        env={**clean, **env, "THREADKIT_CONFIG": str(config), "AWS_ENDPOINT_URL": "http://h:1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout.split() == ["from-file", "p", "http://h:1"]
    assert Settings().attachments_store is None


def test_serve_refuses_a_bad_attachments_url(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "THREADKIT_"))}
    db = f"sqlite:///{tmp_path / 'threadkit.db'}"
    for url, reason in (
        ("ftp://bucket/x", "expected s3://bucket/prefix"),
        ("s3://bucket/x", "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "threadkit", "serve", "--db", db, "--attachments-url", url],
            env=clean,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode != 0
        assert reason in done.stderr
