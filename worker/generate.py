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
from challenge.prompts import EMBEDDING_LEVELS, build_prompt
from worker import chain
from worker.context_fit import chained_worst_case, prompt_does_not_fit, prompt_was_cut
from worker.inflight import server_key, server_slot, slot_limit
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
    embeds_code = unit.level in EMBEDDING_LEVELS and bool(source and source.handoff_code)
    does_not_fit = _check_context(services, run, unit, attempt, embeds_code)
    if does_not_fit is not None:
        attempt.gen_finished_at = utc_now()
        attempt.record_infra_error(InfraStage.CONTEXT, does_not_fit)
        store.save_attempt(attempt, lease=(lease.stage, lease.token))
        log(unit, f"generate: not asked: {does_not_fit}")
        send_followups(services, run, attempt)
        return attempt
    assert services.chat_factory is not None
    chat = services.chat_factory(config, unit.model)
    log(unit, "generate: calling the model")

    def on_retry(retry: Retry) -> None:
        log(unit, f"retry in {retry.delay_s:.1f}s: {retry.message}")

    server, limit = server_key(run, unit.model), slot_limit(run, unit.model)

    def one_try() -> ChatReply:
        stop_if_cancelled(services, unit)
        with server_slot(services.store, server, limit, services.settings.lease_s,
                         check=lambda: stop_if_cancelled(services, unit)) as waited_s:
            attempt.slot_wait_s += waited_s
            return chat(prompt)

    result = call_with_retries(one_try, services.settings, sleep=services.sleep,
                               on_retry=on_retry)
    attempt.tries = result.tries
    attempt.retries = [RetryNote(kind=r.kind.value, message=r.message, delay_s=r.delay_s,
                                 status=r.status)
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
        attempt.server_build = reply.system_fingerprint
        attempt.call_duration_s = reply.duration_s
        cut = prompt_was_cut(attempt.prompt_tokens_counted, reply.usage)
        if cut is not None:  # the answer is kept to read, never scored nor handed on
            attempt.record_infra_error(InfraStage.CONTEXT, cut)
        else:
            attempt.gen_outcome = gen_outcome(unit.level, reply)
            if unit.level in CHAINED_LEVELS:
                attempt.handoff_code = extract_code_legacy(reply.content)
    store.save_attempt(attempt, lease=(lease.stage, lease.token))
    log(unit, f"generate: {attempt.status.value} {attempt.gen_outcome or ''} {attempt.error}")
    send_followups(services, run, attempt)
    return attempt


def _check_context(services: Services, run: Run, unit: Unit, attempt: Attempt,
                   embeds_code: bool) -> str | None:
    """Count the prompt's tokens on the server (kept in the attempt) and say why it cannot
    be asked, if so; a model's first unit also warns when chained prompts may outgrow the
    context (`worker.context_fit`)."""
    if services.counter_factory is None:
        return None
    config = run.models[unit.model]
    facts = run.endpoints.get(unit.model)
    n_ctx = facts.n_ctx if facts else None
    count = services.counter_factory(config, unit.model)
    attempt.prompt_tokens_counted = count(attempt.prompt)
    if unit.iteration == 1 and unit.level == run.spec.levels[0]:
        bare = {level.value: count(build_prompt(level, None, no_think=config.no_think))
                for level in run.spec.levels if level in EMBEDDING_LEVELS}
        attempt.context_warning = chained_worst_case(
            {level: n for level, n in bare.items() if n is not None}, config.max_tokens, n_ctx)
        if attempt.context_warning:
            log(unit, f"warning: {attempt.context_warning}")
    return prompt_does_not_fit(attempt.prompt_tokens_counted, config.max_tokens, n_ctx,
                               embeds_code)


def gen_outcome(level: Level, reply: ChatReply) -> GenOutcome:
    """no_code only when no scoring profile finds code in the answer."""
    if reply.finish_reason == "length":
        return GenOutcome.TRUNCATED
    has_code = any(candidate_files(reply.content, level, p) for p in SCORING_PROFILES)
    return GenOutcome.OK if has_code else GenOutcome.NO_CODE
