"""The prompt against the slot's context: /apply-template and /tokenize count exactly what a
chat's usage.prompt_tokens says; a prompt that does not fit is cut as b4748's context shift
cuts it (silently, whole blocks of n_ctx/2 from the front), or refused with a 400."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from fakellm import FakeLlamaServer

StartServer = Callable[..., FakeLlamaServer]

MESSAGES = [{"role": "user", "content": "write a job queue " * 40}]


def _post(server: FakeLlamaServer, path: str, body: dict[str, Any]) -> httpx2.Response:
    return httpx2.post(server.url + path, json=body, timeout=5)


def _counted(server: FakeLlamaServer, messages: list[dict[str, Any]]) -> int:
    prompt = _post(server, "/apply-template", {"messages": messages}).json()["prompt"]
    tokens = _post(server, "/tokenize", {"content": prompt, "add_special": True}).json()
    return len(tokens["tokens"])


def _chat(server: FakeLlamaServer) -> httpx2.Response:
    return _post(server, "/v1/chat/completions",
                 {"model": "m", "messages": MESSAGES, "max_tokens": 50})


def test_the_template_and_tokenizer_count_what_the_chat_reports(start_server: StartServer
                                                                ) -> None:
    server = start_server()
    prompt = _post(server, "/apply-template", {"messages": MESSAGES}).json()["prompt"]
    assert prompt.startswith("<|im_start|>user\nwrite a job queue")
    assert prompt.endswith("<|im_start|>assistant\n")
    counted = _counted(server, MESSAGES)
    assert counted > 100
    assert _chat(server).json()["usage"]["prompt_tokens"] == counted
    pieces = _post(server, "/tokenize", {"content": "<|im_end|>ab", "with_pieces": True}).json()
    assert [p["piece"] for p in pieces["tokens"]] == ["<|im_end|>", "ab"]


def test_b4748_cuts_a_prompt_longer_than_the_context_silently(start_server: StartServer
                                                              ) -> None:
    server = start_server(n_ctx=64)
    counted = _counted(server, MESSAGES)
    answer = _chat(server)
    assert answer.status_code == 200
    kept = answer.json()["usage"]["prompt_tokens"]
    # whole blocks of 32 dropped until the rest fits: 208 of 592 in a 256 context, likewise
    assert kept < 64 and (counted - kept) % 32 == 0
    assert server.requests[-1].extra["prompt_cut_from"] == counted


@pytest.mark.parametrize(("options", "error_type", "details"), [
    ({"context_shift": False}, "invalid_request_error", False),
    ({"dialect": "late-2025"}, "exceed_context_size_error", True),
])
def test_without_context_shift_a_long_prompt_is_refused(
    start_server: StartServer, options: dict[str, Any], error_type: str, details: bool
) -> None:
    server = start_server(n_ctx=64, **options)
    answer = _chat(server)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["type"] == error_type
    assert "exceeds the available context size" in error["message"]
    if details:
        assert error["n_ctx"] == 64 and error["n_prompt_tokens"] == _counted(server, MESSAGES)
    assert server.model.slots.arrived == 0  # refused before it took a slot
