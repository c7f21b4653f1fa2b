"""Attachments end to end: ``attachments.create`` -> upload to threadkit -> a message
that carries it -> preview -> deletion removes the bytes; and every refusal."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from chatkit.types import UserMessageItem

from tests.chatkit_helpers import FILES_DIRS, Chat, chat, done_items, error_of, texts
from tests.conftest import Server


def png(width: int = 2, height: int = 2) -> bytes:
    """A valid PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def files_dir(chatkit_server: Server) -> Path:
    """Where the configured server keeps attachment bytes."""
    return FILES_DIRS[chatkit_server.url]


def stored(files_dir: Path, attachment_id: str) -> list[Path]:
    return [p for p in files_dir.rglob(attachment_id) if p.is_file()]


def uploader(server: Server, project: str, user: str = "alice", **upload: Any) -> Chat:
    return chat(
        server,
        project,
        user,
        chatkit_configuration={"file_upload": {"enabled": True, **upload}},
    )


def create(client: Chat, name: str, size: int, mime_type: str) -> dict[str, Any]:
    return client.call("attachments.create", {"name": name, "size": size, "mime_type": mime_type})


def post_file(url: str, data: bytes, mime_type: str, name: str = "file.bin") -> httpx.Response:
    """The upload as ChatKit clients send it: multipart/form-data with a ``file`` part."""
    return httpx.post(url, files={"file": (name, data, mime_type)}, timeout=30)


