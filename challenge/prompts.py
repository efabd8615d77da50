"""The prompts of the Job Queue Challenge and the chat message built from them.

See docs/challenge.md §1.
"""

from challenge._resources import read_text
from challenge.levels import Level

NO_THINK_PREFIX = "/no_think\n"
"""Prepended to every prompt when `no_think` is on, as the original benchmark does."""

#: Levels whose prompt embeds the previous level's code as "Current implementation".
EMBEDDING_LEVELS: tuple[Level, ...] = (Level.L2, Level.L3)


def prompt_text(level: Level) -> str:
    """The level's prompt exactly as published (bytes decoded as UTF-8, nothing translated)."""
    return read_text(f"prompts/{Level(level).value}.txt")


def build_prompt(level: Level, accumulated_code: str | None, no_think: bool = True) -> str:
    """The user message content for `level`.

    Args:
        level: the level to prompt for.
        accumulated_code: the extracted code of the most recent chained level of the same
            iteration that had any; only L2 and L3 embed it, and only when it is non-empty.
        no_think: prepend "/no_think\\n" (the original always does).
    """
    level = Level(level)
    body = prompt_text(level)
    if level in EMBEDDING_LEVELS and accumulated_code:
        body = f"Current implementation:\n```python\n{accumulated_code}\n```\n\n{body}"
    return (NO_THINK_PREFIX if no_think else "") + body


def build_messages(
    level: Level, accumulated_code: str | None, no_think: bool = True
) -> list[dict[str, str]]:
    """The chat messages of one request: a single user message, no system message."""
    return [{"role": "user", "content": build_prompt(level, accumulated_code, no_think)}]
