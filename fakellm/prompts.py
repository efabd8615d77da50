"""Reading a chat request's prompt: its text, and which challenge level it asks for."""

from __future__ import annotations

import functools
import re
from typing import Any

from challenge.levels import Level
from challenge.prompts import prompt_text


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


@functools.cache
def level_markers() -> dict[Level, str]:
    """The first line of each level's published prompt, which no other level's prompt has."""
    return {level: prompt_text(level).splitlines()[0] for level in Level}


@functools.cache
def _marker_patterns() -> dict[Level, re.Pattern[str]]:
    return {
        level: re.compile(r"^" + re.escape(marker), re.MULTILINE)
        for level, marker in level_markers().items()
    }


def detect_level(prompt: str) -> Level | None:
    """Return the level whose prompt `prompt` is, or None.

    A level prompt is `"/no_think\\n"` (optional), then for L2/L3 optionally an embedded
    "Current implementation" code block, then the level's text. That embedded code may contain
    any words, including another level's first line, but it always comes *before* the level's
    own text. So the level whose first line starts a line *last* in the prompt is the one
    asked for.
    """
    best: tuple[int, Level] | None = None
    for level, pattern in _marker_patterns().items():
        position = -1
        for match in pattern.finditer(prompt):
            position = match.start()
        if position >= 0 and (best is None or position > best[0]):
            best = (position, level)
    return best[1] if best else None
