"""The generate unit: build the prompt, ask the model (under the retry policy), store the
Attempt, and send what follows (its score task, the next chain link).

A unit whose record already exists does not call the model again but re-sends its
follow-ups (same task ids), so a crash between the record write and the follow-ups cannot
stall a chain.
"""

from datetime import datetime

from challenge.bundle import candidate_files
from challenge.extraction import extract_code_legacy
from challenge.levels import CHAINED_LEVELS, Level
from challenge.prompts import build_prompt
from worker import chain
from worker.lease import Lease
from worker.llm import ChatReply, request_body
from worker.records import (
    Attempt,
    AttemptStatus,
    GenOutcome,
    InfraStage,
    RetryNote,
    Run,
    utc_now,
)
from worker.retry import Retry, call_with_retries
from worker.scorer import SCORING_PROFILES
from worker.services import Services, log, run_unit, stop_if_cancelled
from worker.unit import Stage, Unit


def send_followups(services: Services, run: Run, attempt: Attempt) -> None:
    """The score task of a generated attempt and the chain's next link."""
    if chain.halts_chain(attempt):
        return  # the chain waits; `resume` restarts it
    if attempt.status is not AttemptStatus.SCORED:
        services.dispatcher.send_score(attempt.unit)
    following = chain.next_link(run, attempt.unit)
    if following is not None:
        services.dispatcher.send_generate(following)


def generate_unit(services: Services, unit: Unit,
                  enqueued_at: datetime | None = None) -> Attempt | None:
    """Generate `unit` once; returns its record (None for an unknown run)."""
    return run_unit(services, unit, Stage.GENERATE, enqueued_at,
                    lambda lease: _generate(services, unit, enqueued_at, lease))


def _generate(services: Services, unit: Unit, enqueued_at: datetime | None,
              lease: Lease) -> Attempt | None:
    store = services.store
    run = store.get_run(unit.run_id)
    if run is None:
        log(unit, "unknown run: generate dropped")
        return None
    existing = store.get_attempt(unit)
    if existing and not existing.failed_at_generate:
        log(unit, "already generated: re-sending follow-ups")
        send_followups(services, run, existing)
        return existing

    config = run.models[unit.model]
    source = chain.handoff_source(run, unit, store.get_attempt)
    prompt = build_prompt(unit.level, source.handoff_code if source else None,
                          no_think=config.no_think)
    started = utc_now()
    attempt = Attempt(
        run_id=unit.run_id, model=unit.model, iteration=unit.iteration, level=unit.level,
        status=AttemptStatus.GENERATED, prompt=prompt,
        request=request_body(config, unit.model, prompt),
        accumulated_from=source.level if source else None,
        gen_host=services.host, enqueued_at=enqueued_at, gen_started_at=started,
        queued_s=(started - enqueued_at).total_seconds() if enqueued_at else None,
    )
    assert services.chat_factory is not None
    chat = services.chat_factory(config, unit.model)
    log(unit, "generate: calling the model")

    def on_retry(retry: Retry) -> None:
        log(unit, f"retry in {retry.delay_s:.1f}s: {retry.message}")

    def one_try() -> ChatReply:
        stop_if_cancelled(services, unit)
        return chat(prompt)

    result = call_with_retries(one_try, services.settings, sleep=services.sleep,
                               on_retry=on_retry)
    attempt.tries = result.tries
    attempt.retries = [RetryNote(kind=r.kind.value, message=r.message, delay_s=r.delay_s)
                       for r in result.retries]
    attempt.gen_finished_at = utc_now()
    if result.failure is not None:
        if result.is_infra_error:
            attempt.record_infra_error(InfraStage.GENERATE, result.failure.message)
        else:
            attempt.error = result.failure.message
            attempt.gen_outcome = GenOutcome.MODEL_ERROR
    else:
        reply = result.value
        assert reply is not None
        attempt.answer = reply.content
        attempt.reasoning_content = reply.reasoning_content
        attempt.finish_reason = reply.finish_reason
        attempt.usage = reply.usage
        attempt.timings = reply.timings
        attempt.call_duration_s = reply.duration_s
        attempt.gen_outcome = gen_outcome(unit.level, reply)
        if unit.level in CHAINED_LEVELS:
            attempt.handoff_code = extract_code_legacy(reply.content)
    store.save_attempt(attempt, lease=(lease.stage, lease.token))
    log(unit, f"generate: {attempt.status.value} {attempt.gen_outcome or ''} {attempt.error}")
    send_followups(services, run, attempt)
    return attempt


def gen_outcome(level: Level, reply: ChatReply) -> GenOutcome:
    """no_code only when no scoring profile finds code in the answer."""
    if reply.finish_reason == "length":
        return GenOutcome.TRUNCATED
    has_code = any(candidate_files(reply.content, level, p) for p in SCORING_PROFILES)
    return GenOutcome.OK if has_code else GenOutcome.NO_CODE
