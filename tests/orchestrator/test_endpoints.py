"""Checking a model's server before a run, against a MockTransport: every branch."""

import httpx2
import pytest

from orchestrator.endpoints import check_endpoint
from worker.config import ModelConfig
from worker.errors import EndpointUnavailable

CONFIG = ModelConfig(base_url="http://gpu1:7093/v1")
PROPS = {"total_slots": 2, "build_info": "b4748-c392e5094", "model_path": "/m.gguf",
         "default_generation_settings": {"n_ctx": 4096}}
MODELS = {"object": "list", "data": [{"id": "qwen", "object": "model"}]}
LOADING = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}


def transport(health: list[tuple[int, object]]) -> httpx2.MockTransport:
    """/health answers the given (status, body) in turn, then 200; the rest answer as b4748."""

    def handle(request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        if path == "/health":
            status, body = health.pop(0) if health else (200, {"status": "ok"})
            return httpx2.Response(status, json=body)
        if path == "/v1/models":
            return httpx2.Response(200, json=MODELS)
        if path == "/props":
            return httpx2.Response(200, json=PROPS)
        return httpx2.Response(404, json={"error": {"message": "File Not Found"}})

    return httpx2.MockTransport(handle)


def test_facts_of_a_ready_server() -> None:
    facts = check_endpoint("m", CONFIG, transport=transport([]))
    assert facts.root_url == "http://gpu1:7093" and facts.model_ids == ["qwen"]
    assert (facts.total_slots, facts.n_ctx, facts.build_info) == (2, 4096, "b4748-c392e5094")


def test_waits_while_loading_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("orchestrator.endpoints.time.sleep", lambda s: None)
    said: list[str] = []
    facts = check_endpoint("m", CONFIG, transport=transport([(503, LOADING)] * 3),
                           loading_wait_s=60, on_loading=said.append)
    assert facts.total_slots == 2 and len(said) == 3 and "loading" in said[0]


def test_gives_up_on_loading_after_the_configured_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    monkeypatch.setattr("orchestrator.endpoints.time.monotonic", lambda: now[0])
    monkeypatch.setattr("orchestrator.endpoints.time.sleep",
                        lambda s: now.__setitem__(0, now[0] + s))
    with pytest.raises(EndpointUnavailable, match="503 Loading model"):
        check_endpoint("m", CONFIG, transport=transport([(503, LOADING)] * 100),
                       loading_wait_s=10)
    assert now[0] >= 10


def test_an_unhealthy_server_is_named() -> None:
    with pytest.raises(EndpointUnavailable, match="/health answered 500 boom"):
        check_endpoint("m", CONFIG, transport=transport(
            [(500, {"error": {"message": "boom"}})]))


def test_an_unreachable_server_is_named() -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused")

    with pytest.raises(EndpointUnavailable, match=r"does not answer.*is llama-server running"):
        check_endpoint("m", CONFIG, transport=httpx2.MockTransport(refuse))
