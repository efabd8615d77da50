"""Where the fake server's answers come from.

The fake never "thinks": an `AnswerSource` maps the prompt of a chat request to a fixed answer.
`LevelAnswers` recognises which Job Queue Challenge level a prompt asks for, so a whole benchmark
run (L1..L5, with L2/L3 prompts embedding earlier code) can be played against canned answers.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

#: The answer given to a prompt that is not one of the five levels.
UNKNOWN_ANSWER = "I cannot help with that."

#: The first line of each level's prompt (challenge/prompts/L<n>.txt), which no other level's
#: prompt contains. Kept here as text, not read from the files, so that detection does not
#: depend on the challenge package; tests check them against the real prompt files.
LEVEL_MARKERS: dict[str, str] = {
    "L1": "Implement a JobQueue class in Python with the following requirements:",
    "L2": "Extend the JobQueue to add retry logic with exponential backoff:",
    "L3": "Extend the JobQueue to add priority scheduling:",
    "L4": "The following JobQueue implementation has a concurrency bug",
    "L5": "Refactor the monolithic queue.py into a Python package",
}

_MARKER_RES: dict[str, re.Pattern[str]] = {
    level: re.compile(r"^" + re.escape(marker), re.MULTILINE)
    for level, marker in LEVEL_MARKERS.items()
}


@dataclass(frozen=True)
class FakeAnswer:
    """What the fake model "generates": the answer text and, optionally, its thinking."""

    content: str
    reasoning_content: str | None = None


class AnswerSource(Protocol):
    """Anything that can answer a chat request; `prompt` is the last user message's text."""

    def answer(self, prompt: str, request: dict[str, Any]) -> FakeAnswer:
        """Return the answer to `prompt`; `request` is the whole parsed JSON body."""
        ...


def detect_level(prompt: str) -> str | None:
    """Return the level ("L1".."L5") whose prompt `prompt` is, or None.

    A level prompt is `"/no_think\\n"` (optional), then for L2/L3 optionally an embedded
    "Current implementation" code block, then the level's text. That embedded code may contain
    any words, including another level's first line, but it always comes *before* the level's
    own text. So the level whose first line starts a line *last* in the prompt is the one
    asked for.
    """
    best: tuple[int, str] | None = None
    for level, pattern in _MARKER_RES.items():
        position = -1
        for match in pattern.finditer(prompt):
            position = match.start()
        if position >= 0 and (best is None or position > best[0]):
            best = (position, level)
    return best[1] if best else None


def message_text(content: Any) -> str:
    """Flatten a message's `content` (a string, or a list of OpenAI content parts) to text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        ]
        return "".join(p for p in parts if isinstance(p, str))
    return ""


def last_user_text(messages: list[Any]) -> str:
    """Return the text of the last message whose role is "user" ("" when there is none)."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message.get("content"))
    return ""


class FixedAnswer:
    """Give the same answer to every prompt; handy for tests of the transport itself."""

    def __init__(self, content: str, reasoning_content: str | None = None) -> None:
        self._answer = FakeAnswer(content, reasoning_content)

    def answer(self, prompt: str, request: dict[str, Any]) -> FakeAnswer:
        """Return the fixed answer whatever was asked."""
        return self._answer


class LevelAnswers:
    """Answer each challenge level with its own text; anything else gets `UNKNOWN_ANSWER`.

    `mapping` is keyed by level name ("L1".."L5"; `challenge.levels.Level` members work too,
    being strings). A level missing from the mapping is answered like an unknown prompt.
    `reasoning`, when given, is returned as the thinking of every level answer.
    """

    def __init__(self, mapping: Mapping[str, str], reasoning: str | None = None) -> None:
        unknown = sorted(str(k) for k in mapping if str(k) not in LEVEL_MARKERS)
        if unknown:
            raise ValueError(f"unknown level names {unknown}: use L1..L5")
        self._mapping = {str(level): text for level, text in mapping.items()}
        self._reasoning = reasoning

    def answer(self, prompt: str, request: dict[str, Any]) -> FakeAnswer:
        """Return the answer of the level `prompt` asks for."""
        level = detect_level(prompt)
        if level is None or level not in self._mapping:
            return FakeAnswer(UNKNOWN_ANSWER)
        return FakeAnswer(self._mapping[level], self._reasoning)


_FENCE = "```python\n"


def vary_text(content: str, variant: int) -> str:
    """Add the comment line `# fake variant N` to an answer's code, changing nothing else.

    The line goes right after the first ```` ```python ```` fence, or at the very top when
    there is none (an unfenced L5 answer then keeps it before its first `# queue/` header,
    where extraction ignores it). A comment starting with "# " also survives the legacy
    extraction of unfenced L1-L4 answers.
    """
    line = f"# fake variant {variant}\n"
    at = content.find(_FENCE)
    if at < 0:
        return line + content
    at += len(_FENCE)
    return content[:at] + line + content[at:]


class VaryingAnswers:
    """Make every answer of `source` different from all earlier ones (see `vary_text`).

    Canned answers are otherwise identical in every iteration, so a test could not tell
    whether an L2 prompt embeds *this* iteration's L1 code or another's. Answers to unknown
    prompts are left as they are. Variants are numbered 1, 2, ... in the order answered.
    """

    def __init__(self, source: AnswerSource) -> None:
        self._source = source
        self._count = 0
        self._lock = threading.Lock()

    def answer(self, prompt: str, request: dict[str, Any]) -> FakeAnswer:
        """The source's answer, with its variant line."""
        base = self._source.answer(prompt, request)
        if base.content == UNKNOWN_ANSWER:
            return base
        with self._lock:
            self._count += 1
            variant = self._count
        return FakeAnswer(vary_text(base.content, variant), base.reasoning_content)


def canned_answers(flavour: str, reasoning: str | None = None) -> LevelAnswers:
    """Build `LevelAnswers` from the challenge's canned answers of one flavour.

    Imported lazily: `challenge.answers` is optional for this module, which works (with
    explicit mappings) without it.
    """
    try:
        challenge_answers = importlib.import_module("challenge.answers")
        from challenge.levels import Level
    except ImportError as exc:
        raise RuntimeError(f"canned answers are not available: {exc}") from exc
    flavours = tuple(getattr(challenge_answers, "FLAVOURS", ()))
    if flavours and flavour not in flavours:
        raise ValueError(f"unknown answer flavour {flavour!r}: choose from {', '.join(flavours)}")
    mapping = {level.value: challenge_answers.canned_answer(level, flavour) for level in Level}
    return LevelAnswers(mapping, reasoning=reasoning)
