"""Turn a canned answer into what a model would have generated: tokens, cut, finish reason.

There is no real tokenizer here. A "token" is a run of whitespace plus up to four other
characters, which is close to what BPE vocabularies give for English and code (about 3-4
characters a token) and, unlike a count, can cut a text exactly at N tokens: joining the
tokens gives the text back.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Any

from fakellm.answers import FakeAnswer
from fakellm.prompts import message_text

_TOKEN_RE = re.compile(r"\s*\S{1,4}|\s+")

#: The chat template's special tokens (ChatML): one token each, as a real tokenizer parses
#: them in a rendered prompt.
SPECIAL_TOKENS = ("<|im_start|>", "<|im_end|>")
_SPECIAL_RE = re.compile("(" + "|".join(re.escape(t) for t in SPECIAL_TOKENS) + ")")


def split_tokens(text: str) -> list[str]:
    """Split `text` into fake tokens; `"".join(split_tokens(t)) == t`."""
    return _TOKEN_RE.findall(text)


def count_tokens(text: str) -> int:
    """Number of fake tokens in `text`."""
    return len(split_tokens(text))


def render_template(messages: list[Any]) -> str:
    """The prompt the chat template makes of `messages` (what `/apply-template` returns),
    ending with the opening of the assistant's turn."""
    turns = []
    for message in messages:
        role = message.get("role") if isinstance(message, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        turns.append(f"<|im_start|>{role}\n{message_text(content)}<|im_end|>\n")
    return "".join(turns) + "<|im_start|>assistant\n"


def tokenize(text: str) -> list[str]:
    """`text` as fake tokens, each special token of the template one token (`/tokenize`)."""
    tokens: list[str] = []
    for piece in _SPECIAL_RE.split(text):
        tokens.extend([piece] if piece in SPECIAL_TOKENS else split_tokens(piece))
    return tokens


def token_id(piece: str) -> int:
    """A stable id for a fake token (what `/tokenize` returns)."""
    return zlib.crc32(piece.encode()) % 151_000


def count_prompt_tokens(messages: list[Any]) -> int:
    """`usage.prompt_tokens` of a chat: the tokens of its rendered template, exactly what
    `/apply-template` then `/tokenize` count."""
    return len(tokenize(render_template(messages)))


def context_shift_kept(prompt_tokens: int, n_ctx: int) -> int:
    """Tokens of a prompt of `prompt_tokens` that b4748 keeps in a slot of `n_ctx` (context
    shift on, n_keep 0): it drops whole blocks of n_ctx/2 tokens from the front until the
    rest fits, silently (observed: 208 of 592 in a 256-token slot)."""
    if prompt_tokens < n_ctx:
        return prompt_tokens
    block = max(1, n_ctx // 2)
    return prompt_tokens - (prompt_tokens - block) // block * block


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
