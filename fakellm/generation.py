"""Turn a canned answer into what a model would have generated: tokens, cut, finish reason.

There is no real tokenizer here. A "token" is a run of whitespace plus up to four other
characters, which is close to what BPE vocabularies give for English and code (about 3-4
characters a token) and, unlike a count, can cut a text exactly at N tokens: joining the
tokens gives the text back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fakellm.answers import FakeAnswer
from fakellm.prompts import message_text

_TOKEN_RE = re.compile(r"\s*\S{1,4}|\s+")

#: Tokens a chat template adds around each message, and to open the assistant's turn.
TEMPLATE_TOKENS_PER_MESSAGE = 4
TEMPLATE_TOKENS_REPLY = 3


def split_tokens(text: str) -> list[str]:
    """Split `text` into fake tokens; `"".join(split_tokens(t)) == t`."""
    return _TOKEN_RE.findall(text)


def count_tokens(text: str) -> int:
    """Number of fake tokens in `text`."""
    return len(split_tokens(text))


def count_prompt_tokens(messages: list[Any]) -> int:
    """Approximate `usage.prompt_tokens` of a chat: the texts plus chat-template overhead."""
    total = TEMPLATE_TOKENS_REPLY
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        total += TEMPLATE_TOKENS_PER_MESSAGE + count_tokens(message_text(content))
    return total


def raw_text(answer: FakeAnswer) -> str:
    """The text as the model emits it: thinking (in `<think>` tags) first, then the answer."""
    if answer.reasoning_content is None:
        return answer.content
    return f"<think>\n{answer.reasoning_content}\n</think>\n\n{answer.content}"


@dataclass(frozen=True)
class Generation:
    """What the fake model produced for one request."""

    content: str
    reasoning_content: str | None
    finish_reason: str
    """"stop" (it emitted its end token) or "length" (cut by max_tokens or a fault)."""
    completion_tokens: int
    """Generated tokens, counting the end token when finished with "stop" (as llama.cpp)."""
    pieces: tuple[str, ...]
    """The emitted text token by token (raw: thinking included), for streaming."""


def generate(answer: FakeAnswer, max_tokens: int | None, cut_at: int | None = None) -> Generation:
    """Play `answer` back under a `max_tokens` budget (None or negative: unbounded).

    The end token counts as one more token, so an answer of n tokens needs `max_tokens > n`
    to finish with "stop"; otherwise it is cut to `max_tokens` tokens, finish "length". Like
    llama.cpp b4748, only a "stop" answer gets its thinking split into `reasoning_content`;
    a cut answer keeps the raw thinking text in `content`. `cut_at` forces a "length" cut at
    that many tokens (a fault), even when the answer is shorter.
    """
    tokens = split_tokens(raw_text(answer))
    limit = max_tokens if max_tokens is not None and max_tokens >= 0 else None
    if cut_at is not None:
        limit = cut_at if limit is None else min(limit, cut_at)
        forced = True
    else:
        forced = False
    if limit is not None and (forced or len(tokens) + 1 > limit):
        kept = tokens[: max(limit, 0)]
        return Generation(
            content="".join(kept),
            reasoning_content=None,
            finish_reason="length",
            completion_tokens=len(kept),
            pieces=tuple(kept),
        )
    return Generation(
        content=answer.content,
        reasoning_content=answer.reasoning_content,
        finish_reason="stop",
        completion_tokens=len(tokens) + 1,
        pieces=tuple(tokens),
    )
