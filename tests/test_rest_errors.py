"""Auth, the beta header, bad parameters and unknown routes: OpenAI's error envelope."""

from __future__ import annotations

import re
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import Server, start_server, stop_server
from tests.helpers import thread


def assert_envelope(response: httpx.Response, status: int, **expected: Any) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-request-id"].startswith("req_")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    for key, value in expected.items():
        assert error[key] == value, (key, error)
    return error


def test_missing_key_is_401(server: Server) -> None:
    with server.http(beta=True) as http:
        error = assert_envelope(http.get("/v1/chatkit/threads"), 401, code=None)
    assert error["message"].startswith("You didn't provide an API key.")


def test_unknown_and_revoked_keys_are_401_with_masked_key(server: Server, project: str) -> None:
    bogus = "tk-" + "x" * 40 + "WXYZ"
    client = openai.OpenAI(api_key=bogus, base_url=server.base_url, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as exc:
        client.beta.chatkit.threads.list()
    assert exc.value.status_code == 401
    assert exc.value.code == "invalid_api_key"
    assert exc.value.request_id and exc.value.request_id.startswith("req_")
    message = exc.value.body["message"]  # type: ignore[index]
    assert message.startswith("Incorrect API key provided: ")
    assert "WXYZ" in message and bogus not in message and "x" * 10 not in message

    # a revoked key stops working at once
    from tests.conftest import with_store
    from threadkit.services.keys import KeyService

    created = with_store(server.db, lambda s: KeyService(s).create(project))
    ok = openai.OpenAI(api_key=created.secret, base_url=server.base_url, max_retries=0)
    assert list(ok.beta.chatkit.threads.list()) == []
    with_store(server.db, lambda s: KeyService(s).revoke(created.row.id))
    with pytest.raises(openai.AuthenticationError):
        ok.beta.chatkit.threads.list()


def test_missing_beta_header_is_400_naming_it(server: Server, project: str) -> None:
    with server.http(project, beta=False) as http:
        assert_envelope(
            http.get("/v1/chatkit/threads"), 400, type="invalid_request_error", param="OpenAI-Beta"
        )
    with server.http(project, beta=False) as http:
        r = http.get(
            "/v1/chatkit/threads", headers={"OpenAI-Beta": "assistants=v2, chatkit_beta=v1"}
        )
    assert r.status_code == 200


def test_authorization_scheme_is_bearer_in_any_case(server: Server, project: str) -> None:
    key = server.key(project)
    with server.http(beta=True) as http:
        for header in (f"bearer {key}", f"BEARER {key}", f"Bearer   {key}"):
            r = http.get("/v1/chatkit/threads", headers={"Authorization": header})
            assert r.status_code == 200, (header, r.text)
        for header in (f"Basic {key}", key, "Bearer", f"Bearer{key}"):
            r = http.get("/v1/chatkit/threads", headers={"Authorization": header})
            assert_envelope(r, 401)
        # the first of two Authorization headers counts, as with any header
        r = http.get(
            "/v1/chatkit/threads",
            headers=[("Authorization", f"Bearer {key}"), ("Authorization", "Bearer tk-wrong")],
        )
        assert r.status_code == 200
        r = http.get(
            "/v1/chatkit/threads",
            headers=[("Authorization", "Bearer tk-wrong"), ("Authorization", f"Bearer {key}")],
        )
        assert_envelope(r, 401, code="invalid_api_key")


def test_beta_header_can_be_relaxed(tmp_path: Any, database: tuple[str, str]) -> None:
    backend, url = database
    relaxed = start_server(url, backend, tmp_path, "--no-beta-header")
    try:
        with relaxed.http("relaxed", beta=False) as http:
            r = http.get("/v1/chatkit/threads")
        assert r.status_code == 200
        assert r.json()["object"] == "list"
    finally:
        stop_server(relaxed)


def test_missing_thread_is_404(server: Server, project: str) -> None:
    client = server.client(project)
    with pytest.raises(openai.NotFoundError) as exc:
        client.beta.chatkit.threads.retrieve("cthr_nope")
    assert exc.value.body == {  # type: ignore[comparison-overlap]
        "message": "No thread found with id 'cthr_nope'.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    assert exc.value.request_id and exc.value.request_id.startswith("req_")


@pytest.mark.parametrize(
    ("path", "params", "param", "code"),
    [
        ("/v1/chatkit/threads", {"limit": "101"}, "limit", "integer_above_max_value"),
        ("/v1/chatkit/threads", {"limit": "-1"}, "limit", "integer_below_min_value"),
        ("/v1/chatkit/threads", {"limit": "abc"}, "limit", "invalid_type"),
        ("/v1/chatkit/threads", {"limit": "1.5"}, "limit", "invalid_type"),
        ("/v1/chatkit/threads", {"limit": "9" * 5000}, "limit", "integer_above_max_value"),
        ("/v1/chatkit/threads", {"order": "up"}, "order", "invalid_value"),
        ("/v1/chatkit/threads", {"user": ""}, "user", "empty_string"),
        ("/v1/chatkit/threads", {"user": "u" * 513}, "user", "string_above_max_length"),
        ("/v1/chatkit/threads", {"after": "cthr_unknown"}, "after", "invalid_cursor"),
        ("/v1/chatkit/threads", {"before": "cthr_unknown"}, "before", "invalid_cursor"),
        ("/v1/chatkit/threads", {"after": ""}, "after", "empty_string"),
        ("/v1/chatkit/threads/THREAD/items", {"limit": "1000"}, "limit", "integer_above_max_value"),
        ("/v1/chatkit/threads/THREAD/items", {"order": "DESC"}, "order", "invalid_value"),
        ("/v1/chatkit/threads/THREAD/items", {"after": "cthi_unknown"}, "after", "invalid_cursor"),
        ("/v1/chatkit/threads/THREAD", {"include": "everything"}, "include", "invalid_value"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(
    server: Server, project: str, path: str, params: dict[str, str], param: str, code: str
) -> None:
    t = thread()
    server.seed(project, [t])
    with server.http(project) as http:
        r = http.get(path.replace("THREAD", t["id"]), params=params)
    assert_envelope(r, 400, type="invalid_request_error", param=param, code=code)


def test_sdk_raises_bad_request_with_request_id(server: Server, project: str) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        server.client(project).beta.chatkit.threads.list(limit=101)
    assert exc.value.status_code == 400
    assert exc.value.param == "limit"
    assert exc.value.request_id and exc.value.request_id.startswith("req_")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/nothing/here"),
        ("PATCH", "/v1/chatkit/threads"),
        ("PUT", "/v1/chatkit/threads/cthr_x"),
        ("GET", "/index.html"),
        ("PATCH", "/v1/chatkit/threads/cthr_x/items"),
    ],
)
def test_unknown_route_or_method_is_invalid_url(
    server: Server, project: str, method: str, path: str
) -> None:
    with server.http(project) as http:
        r = http.request(method, path)
    error = assert_envelope(r, 404, code=None, param=None)
    assert error["message"] == f"Invalid URL ({method} {path})"


def test_every_response_carries_a_request_id(server: Server, project: str) -> None:
    t = thread()
    server.seed(project, [t])
    with server.http(project) as http:
        ids = {
            http.get(f"/v1/chatkit/threads/{t['id']}").headers["x-request-id"],
            http.get("/v1/chatkit/threads").headers["x-request-id"],
            http.get("/v1/nowhere").headers["x-request-id"],
        }
    assert len(ids) == 3 and all(re.fullmatch(r"req_[0-9a-f]{32}", i) for i in ids)


def test_hostile_ids_never_cause_500(server: Server, project: str) -> None:
    with server.http(project) as http:
        for bad in ["%00", "' OR 1=1 --", "x" * 10_000, "🙂", "..%2F..%2Fetc", "%ZZ"]:
            r = http.get(f"/v1/chatkit/threads/{bad}")
            assert r.status_code in (404, 414), (bad, r.status_code)
            r = http.get(f"/v1/chatkit/threads/{bad}/items")
            assert r.status_code in (404, 414), (bad, r.status_code)
            r = http.get("/v1/chatkit/threads", params={"after": bad[:512]})
            assert r.status_code == 400, (bad, r.status_code)


@pytest.mark.parametrize(
    "target",
    [
        "/v1/chatkit/threads?limit=%ff",
        "/v1/chatkit/threads?user=%ff%fe",
        "/v1/chatkit/threads?after=%00",
        "/v1/chatkit/threads?limit=1&limit=2&order=asc&order=desc",
        "/v1/chatkit/threads?limit=%20%2B5%20",
        "/v1/chatkit/threads?limit=0x10",
        "/v1/chatkit/threads?limit=",
        "/v1/chatkit/threads?order=",
        "/v1/chatkit/threads/%ff",
        "/v1/chatkit/threads/%ff/items?before=%c3%28",
        "/v1/chatkit/threads/cthr_x?include=",
        "/v1/chatkit/threads/cthr_x?include=items&include=items",
    ],
)
def test_odd_requests_never_cause_500(server: Server, project: str, target: str) -> None:
    with server.http(project) as http:
        r = http.get(target)
    assert r.status_code in (200, 400, 404), (target, r.status_code, r.text)
    assert r.headers["x-request-id"].startswith("req_")
    if r.status_code != 200:
        assert set(r.json()["error"]) == {"message", "type", "param", "code"}
