"""Fixtures for the fake llama-server tests.

Under pytest's importlib import mode test modules cannot import each other or this file, so
shared helpers are handed out as fixtures (factories where they take arguments).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fakellm import AnswerSource, FakeAnswer, FakeLlamaServer
from fakellm.requestlog import RequestRecord

REPO = Path(__file__).resolve().parents[2]
LEVELS = ("L1", "L2", "L3", "L4", "L5")

#: Type of the `chat_body` fixture: prompt (default "hi") and field overrides -> body.
ChatBody = Callable[..., dict[str, Any]]
#: Type of the `level_prompt` fixture: (level text, current implementation, no_think) -> prompt.
LevelPrompt = Callable[..., str]
#: Type of the `start_server` fixture.
StartServer = Callable[..., FakeLlamaServer]
#: Type of the `chats` fixture.
Chats = Callable[[FakeLlamaServer], list[RequestRecord]]


class FixedAnswer:
    """Give the same answer to every prompt: for tests of the transport itself."""

    def __init__(self, answer: FakeAnswer) -> None:
        self._answer = answer

    def answer(self, prompt: str, request: dict[str, Any]) -> FakeAnswer:
        """Return the fixed answer whatever was asked."""
        return self._answer


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """Start fake servers; each is stopped after the test.

    `answers` is an answer source, or one answer (a `FakeAnswer`, or just its text) given to
    every prompt; by default a short piece of code.
    """
    servers: list[FakeLlamaServer] = []

    def start(
        answers: AnswerSource | FakeAnswer | str = "def f():\n    return 42\n", **kwargs: Any
    ) -> FakeLlamaServer:
        if isinstance(answers, str):
            answers = FakeAnswer(answers)
        if isinstance(answers, FakeAnswer):
            answers = FixedAnswer(answers)
        server = FakeLlamaServer(answers, **kwargs)
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def chats() -> Chats:
    """The chat-completion requests a server received, in arrival order."""

    def select(server: FakeLlamaServer) -> list[RequestRecord]:
        return [r for r in server.requests if r.path.split("?")[0].endswith("/chat/completions")]

    return select


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope="session")
def level_prompts() -> dict[str, str]:
    """The published prompt text of each level, byte for byte."""
    prompts = REPO / "challenge" / "prompts"
    return {level: (prompts / f"{level}.txt").read_bytes().decode("utf-8") for level in LEVELS}


@pytest.fixture(scope="session")
def chat_body() -> ChatBody:
    """Build a request body as the original benchmark sends it; keyword args override."""

    def build(prompt: str = "hi", **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": "qwen35-test",
            "messages": [{"role": "user", "content": prompt}],
            "temperature": 0.1,
            "max_tokens": 8192,
        }
        body.update(extra)
        return body

    return build


@pytest.fixture(scope="session")
def level_prompt() -> LevelPrompt:
    """A level prompt as docs/challenge.md §1 describes (independent of the challenge package)."""

    def build(text: str, current: str | None = None, no_think: bool = True) -> str:
        body = text
        if current is not None:
            body = f"Current implementation:\n```python\n{current}\n```\n\n{text}"
        return ("/no_think\n" if no_think else "") + body

    return build
