"""Each kind of scripted fault, and how rules pick their requests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import openai
import pytest

from fakellm import (
    Delay,
    Drop,
    EmptyAnswer,
    FakeLlamaServer,
    FaultPlan,
    FaultRule,
    Hang,
    HttpError,
    LatencyModel,
    LevelAnswers,
    Truncate,
)
from fakellm.requestlog import RequestRecord

StartServer = Callable[..., FakeLlamaServer]
Chats = Callable[[FakeLlamaServer], list[RequestRecord]]

ANSWER = "one two six ten red tan"  # words of at most 4 letters: a fake token each


def _post(server: FakeLlamaServer, timeout: float = 10, **extra: Any) -> httpx2.Response:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **extra}
    return httpx2.post(server.base_url + "/chat/completions", json=body, timeout=timeout)


def _server(start_server: StartServer, *rules: FaultRule, **kwargs: object) -> FakeLlamaServer:
    return start_server(ANSWER, faults=FaultPlan(list(rules)), **kwargs)


@pytest.mark.parametrize(
    ("fault", "status", "type_"),
    [
        (HttpError.context_shift_disabled(), 500, "server_error"),
        (HttpError.exceeds_context(), 400, "invalid_request_error"),
        (HttpError(503, "Loading model", "unavailable_error"), 503, "unavailable_error"),
    ],
)
def test_http_error(
    start_server: StartServer, chats: Chats, fault: HttpError, status: int, type_: str
) -> None:
    server = _server(start_server, FaultRule(fault, nth=1))
    response = _post(server)
    assert response.status_code == status
    assert response.json() == {"error": {"code": status, "message": fault.message, "type": type_}}
    assert _post(server).status_code == 200  # only the first request
    assert [r.fault for r in chats(server)] == ["HttpError", None]


def test_http_error_in_a_stream_is_an_error_event(start_server: StartServer) -> None:
    server = _server(start_server, FaultRule(HttpError.context_shift_disabled()))
    response = _post(server, stream=True)
    assert response.status_code == 200  # the headers went out before the failure
    events = [line for line in response.text.split("\n\n") if line]
    assert events[-1] == "data: [DONE]"
    assert events[0].startswith("error: ")
    assert json.loads(events[0].removeprefix("error: "))["message"] == "context shift is disabled"


def test_drop_closes_without_answer(start_server: StartServer, chats: Chats) -> None:
    server = _server(start_server, FaultRule(Drop(), nth=1))
    with pytest.raises(httpx2.RemoteProtocolError):
        _post(server)
    assert _post(server).status_code == 200
    dropped = chats(server)[0]
    assert dropped.status is None and dropped.extra["dropped"] == "closed"


def test_drop_with_reset(start_server: StartServer, chats: Chats) -> None:
    server = _server(start_server, FaultRule(Drop(reset=True), nth=1))
    with pytest.raises(httpx2.TransportError):
        _post(server)
    assert _post(server).status_code == 200
    assert chats(server)[0].extra["dropped"] == "reset"


def test_delay_longer_than_client_timeout(start_server: StartServer) -> None:
    server = _server(start_server, FaultRule(Delay(3.0), nth=1))
    with pytest.raises(httpx2.ReadTimeout):
        _post(server, timeout=0.3)
    stopped_at = time.monotonic()
    server.stop()  # interrupts the stalled request instead of waiting it out
    assert time.monotonic() - stopped_at < 2.5


def test_short_delay_answers_late(start_server: StartServer) -> None:
    server = _server(start_server, FaultRule(Delay(0.3)))
    started = time.monotonic()
    assert _post(server).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_hang_never_answers_and_frees_its_slot_when_the_client_goes(
    start_server: StartServer, chats: Chats
) -> None:
    server = _server(start_server, FaultRule(Hang(), nth=1), slots=1)
    with pytest.raises(httpx2.ReadTimeout):
        _post(server, timeout=0.5)
    assert httpx2.get(server.url + "/health", timeout=5).status_code == 200  # only the call hangs
    assert _post(server).status_code == 200  # it had the only slot: freed when the client left
    hung, answered = chats(server)
    assert hung.fault == "Hang" and hung.status is None and hung.extra["dropped"] == "closed"
    assert hung.finished_at is not None and answered.started_at is not None
    assert answered.started_at >= hung.finished_at


def test_hang_ends_when_the_server_stops(start_server: StartServer, chats: Chats) -> None:
    server = _server(start_server, FaultRule(Hang()))
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(_post, server, 30.0)
        deadline = time.monotonic() + 10
        while not any(r.started_at for r in chats(server)):
            assert time.monotonic() < deadline, "the request never took its slot"
            time.sleep(0.01)
        stopped_at = time.monotonic()
        server.stop()
        with pytest.raises(httpx2.TransportError):
            pending.result(timeout=10)
    assert time.monotonic() - stopped_at < 2.5


def test_empty_answer(start_server: StartServer) -> None:
    server = _server(start_server, FaultRule(EmptyAnswer()))
    body = _post(server).json()
    assert body["choices"][0]["message"]["content"] == ""
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] == 1


@pytest.mark.parametrize(("tokens", "content"), [(2, "one two"), (None, "one two six")])
def test_truncated_answer(start_server: StartServer, tokens: int | None, content: str) -> None:
    server = _server(start_server, FaultRule(Truncate(tokens)))
    body = _post(server).json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["choices"][0]["message"]["content"] == content
    assert body["usage"]["completion_tokens"] == len(content.split())


def test_rule_by_level_fires_once(
    start_server: StartServer,
    chats: Chats,
    level_prompts: dict[str, str],
    level_prompt: Callable[..., str],
) -> None:
    plan = FaultPlan([FaultRule(HttpError.exceeds_context(), level="L2", times=1)])
    server = start_server(LevelAnswers({"L1": "a", "L2": "b"}), faults=plan)
    l1 = level_prompt(level_prompts["L1"])
    l2 = level_prompt(level_prompts["L2"], current="class JobQueue: ...")
    assert _post(server, messages=[{"role": "user", "content": l1}]).status_code == 200
    assert _post(server, messages=[{"role": "user", "content": l2}]).status_code == 400
    assert _post(server, messages=[{"role": "user", "content": l2}]).status_code == 200
    assert [r.fault for r in chats(server)] == [None, "HttpError", None]


def test_nth_counts_chat_requests_only(start_server: StartServer) -> None:
    server = _server(start_server, FaultRule(HttpError.context_shift_disabled(), nth=(2, 3)))
    httpx2.get(server.url + "/health")
    statuses = [_post(server).status_code for _ in range(4)]
    assert statuses == [200, 500, 500, 200]


def test_probability_is_seeded() -> None:
    def pattern(seed: int) -> list[bool]:
        plan = FaultPlan([FaultRule(Drop(), probability=0.5)], seed=seed)
        return [plan.pick(n, None) is not None for n in range(1, 41)]

    assert pattern(1) == pattern(1)
    assert pattern(1) != pattern(2)
    assert 5 < sum(pattern(1)) < 35
    never = FaultPlan([FaultRule(Drop(), probability=0.0)])
    always = FaultPlan([FaultRule(Drop(), probability=1.0)])
    assert all(never.pick(n, None) is None for n in range(1, 20))
    assert all(always.pick(n, None) == Drop() for n in range(1, 20))


def test_first_matching_rule_wins() -> None:
    plan = FaultPlan([FaultRule(Drop(), nth=1), FaultRule(EmptyAnswer())])
    assert plan.pick(1, None) == Drop()
    assert plan.pick(2, None) == EmptyAnswer()


def test_invalid_rules() -> None:
    with pytest.raises(ValueError):
        FaultRule(Drop(), probability=1.5)
    with pytest.raises(ValueError):
        FaultRule(Drop(), times=-1)


def test_faults_through_the_openai_sdk(start_server: StartServer) -> None:
    plan = FaultPlan(
        [
            FaultRule(HttpError.context_shift_disabled(), nth=1),
            FaultRule(Drop(), nth=2),
            FaultRule(Delay(2.0), nth=3),
        ]
    )
    server = start_server(ANSWER, faults=plan, latency=LatencyModel())
    client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=0.5)
    messages = [{"role": "user", "content": "hi"}]
    try:
        with pytest.raises(openai.InternalServerError, match="context shift is disabled"):
            client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
        with pytest.raises(openai.APIConnectionError):
            client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
        with pytest.raises(openai.APITimeoutError):
            client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
    finally:
        client.close()