def test_image_end_to_end(chatkit_server: Server, project: str, files_dir: Path) -> None:
    alice = uploader(chatkit_server, project)
    image = png()
    attachment = create(alice, "dot.png", len(image), "image/png")
    assert attachment["type"] == "image"
    assert attachment["id"].startswith("cfile_")
    assert "metadata" not in attachment
    descriptor = attachment["upload_descriptor"]
    assert descriptor["method"] == "POST"
    assert descriptor["url"].startswith(chatkit_server.url + "/chatkit/attachments/")
    assert attachment["preview_url"].startswith(chatkit_server.url + "/chatkit/attachments/")

    # Not uploaded yet: no preview, and it cannot go into a message.
    assert httpx.get(attachment["preview_url"]).status_code == 404
    response = alice.post(
        "threads.create",
        {
            "input": {
                "content": [{"type": "input_text", "text": "look"}],
                "attachments": [attachment["id"]],
                "inference_options": {},
            }
        },
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "attachment_not_uploaded"

    uploaded = post_file(descriptor["url"], image, "image/png", "dot.png")
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["id"] == attachment["id"]
    assert "upload_descriptor" not in uploaded.json()
    [path] = stored(files_dir, attachment["id"])
    assert path.read_bytes() == image

    preview = httpx.get(attachment["preview_url"])
    assert preview.status_code == 200
    assert preview.content == image
    assert preview.headers["content-type"] == "image/png"
    assert preview.headers["x-content-type-options"] == "nosniff"

    thread_id, events = alice.create_thread("look at this", [attachment["id"]])
    assert texts(events) == ["look at this"]
    [message] = done_items(events, UserMessageItem)
    assert [a.id for a in message.attachments] == [attachment["id"]]
    items = list(chatkit_server.client(project).beta.chatkit.threads.list_items(thread_id))
    user_item = next(i for i in items if i.type == "chatkit.user_message")
    [listed] = user_item.attachments
    assert (listed.id, listed.name, listed.mime_type) == (attachment["id"], "dot.png", "image/png")
    assert listed.preview_url == attachment["preview_url"]

    # Deleting the thread (REST) removes the bytes.
    chatkit_server.client(project).beta.chatkit.threads.delete(thread_id)
    assert stored(files_dir, attachment["id"]) == []
    assert httpx.get(attachment["preview_url"]).status_code == 404


def test_preview_access_check(chatkit_server: Server, project: str) -> None:
    alice = uploader(chatkit_server, project)
    image = png()
    attachment = create(alice, "a.png", len(image), "image/png")
    assert post_file(attachment["upload_descriptor"]["url"], image, "image/png").status_code == 200
    url = urlsplit(attachment["preview_url"])
    query = parse_qs(url.query)
    bare = f"{chatkit_server.url}{url.path}?project={query['project'][0]}"

    assert httpx.get(bare).status_code == 404
    assert httpx.get(bare + "&token=wrong").status_code == 404
    owner = httpx.get(bare, headers={"Authorization": f"Bearer {alice.secret}"})
    assert (owner.status_code, owner.content) == (200, image)
    bob = uploader(chatkit_server, project, "bob")
    assert httpx.get(bare, headers={"Authorization": f"Bearer {bob.secret}"}).status_code == 404
    # The preview URL of one project is no key to another.
    other = f"{chatkit_server.url}{url.path}?project=elsewhere&token={query['token'][0]}"
    assert httpx.get(other).status_code == 404


def test_protocol_delete_removes_the_bytes(
    chatkit_server: Server, project: str, files_dir: Path
) -> None:
    alice = uploader(chatkit_server, project)
    data = b"hello, file"
    attachment = create(alice, "notes.txt", len(data), "text/plain")
    assert attachment["type"] == "file"
    assert "preview_url" not in attachment
    # PUT with the raw bytes works too.
    put = httpx.put(
        attachment["upload_descriptor"]["url"], content=data, headers={"content-type": "text/plain"}
    )
    assert put.status_code == 200, put.text
    assert stored(files_dir, attachment["id"])

    bob = uploader(chatkit_server, project, "bob")
    assert bob.post("attachments.delete", {"attachment_id": attachment["id"]}).status_code == 404
    assert stored(files_dir, attachment["id"])
    assert alice.call("attachments.delete", {"attachment_id": attachment["id"]}) == {}
    assert stored(files_dir, attachment["id"]) == []

    # Thread deletion over the protocol removes them too.
    attachment = create(alice, "more.txt", len(data), "text/plain")
    assert post_file(attachment["upload_descriptor"]["url"], data, "text/plain").status_code == 200
    thread_id, _ = alice.create_thread("with a file", [attachment["id"]])
    assert alice.call("threads.delete", {"thread_id": thread_id}) == {}
    assert stored(files_dir, attachment["id"]) == []


def test_session_upload_settings(chatkit_server: Server, project: str) -> None:
    closed = chat(chatkit_server, project, "alice")  # uploads default to disabled
    response = closed.post(
        "attachments.create", {"name": "a.txt", "size": 1, "mime_type": "text/plain"}
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "file_uploads_disabled"

    limited = uploader(chatkit_server, project, max_file_size=1, max_files=2)
    response = limited.post(
        "attachments.create",
        {"name": "big.bin", "size": 1024 * 1024 + 1, "mime_type": "text/plain"},
    )
    assert response.status_code == 400
    assert (error_of(response)["param"], error_of(response)["code"]) == (
        "params.size",
        "file_too_large",
    )
    response = limited.post(
        "attachments.create", {"name": "a", "size": 1, "mime_type": "not a type"}
    )
    assert error_of(response)["param"] == "params.mime_type"
    create(limited, "one.txt", 1, "text/plain")
    create(limited, "two.txt", 1024 * 1024, "text/plain")
    response = limited.post(
        "attachments.create", {"name": "three.txt", "size": 1, "mime_type": "text/plain"}
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "too_many_files"


def test_uploads_must_match_what_was_declared(
    chatkit_server: Server, project: str, files_dir: Path
) -> None:
    alice = uploader(chatkit_server, project)
    image = png()

    def fresh(size: int = len(image), mime: str = "image/png") -> dict[str, Any]:
        return create(alice, "x.png", size, mime)

    too_big = fresh(size=len(image) - 1)
    response = post_file(too_big["upload_descriptor"]["url"], image, "image/png")
    assert response.status_code == 413
    assert stored(files_dir, too_big["id"]) == []

    too_small = fresh(size=len(image) + 1)
    response = post_file(too_small["upload_descriptor"]["url"], image, "image/png")
    assert (response.status_code, error_of(response)["code"]) == (400, "size_mismatch")
    assert stored(files_dir, too_small["id"]) == []

    wrong_type = fresh()
    response = post_file(wrong_type["upload_descriptor"]["url"], image, "text/html")
    assert (response.status_code, error_of(response)["code"]) == (400, "mime_type_mismatch")

    not_png = fresh(size=10)
    response = post_file(not_png["upload_descriptor"]["url"], b"<html>..!>", "image/png")
    assert (response.status_code, error_of(response)["code"]) == (400, "mime_type_mismatch")
    assert stored(files_dir, not_png["id"]) == []

    good = fresh()
    url = good["upload_descriptor"]["url"]
    assert post_file(url, image, "application/octet-stream").status_code == 200
    assert post_file(url, image, "image/png").status_code == 409
    wrong_token = url.split("token=")[0] + "token=nope"
    assert post_file(wrong_token, image, "image/png").status_code == 404

    response = httpx.post(url.split("?")[0] + "?token=x", content=b"")
    assert response.status_code == 404


def test_messages_only_carry_the_users_own_attachments(
    chatkit_server: Server, project: str
) -> None:
    alice = uploader(chatkit_server, project)
    data = b"secret"
    attachment = create(alice, "s.txt", len(data), "text/plain")
    assert post_file(attachment["upload_descriptor"]["url"], data, "text/plain").status_code == 200
    bob = uploader(chatkit_server, project, "bob")
    response = bob.post(
        "threads.create",
        {
            "input": {
                "content": [{"type": "input_text", "text": "steal"}],
                "attachments": [attachment["id"]],
                "inference_options": {},
            }
        },
    )
    assert response.status_code == 404
    assert bob.call("threads.list", {})["data"] == []
