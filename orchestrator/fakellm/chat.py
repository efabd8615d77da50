"""POST /v1/chat/completions: validate, queue for a slot, inject faults, "generate", answer.

This module decides *what* happens to a chat request; the HTTP handler (`handler.py`) does
the writing through the small `Responder` interface, so the two can be read apart.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from orchestrator.fakellm.answers import AnswerSource, FakeAnswer, detect_level
from orchestrator.fakellm.faults import (
    Delay,
    Drop,
    EmptyAnswer,
    Fault,
    FaultPlan,
    HttpError,
    Truncate,
)
from orchestrator.fakellm.generation import (
    Generation,
    count_prompt_tokens,
    count_tokens,
    generate,
    raw_text,
)
from orchestrator.fakellm.latency import LatencyModel
from orchestrator.fakellm.payloads import (
    Envelope,
    Timings,
    chunk_body,
    completion_body,
    completion_id,
    final_chunk_body,
)
from orchestrator.fakellm.protocol import ApiError, ChatRequest, error_body, parse_chat_request
from orchestrator.fakellm.requestlog import RequestRecord
from orchestrator.fakellm.slots import SlotPool

logger = logging.getLogger(__name__)


class Responder(Protocol):
    """How chat logic talks back over HTTP (implemented by the request handler)."""

    def send_json(self, status: int, body: dict[str, Any]) -> None:
        """Send a complete JSON answer."""
        ...

    def start_stream(self) -> None:
        """Send 200 and the headers of a server-sent-event stream."""
        ...

    def send_event(self, data: str, event: str = "data") -> None:
        """Send one `event: data` line of the stream."""
        ...

    def end_stream(self) -> None:
        """End the stream (the connection stays usable)."""
        ...

    def drop(self, reset: bool) -> None:
        """Close the connection without (further) answer; `reset` aborts it with a TCP RST."""
        ...


@dataclass
class ChatContext:
    """What the chat endpoint needs from the server."""

    answers: AnswerSource
    faults: FaultPlan
    latency: LatencyModel
    slots: SlotPool
    stopping: threading.Event
    system_fingerprint: str
    next_chat_number: Callable[[], int]

    def pause(self, seconds: float) -> bool:
        """Sleep, but wake when the server stops; return False if it did."""
        if seconds > 0:
            return not self.stopping.wait(seconds)
        return not self.stopping.is_set()


def _dump(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def serve_chat(ctx: ChatContext, out: Responder, record: RequestRecord, raw: bytes) -> None:
    """Answer one chat-completion request, recording what happened in `record`."""
    try:
        req = parse_chat_request(raw)
    except ApiError as err:
        record.extra["error"] = err.message
        out.send_json(err.status, err.body())
        return
    record.level = detect_level(req.prompt)
    fault = ctx.faults.pick(ctx.next_chat_number(), record.level)
    if fault is not None:
        record.fault = type(fault).__name__
    try:
        gen = _generation(ctx.answers, req, fault)
    except Exception as exc:  # a broken answer source must not kill the handler thread
        logger.exception("answer source failed")
        out.send_json(500, error_body(500, f"answer source failed: {exc}", "server_error"))
        return
    prompt_tokens = count_prompt_tokens(req.messages)
    env = Envelope(completion_id(), int(time.time()), req.model, ctx.system_fingerprint)
    if req.stream:
        # llama-server sends the headers at once; a queued stream gets its data later.
        out.start_stream()
    with ctx.slots.slot() as acquired:
        if not acquired:
            out.drop(reset=False)
            return
        record.started_at = time.time()
        try:
            timings = _process(ctx, out, record, req, env, gen, prompt_tokens, fault)
        finally:
            record.finished_at = time.time()
    if timings is None:
        return
    record.extra["finish_reason"] = gen.finish_reason
    if req.stream:
        out.send_event(_dump(final_chunk_body(env, gen, prompt_tokens, timings)))
        out.send_event("[DONE]")
        out.end_stream()
    else:
        out.send_json(200, completion_body(env, gen, prompt_tokens, timings))


def _process(
    ctx: ChatContext,
    out: Responder,
    record: RequestRecord,
    req: ChatRequest,
    env: Envelope,
    gen: Generation,
    prompt_tokens: int,
    fault: Fault | None,
) -> Timings | None:
    """The part done holding a slot; None when the request was already refused or dropped."""
    if isinstance(fault, Delay) and not ctx.pause(fault.seconds):
        out.drop(reset=False)
        return None
    if isinstance(fault, Drop):
        out.drop(reset=fault.reset)
        return None
    if isinstance(fault, HttpError):
        record.extra["error"] = fault.message
        _send_error(out, req, fault)
        return None
    timings = _run(ctx, out, env, gen, prompt_tokens, stream=req.stream)
    if timings is None:  # the server is stopping
        out.drop(reset=False)
    return timings


def _generation(answers: AnswerSource, req: ChatRequest, fault: Fault | None) -> Generation:
    """Ask the answer source, then apply max_tokens and any answer-changing fault."""
    answer = answers.answer(req.prompt, req.body)
    if isinstance(fault, EmptyAnswer):
        answer = FakeAnswer("")
    cut_at = None
    if isinstance(fault, Truncate):
        cut_at = fault.cut_at(count_tokens(raw_text(answer)))
    return generate(answer, req.max_tokens, cut_at)


def _send_error(out: Responder, req: ChatRequest, fault: HttpError) -> None:
    """An injected error: an HTTP error, or for a stream (headers already sent) an event."""
    body = error_body(fault.status, fault.message, fault.type)
    if req.stream:
        out.send_event(_dump(body["error"]), event="error")
        out.send_event("[DONE]")
        out.end_stream()
    else:
        out.send_json(fault.status, body)


def _run(
    ctx: ChatContext,
    out: Responder,
    env: Envelope,
    gen: Generation,
    prompt_tokens: int,
    *,
    stream: bool,
) -> Timings | None:
    """Spend the simulated time (streaming pieces as they come); None if the server stopped."""
    if not ctx.pause(ctx.latency.base_s):
        return None
    start = time.perf_counter()
    if not ctx.pause(ctx.latency.prompt_s(prompt_tokens)):
        return None
    prompt_done = time.perf_counter()
    if stream:
        for piece in gen.pieces:
            if not ctx.pause(ctx.latency.token_s()):
                return None
            out.send_event(_dump(chunk_body(env, piece)))
        extra_tokens = gen.completion_tokens - len(gen.pieces)  # the end token
        if not ctx.pause(ctx.latency.generation_s(extra_tokens)):
            return None
    elif not ctx.pause(ctx.latency.generation_s(gen.completion_tokens)):
        return None
    done = time.perf_counter()
    return Timings(
        prompt_n=prompt_tokens,
        prompt_ms=(prompt_done - start) * 1000.0,
        predicted_n=gen.completion_tokens,
        predicted_ms=(done - prompt_done) * 1000.0,
    )
