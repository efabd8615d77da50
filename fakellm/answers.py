"""Where the fake model's answers come from.

The fake never "thinks": an `AnswerSource` maps the prompt of a chat request to a fixed answer.
`LevelAnswers` answers each Job Queue Challenge level with its own text, so a whole benchmark
run (L1..L5, with L2/L3 prompts embedding earlier code) can be played against canned answers.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from challenge.answers import FLAVOURS, canned_answer
from challenge.levels import Level
from fakellm.prompts import detect_level

#: The answer given to a prompt that is not one of the five levels.
UNKNOWN_ANSWER = "I cannot help with that."
#: The flavour of empty answers (no code under either profile: every unit ends no_code and
#: no sandbox runs), for measuring the harness alone (bench/harness_cost.py).
EMPTY = "empty"
ANSWER_FLAVOURS = (*FLAVOURS, EMPTY)

_LEVEL_NAMES = frozenset(level.value for level in Level)


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


class LevelAnswers:
    """Answer each challenge level with its own text; anything else gets `UNKNOWN_ANSWER`.

    `mapping` is keyed by level ("L1".."L5" or `Level` members). A level missing from the
    mapping is answered like an unknown prompt. `reasoning`, when given, is returned as the
    thinking of every level answer.
    """

    def __init__(self, mapping: Mapping[str, str], reasoning: str | None = None) -> None:
        unknown = sorted(str(k) for k in mapping if str(k) not in _LEVEL_NAMES)
        if unknown:
            raise ValueError(f"unknown level names {unknown}: use L1..L5")
        self._mapping = {Level(level): text for level, text in mapping.items()}
        self._reasoning = reasoning

    def answer(self, prompt: str, request: dict[str, Any]) -> FakeAnswer:
        """Return the answer of the level `prompt` asks for."""
        level = detect_level(prompt)
        if level is None or level not in self._mapping:
            return FakeAnswer(UNKNOWN_ANSWER)
        return FakeAnswer(self._mapping[level], self._reasoning)


def canned_answers(flavour: str, reasoning: str | None = None) -> LevelAnswers:
    """`LevelAnswers` from the challenge's canned answers of one flavour (see
    `challenge.answers.FLAVOURS`), or EMPTY; ValueError for an unknown flavour."""
    return LevelAnswers(
        {level: "" if flavour == EMPTY else canned_answer(level, flavour)
         for level in Level}, reasoning=reasoning
    )


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


class MixedAnswers:
    """Answer each request from one of several sources, drawn by weight from a seeded RNG.

    A model whose quality varies from attempt to attempt, reproducibly: the same seed and the
    same number of requests give the same answers (in the order they are answered), which is
    what `jqbench compare` needs to be tested against.
    """

    def __init__(self, weighted: list[tuple[AnswerSource, float]], seed: int = 0) -> None:
        if not weighted or any(w < 0 for _, w in weighted) or not sum(w for _, w in weighted):
            raise ValueError("a mix needs sources with weights >= 0, not all 0")
        self._sources = [source for source, _ in weighted]
        self._weights = [weight for _, weight in weighted]
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def answer(self, prompt: str, request: dict[str, Any]) -> FakeAnswer:
        with self._lock:
            source = self._rng.choices(self._sources, self._weights)[0]
        return source.answer(prompt, request)


def parse_mix(text: str, reasoning: str | None = None) -> list[tuple[AnswerSource, float]]:
    """`reference=0.8,empty=0.2` -> canned sources with their weights; ValueError if bad."""
    weighted: list[tuple[AnswerSource, float]] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        flavour, sep, weight = part.partition("=")
        if not sep:
            raise ValueError(f"{part!r}: write FLAVOUR=WEIGHT, e.g. reference=0.8")
        weighted.append((canned_answers(flavour.strip(), reasoning), float(weight)))
    return weighted
