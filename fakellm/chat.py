"""POST /v1/chat/completions: queue for a slot, inject faults, "generate", answer.

`serve_chat` gets a request already parsed (`protocol.parse_chat_request`) and the model it
is for (`model.ModelServer`); it answers through a `responder.Responder`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fakellm.answers import AnswerSource, FakeAnswer
from fakellm.faults import Delay, Drop, EmptyAnswer, Fault, Hang, HttpError, Truncate
from fakellm.generation import (
    Generation,
    context_shift_kept,
    count_prompt_tokens,
    count_tokens,
    generate,
    raw_text,
)
from fakellm.model import ModelServer
from fakellm.payloads import (
    Envelope,
    Timings,
    chunk_body,
    completion_body,
    completion_id,
    final_chunk_body,
    json_text,
)
from fakellm.prompts import detect_level
from fakellm.protocol import ChatRequest, error_body
from fakellm.requestlog import RequestRecord
from fakellm.responder import Responder

logger = logging.getLogger(__name__)

#: How often a hanging request looks whether its client went away.
HANG_POLL_S = 0.05


def _dump(body: dict[str, Any]) -> str:
    return json_text(body)


def serve_chat(model: ModelServer, out: Responder, record: RequestRecord, req: ChatRequest) -> None:
    """Answer one chat-completion request, recording what happened in `record`."""
    level = detect_level(req.prompt)
    record.level = level.value if level is not None else None
    fault = model.spec.faults.pick(model.next_chat_number(), record.level)
    if fault is not None:
        record.fault = type(fault).__name__
    try:
        gen = _generation(model.spec.answers, req, fault)
    except Exception as exc:  # a broken answer source must not kill the handler thread
        logger.exception("answer source failed")
        out.send_json(500, error_body(500, f"answer source failed: {exc}", "server_error"))
        return
    prompt_tokens = count_prompt_tokens(req.messages)
    n_ctx = model.spec.n_ctx
    if prompt_tokens >= n_ctx:
        if not model.context_shift:
            record.extra["error"] = "exceeds context"
            out.send_json(400, _exceeds_context(model, prompt_tokens))  # before any stream
            return
        record.extra["prompt_cut_from"] = prompt_tokens
        prompt_tokens = context_shift_kept(prompt_tokens, n_ctx)
    env = Envelope(completion_id(), int(time.time()), req.model, model.dialect.build_info)
    if req.stream:
        # llama-server sends the headers at once; a queued stream gets its data later.
        out.start_stream()
    with model.slots.slot() as acquired:
        if not acquired:
            out.drop(reset=False)
            return
        record.started_at = time.time()
        try:
            timings = _process(model, out, record, req, env, gen, prompt_tokens, fault)
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
    model: ModelServer,
    out: Responder,
    record: RequestRecord,
    req: ChatRequest,
    env: Envelope,
    gen: Generation,
    prompt_tokens: int,
    fault: Fault | None,
) -> Timings | None:
    """The part done holding a slot; None when the request was already refused or dropped."""
    if isinstance(fault, Delay) and not model.pause(fault.seconds):
        out.drop(reset=False)
        return None
    if isinstance(fault, Drop):
        out.drop(reset=fault.reset)
        return None
    if isinstance(fault, Hang):
        while model.pause(HANG_POLL_S) and not out.client_gone():
            pass
        out.drop(reset=False)
        return None
    if isinstance(fault, HttpError):
        record.extra["error"] = fault.message
        _send_error(out, req, fault)
        return None
    timings = _run(model, out, env, gen, prompt_tokens, stream=req.stream)
    if timings is None:  # the model is stopping
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


def _exceeds_context(model: ModelServer, prompt_tokens: int) -> dict[str, Any]:
    """The refusal of a prompt that does not fit the slot's context, in the dialect's words."""
    body = error_body(400, "the request exceeds the available context size, try increasing "
                      "it", model.dialect.context_error_type)
    if model.dialect.context_error_type == "exceed_context_size_error":
        body["error"].update(n_prompt_tokens=prompt_tokens, n_ctx=model.spec.n_ctx)
    return body


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
    model: ModelServer,
    out: Responder,
    env: Envelope,
    gen: Generation,
    prompt_tokens: int,
    *,
    stream: bool,
) -> Timings | None:
    """Spend the simulated time (streaming pieces as they come); None if the model stopped."""
    latency = model.spec.latency
    if not model.pause(latency.base_s):
        return None
    start = time.perf_counter()
    if not model.pause(latency.prompt_s(prompt_tokens)):
        return None
    prompt_done = time.perf_counter()
    if stream:
        for piece in gen.pieces:
            if not model.pause(latency.token_s()):
                return None
            out.send_event(_dump(chunk_body(env, piece)))
        extra_tokens = gen.completion_tokens - len(gen.pieces)  # the end token
        if not model.pause(latency.generation_s(extra_tokens)):
            return None
    elif not model.pause(latency.generation_s(gen.completion_tokens)):
        return None
    done = time.perf_counter()
    return Timings(
        prompt_n=prompt_tokens,
        prompt_ms=(prompt_done - start) * 1000.0,
        predicted_n=gen.completion_tokens,
        predicted_ms=(done - prompt_done) * 1000.0,
    )
