"""Chat completions: b4748's body, max_tokens, reasoning, timings, streaming, the openai SDK."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx2
import openai

from fakellm import FakeAnswer, FakeLlamaServer, LatencyModel, LevelAnswers
from fakellm.dialect import B4748
from fakellm.generation import count_tokens
from fakellm.requestlog import RequestRecord

StartServer = Callable[..., FakeLlamaServer]
ChatBody = Callable[..., dict[str, Any]]
Chats = Callable[[FakeLlamaServer], list[RequestRecord]]
LevelPrompt = Callable[..., str]

LEVELS = ("L1", "L2", "L3", "L4", "L5")
#: Keys of a b4748 chat completion, in the order it sends them.
COMPLETION_KEYS = [
    "choices",
    "created",
    "model",
    "system_fingerprint",
    "object",
    "usage",
    "id",
    "timings",
]
TIMINGS_KEYS = [
    "prompt_n",
    "prompt_ms",
    "prompt_per_token_ms",
    "prompt_per_second",
    "predicted_n",
    "predicted_ms",
    "predicted_per_token_ms",
    "predicted_per_second",
]


def _post(server: FakeLlamaServer, body: dict[str, Any]) -> dict[str, Any]:
    """POST a chat request; return the JSON of its (required) 200 answer."""
    response = httpx2.post(server.base_url + "/chat/completions", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_completion_body_has_b4748_shape(start_server: StartServer, chat_body: ChatBody) -> None:
    server = start_server("print('hi')")
    body = _post(server, chat_body("hello", model="my-model"))
    assert list(body) == COMPLETION_KEYS
    [choice] = body["choices"]
    assert list(choice) == ["finish_reason", "index", "message"]
    assert choice["finish_reason"] == "stop" and choice["index"] == 0
    assert choice["message"] == {"role": "assistant", "content": "print('hi')"}
    assert body["model"] == "my-model"  # echoed, not the alias
    assert body["object"] == "chat.completion"
    assert body["system_fingerprint"] == B4748.build_info
    assert body["id"].startswith("chatcmpl-") and len(body["id"]) > 20
    assert abs(body["created"] - time.time()) < 60
    usage = body["usage"]
    assert list(usage) == ["completion_tokens", "prompt_tokens", "total_tokens"]
    assert usage["completion_tokens"] == count_tokens("print('hi')") + 1  # the end token
    assert usage["total_tokens"] == usage["completion_tokens"] + usage["prompt_tokens"]
    timings = body["timings"]
    assert list(timings) == TIMINGS_KEYS
    assert timings["prompt_n"] == usage["prompt_tokens"]
    assert timings["predicted_n"] == usage["completion_tokens"]
    assert all(value > 0 for value in timings.values())


def test_alternative_path_and_missing_model(start_server: StartServer) -> None:
    server = start_server()
    response = httpx2.post(server.url + "/chat/completions", json={"messages": []})
    assert response.status_code == 200
    assert response.json()["model"] is None


def test_prompt_tokens_grow_with_the_prompt(start_server: StartServer, chat_body: ChatBody) -> None:
    server = start_server()
    short = _post(server, chat_body("word " * 10))["usage"]["prompt_tokens"]
    long = _post(server, chat_body("word " * 1000))["usage"]["prompt_tokens"]
    assert short < long and long > 1000


def test_length_when_max_tokens_is_small(start_server: StartServer, chat_body: ChatBody) -> None:
    answer = "one two six ten red tan"  # words of at most 4 letters: a fake token each
    server = start_server(answer)
    body = _post(server, chat_body(max_tokens=3))
    choice = body["choices"][0]
    assert choice["finish_reason"] == "length"
    assert choice["message"]["content"] == "one two six"
    assert body["usage"]["completion_tokens"] == 3
    assert _post(server, chat_body(max_tokens=100))["choices"][0]["finish_reason"] == "stop"


def test_reasoning_content(start_server: StartServer, chat_body: ChatBody) -> None:
    server = start_server(FakeAnswer("the code", "let me think"))
    message = _post(server, chat_body())["choices"][0]["message"]
    assert list(message) == ["role", "reasoning_content", "content"]
    assert message["reasoning_content"] == "let me think"
    assert message["content"] == "the code"


def test_level_answers_over_http(
    start_server: StartServer,
    chats: Chats,
    level_prompts: dict[str, str],
    chat_body: ChatBody,
    level_prompt: LevelPrompt,
) -> None:
    server = start_server(LevelAnswers({lv: f"```python\n# {lv}\n```" for lv in LEVELS}))
    for level in LEVELS:
        body = _post(server, chat_body(level_prompt(level_prompts[level])))
        assert body["choices"][0]["message"]["content"] == f"```python\n# {level}\n```"
    embedded = level_prompt(level_prompts["L2"], current="class JobQueue:\n    pass")
    assert "# L2" in _post(server, chat_body(embedded))["choices"][0]["message"]["content"]
    assert [r.level for r in chats(server)] == [*LEVELS, "L2"]
    unknown = _post(server, chat_body("write a poem"))["choices"][0]["message"]["content"]
    assert unknown == "I cannot help with that."


def test_time_grows_with_answer_length_and_timings_match(
    start_server: StartServer, chat_body: ChatBody
) -> None:
    latency = LatencyModel(prompt_tokens_per_s=1000, tokens_per_s=200)
    server = start_server(" tok" * 59, latency=latency)
    started = time.monotonic()
    body = _post(server, chat_body("word " * 100))
    elapsed = time.monotonic() - started
    timings = body["timings"]
    assert timings["predicted_n"] == 60
    expected_prompt_ms = timings["prompt_n"] / 1000 * 1000
    expected_predicted_ms = 60 / 200 * 1000
    assert expected_prompt_ms <= timings["prompt_ms"] < expected_prompt_ms + 250
    assert expected_predicted_ms <= timings["predicted_ms"] < expected_predicted_ms + 250
    assert abs(timings["predicted_per_second"] - 200) < 50
    assert elapsed >= (timings["prompt_ms"] + timings["predicted_ms"]) / 1000
    short = _post(start_server("tok", latency=latency), chat_body("word " * 100))
    assert short["timings"]["predicted_ms"] < timings["predicted_ms"]


def test_streaming_b4748_shape(start_server: StartServer, chat_body: ChatBody) -> None:
    server = start_server("alpha beta gamma")
    with httpx2.stream(
        "POST", server.base_url + "/chat/completions", json=chat_body(stream=True)
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert "role" not in chunks[0]["choices"][0]["delta"]  # b4748: no role chunk
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "alpha beta gamma"
    final = chunks[-1]
    assert final["choices"][0] == {"finish_reason": "stop", "index": 0, "delta": {}}
    assert final["usage"]["completion_tokens"] == count_tokens("alpha beta gamma") + 1
    assert list(final["timings"]) == TIMINGS_KEYS


def test_openai_sdk(start_server: StartServer, chats: Chats) -> None:
    server = start_server(FakeAnswer("```python\nx = 1\n```", "thinking..."))
    client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
    try:
        completion = client.chat.completions.create(
            model="qwen35-27b-q3",
            messages=[{"role": "user", "content": "/no_think\nhello"}],
            temperature=0.1,
            max_tokens=8192,
        )
    finally:
        client.close()
    assert completion.choices[0].message.content == "```python\nx = 1\n```"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "qwen35-27b-q3"
    assert completion.usage is not None and completion.usage.completion_tokens > 1
    assert completion.model_extra is not None
    assert list(completion.model_extra["timings"]) == TIMINGS_KEYS
    assert completion.to_dict()["choices"][0]["message"]["reasoning_content"] == "thinking..."
    [request] = chats(server)
    assert request.body["max_tokens"] == 8192
