"""Every endpoint's shape over real HTTP, the loading phase, and request validation."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import pytest

from fakellm import FakeLlamaServer, canned_answers
from fakellm.dialect import B4748
from fakellm.requestlog import RequestRecord

StartServer = Callable[..., FakeLlamaServer]
ChatBody = Callable[..., dict[str, Any]]
Chats = Callable[[FakeLlamaServer], list[RequestRecord]]

LOADING = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}

#: (method, path) of every endpoint, plus an unknown one.
ALL_ENDPOINTS = [
    ("GET", "/health"),
    ("GET", "/v1/models"),
    ("GET", "/models"),
    ("GET", "/props"),
    ("GET", "/slots"),
    ("GET", "/metrics"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/chat/completions"),
    ("GET", "/no/such/path"),
]


#: A minimal valid chat request.
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}


def _request(server: FakeLlamaServer, method: str, path: str) -> httpx2.Response:
    body = BODY if method == "POST" else None
    return httpx2.request(method, server.url + path, json=body, timeout=5)


def test_urls(start_server: StartServer) -> None:
    server = start_server()
    assert server.url == f"http://127.0.0.1:{server.port}"
    assert server.base_url == server.url + "/v1"
    assert server.port > 0


def test_health(start_server: StartServer) -> None:
    response = httpx2.get(start_server().url + "/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/v1/models", "/models"])
def test_models(start_server: StartServer, path: str) -> None:
    server = start_server(alias="qwen35-27b-q3")
    body = httpx2.get(server.url + path).json()
    assert body["object"] == "list"
    [model] = body["data"]
    assert list(model) == ["id", "object", "created", "owned_by", "meta"]
    assert (model["id"], model["object"], model["owned_by"]) == (
        "qwen35-27b-q3",
        "model",
        "llamacpp",
    )
    assert isinstance(model["created"], int)
    assert set(model["meta"]) == {
        "vocab_type",
        "n_vocab",
        "n_ctx_train",
        "n_embd",
        "n_params",
        "size",
    }


def test_props(start_server: StartServer) -> None:
    server = start_server(slots=3, n_ctx=4096, alias="m1")
    body = httpx2.get(server.url + "/props").json()
    assert body["total_slots"] == 3
    assert body["default_generation_settings"]["n_ctx"] == 4096
    assert body["build_info"] == B4748.build_info
    assert "n_ctx" not in body  # b4748 has only the per-slot one
    assert body["model_path"].endswith("/m1.gguf")
    for key in ("chat_template", "bos_token", "eos_token"):
        assert isinstance(body[key], str) and body[key]


@pytest.mark.parametrize(("path", "flag"), [("/slots", "--slots"), ("/metrics", "--metrics")])
def test_slots_and_metrics_are_not_enabled(start_server: StartServer, path: str, flag: str) -> None:
    response = httpx2.get(start_server().url + path)
    assert response.status_code == 501
    error = response.json()["error"]
    assert error["code"] == 501 and error["type"] == "not_supported_error"
    assert flag in error["message"]


@pytest.mark.parametrize(("method", "path"), [("GET", "/nope"), ("GET", "/v1/chat/completions")])
def test_unknown_path_is_404(start_server: StartServer, method: str, path: str) -> None:
    response = httpx2.request(method, start_server().url + path)
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": 404, "message": "File Not Found", "type": "not_found_error"}
    }


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b"{not json", "parse error"),
        (b"", "empty input"),
        (b'{"model": "m"}', "messages"),
        (b'{"messages": [{"role": "user", "content": "hi"}], "n": 2}', "Only one completion"),
        (b'["a list"]', "json.exception"),
    ],
)
def test_bad_chat_bodies_are_500(
    start_server: StartServer, chats: Chats, raw: bytes, needle: str
) -> None:
    server = start_server()
    response = httpx2.post(
        server.base_url + "/chat/completions",
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == 500 and error["type"] == "server_error"
    assert needle in error["message"]
    assert chats(server)[-1].status == 500


def test_every_endpoint_is_503_while_loading_then_ready(start_server: StartServer) -> None:
    server = start_server(load_s=60)
    for method, path in ALL_ENDPOINTS:
        response = _request(server, method, path)
        assert (response.status_code, response.json()) == (503, LOADING), path
    server.set_loading(False)
    assert _request(server, "GET", "/health").status_code == 200
    assert _request(server, "POST", "/v1/chat/completions").status_code == 200
    server.set_loading(True)
    assert _request(server, "GET", "/props").status_code == 503
    assert all(r.status in (200, 503) for r in server.requests)


def test_b4748_desyncs_a_kept_alive_connection_after_refusing_a_body(
    start_server: StartServer,
) -> None:
    """b4748 leaves a refused request's body unread and parses it as the next request: a
    client that keeps the connection gets empty 400s; a fresh connection gets the answer."""
    server = start_server(load_s=60)
    with httpx2.Client(timeout=5) as kept:
        refused = kept.post(server.base_url + "/chat/completions", json=BODY)
        assert (refused.status_code, refused.json()) == (503, LOADING)
        server.set_loading(False)
        for _ in range(2):  # for as long as the connection is kept
            again = kept.post(server.base_url + "/chat/completions", json=BODY)
            assert (again.status_code, again.content) == (400, b"")
        assert kept.get(server.url + "/health").status_code == 400
    with httpx2.Client(timeout=5) as fresh:
        assert fresh.post(server.base_url + "/chat/completions", json=BODY).status_code == 200
    assert [r.status for r in server.requests] == [503, 400, 400, 400, 200]
    assert [bool(r.extra.get("desynced")) for r in server.requests] == [False, True, True,
                                                                        True, False]


def test_a_refused_request_without_a_body_leaves_the_connection_usable(
    start_server: StartServer,
) -> None:
    server = start_server(load_s=60)
    with httpx2.Client(timeout=5) as kept:
        assert kept.get(server.url + "/health").status_code == 503
        server.set_loading(False)
        assert kept.post(server.base_url + "/chat/completions", json=BODY).status_code == 200


def test_loading_ends_by_itself(start_server: StartServer) -> None:
    server = start_server(load_s=0.3)
    assert httpx2.get(server.url + "/health").status_code == 503
    deadline = time.monotonic() + 5
    while httpx2.get(server.url + "/health").status_code != 200:
        assert time.monotonic() < deadline, "still loading"
        time.sleep(0.05)
    assert not server.model.loading


def test_a_hanging_server_answers_nothing_until_the_hang_ends(
    start_server: StartServer, chats: Chats
) -> None:
    server = start_server(hang=True)
    assert server.hanging
    for method, path in [("GET", "/health"), ("GET", "/props"), ("POST", "/v1/chat/completions")]:
        with pytest.raises(httpx2.ReadTimeout):
            httpx2.request(method, server.url + path, json=BODY if method == "POST" else None,
                           timeout=0.3)
    deadline = time.monotonic() + 5
    while len([r for r in server.requests if r.answered_at is not None]) < 3:
        assert time.monotonic() < deadline, "the abandoned requests were never closed"
        time.sleep(0.01)
    records = server.requests
    assert [r.path for r in records] == ["/health", "/props", "/v1/chat/completions"]
    assert all(r.status is None and r.extra == {"hung": True, "dropped": "closed"}
               for r in records)
    assert chats(server)[0].level is None  # held before it reached the chat endpoint
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(_request, server, "GET", "/health")
        while len(server.requests) < 4:
            assert time.monotonic() < deadline + 5, "the request never arrived"
            time.sleep(0.01)
        server.set_hanging(False)
        assert held.result(timeout=5).status_code == 200  # answered once the hang ended
    assert _request(server, "POST", "/v1/chat/completions").status_code == 200


def test_a_hanging_server_stops_promptly(start_server: StartServer) -> None:
    server = start_server(hang=True)
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(_request, server, "GET", "/health")
        deadline = time.monotonic() + 5
        while not server.requests:
            assert time.monotonic() < deadline, "the request never arrived"
            time.sleep(0.01)
        stopped_at = time.monotonic()
        server.stop()
        with pytest.raises(httpx2.TransportError):
            held.result(timeout=5)
    assert time.monotonic() - stopped_at < 2.5


def test_unknown_dialect_is_refused() -> None:
    with pytest.raises(ValueError, match="b4748"):
        FakeLlamaServer(canned_answers("reference"), dialect="b9999")


def test_keep_alive_connection_serves_many_requests(start_server: StartServer) -> None:
    server = start_server()
    with httpx2.Client(base_url=server.url) as client:
        for _ in range(5):
            assert client.get("/health").status_code == 200
            assert client.post("/v1/chat/completions", json=BODY).status_code == 200


def test_request_log(start_server: StartServer, chats: Chats, chat_body: ChatBody) -> None:
    server = start_server()
    httpx2.get(server.url + "/health?x=1")
    httpx2.post(server.base_url + "/chat/completions", json=chat_body("hello"))
    health, chat = server.requests
    assert (health.index, health.method, health.path, health.status) == (
        1,
        "GET",
        "/health?x=1",
        200,
    )
    assert (chat.index, chat.method, chat.path) == (2, "POST", "/v1/chat/completions")
    assert chat.body == chat_body("hello")
    assert chat.received_at <= chat.started_at <= chat.finished_at <= chat.answered_at
    assert chats(server) == [chat]
