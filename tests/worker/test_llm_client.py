"""The LLM client against a MockTransport: exact request bodies and error classification;
against the fake llama-server where a connection's fate matters."""

import json

import httpx2
import pytest

from fakellm import FakeLlamaServer, canned_answers
from worker.config import ModelConfig
from worker.llm import CallFailure, FailureKind, LlmClient, request_body

OK_BODY = {
    "choices": [{"finish_reason": "stop", "index": 0,
                 "message": {"role": "assistant", "reasoning_content": "thinking",
                             "content": "```python\nx = 1\n```"}}],
    "created": 1, "model": "m", "object": "chat.completion",
    "usage": {"completion_tokens": 5, "prompt_tokens": 7, "total_tokens": 12},
    "id": "chatcmpl-1",
    "timings": {"prompt_n": 7, "prompt_ms": 1.0, "predicted_n": 5, "predicted_ms": 2.0},
}


def client_with(handler, **cfg) -> tuple[LlmClient, list[httpx2.Request]]:
    seen: list[httpx2.Request] = []

    def record(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return handler(request)

    config = ModelConfig(base_url="http://llm:9/v1", **cfg)
    return LlmClient(config, "m", "secret", transport=httpx2.MockTransport(record)), seen


def test_sends_exactly_the_original_request_and_keeps_llama_fields() -> None:
    client, seen = client_with(lambda r: httpx2.Response(200, json=OK_BODY))
    reply = client.chat("/no_think\nhello")
    assert json.loads(seen[0].content) == {
        "model": "m", "messages": [{"role": "user", "content": "/no_think\nhello"}],
        "temperature": 0.1, "max_tokens": 8192,
    }
    assert str(seen[0].url) == "http://llm:9/v1/chat/completions"
    assert seen[0].headers["authorization"] == "Bearer secret"
    assert reply.content == "```python\nx = 1\n```"
    assert reply.reasoning_content == "thinking"
    assert reply.finish_reason == "stop"
    assert reply.usage == OK_BODY["usage"] and reply.timings == OK_BODY["timings"]


def test_extra_fields_are_sent_as_given() -> None:
    client, seen = client_with(lambda r: httpx2.Response(200, json=OK_BODY),
                               model="real", extra={"top_p": 0.95, "seed": 3})
    client.chat("p")
    body = json.loads(seen[0].content)
    assert body == request_body(client._config, "m", "p")
    assert body["model"] == "real" and body["top_p"] == 0.95 and body["seed"] == 3


def error(status: int, message: str):
    return lambda r: httpx2.Response(
        status, json={"error": {"code": status, "message": message, "type": "x"}})


@pytest.mark.parametrize(
    ("handler", "kind"),
    [
        (error(503, "Loading model"), FailureKind.LOADING),
        (error(400, "the request exceeds the available context size, try increasing it"),
         FailureKind.CONTEXT),
        (error(500, "context shift is disabled"), FailureKind.CONTEXT),
        (error(500, "something broke"), FailureKind.INFRA),
        (error(404, "File Not Found"), FailureKind.INFRA),
    ],
)
def test_errors_are_classified(handler, kind: FailureKind) -> None:
    client, _ = client_with(handler)
    with pytest.raises(CallFailure) as caught:
        client.chat("p")
    assert caught.value.kind is kind


def test_connection_errors_are_infra() -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("refused", request=request)

    client, _ = client_with(refuse)
    with pytest.raises(CallFailure) as caught:
        client.chat("p")
    assert caught.value.kind is FailureKind.INFRA


def test_a_timeout_of_a_server_that_answers_health_is_the_models() -> None:
    def slow(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/health":
            return httpx2.Response(200, json={"status": "ok"})
        raise httpx2.ReadTimeout("slow", request=request)

    client, seen = client_with(slow)
    with pytest.raises(CallFailure) as caught:
        client.chat("p")
    assert caught.value.kind is FailureKind.TIMEOUT
    assert [r.url.path for r in seen] == ["/v1/chat/completions", "/health"]


def test_a_timeout_of_a_server_that_answers_nothing_is_ours() -> None:
    """A real socket that accepts and never answers (a hung host, a cut network)."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        config = ModelConfig(base_url=f"http://127.0.0.1:{port}/v1", timeout_s=0.5)
        client = LlmClient(config, "m", None)
        from worker import llm

        original, llm.HEALTH_PROBE_S = llm.HEALTH_PROBE_S, 0.5
        try:
            with pytest.raises(CallFailure) as caught:
                client.chat("p")
        finally:
            llm.HEALTH_PROBE_S = original
            client.close()
    assert caught.value.kind is FailureKind.INFRA and "/health" in caught.value.message


def test_a_refused_request_is_followed_by_a_fresh_connection() -> None:
    """b4748 answers an empty 400 to every request on a connection that carried a refused
    one (the fake reproduces it): reusing the connection turned a loaded model into
    infrastructure errors. Real HTTP, the fake llama-server."""
    with FakeLlamaServer(canned_answers("reference"), load_s=60) as server:
        client = LlmClient(ModelConfig(base_url=server.base_url), "m", None)
        try:
            with pytest.raises(CallFailure) as refused:
                client.chat("hi")
            assert refused.value.kind is FailureKind.LOADING
            server.set_loading(False)
            assert client.chat("hi").finish_reason == "stop"
        finally:
            client.close()
        assert [r.status for r in server.requests] == [503, 200]
