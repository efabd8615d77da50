"""What a generate or score unit does, apart from Celery (tasks.py only wires this up).

Chain rules (DESIGN.md, Data flow): per (model, iteration) the selected levels among L1..L3
generate in order, each handing its extracted code to the next; L4 and L5 are independent.
Every finished generate sends its score unit at once. A unit whose record already exists does
not call the model again but re-sends its follow-ups (same task ids), so a crash between the
record write and the follow-ups cannot stall a chain.
"""

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from challenge.bundle import candidate_files
from challenge.extraction import extract_code_legacy
from challenge.levels import CHAINED_LEVELS, Level, Profile
from challenge.prompts import build_prompt
from worker.callpolicy import backoff_s, call_with_policy
from worker.config import ModelConfig
from worker.dispatch import Dispatcher
from worker.llm import ChatReply, request_body
from worker.records import Attempt, AttemptStatus, GenOutcome, Run, utc_now
from worker.sandbox import Sandbox, SandboxLimits, SandboxUnavailable
from worker.scorer import SCORING_PROFILES, ScoreReport, score_answer
from worker.settings import Settings
from worker.store import RecordStore
from worker.versions import scoring_version

logger = logging.getLogger(__name__)

ChatFn = Callable[[str], ChatReply]


@dataclass
class Services:
    """What units need from the outside world, injected so tests can substitute parts."""

    store: RecordStore
    dispatcher: Dispatcher
    settings: Settings
    host: str
    chat_factory: Callable[[ModelConfig, str], ChatFn] | None = None
    sandbox_factory: Callable[[], Sandbox] | None = None
    sleep: Callable[[float], None] = field(default=time.sleep)


def chained_levels(run: Run) -> list[Level]:
    return [lv for lv in CHAINED_LEVELS if lv in run.spec.levels]


def first_units(run: Run) -> list[Level]:
    """Levels to enqueue at submit time for each (model, iteration)."""
    chain = chained_levels(run)
    heads = chain[:1]
    return heads + [lv for lv in run.spec.levels if lv not in CHAINED_LEVELS]


def next_link(run: Run, level: Level) -> Level | None:
    chain = chained_levels(run)
    if level not in chain:
        return None
    index = chain.index(level)
    return chain[index + 1] if index + 1 < len(chain) else None


def handoff(store: RecordStore, run: Run, model: str, iteration: int, level: Level
            ) -> tuple[str | None, Level | None]:
    """The code the prompt embeds: the latest earlier chained level with non-empty code."""
    chain = chained_levels(run)
    if level not in chain:
        return None, None
    for earlier in reversed(chain[: chain.index(level)]):
        attempt = store.get_attempt(run.run_id, model, iteration, earlier)
        if attempt and attempt.handoff_code:
            return attempt.handoff_code, earlier
    return None, None


def _send_followups(services: Services, run: Run, attempt: Attempt) -> None:
    if attempt.failed_at_generate:
        return  # the chain waits; `resume` restarts it
    if attempt.status is not AttemptStatus.SCORED:
        services.dispatcher.send_score(run.run_id, attempt.model, attempt.iteration, attempt.level)
    following = next_link(run, attempt.level)
    if following is not None:
        services.dispatcher.send_generate(run.run_id, attempt.model, attempt.iteration, following)


def _log(attempt: Attempt | tuple[str, str, int, Level], event: str) -> None:
    if isinstance(attempt, Attempt):
        run_id, model, iteration, level = (attempt.run_id, attempt.model, attempt.iteration,
                                           attempt.level)
    else:
        run_id, model, iteration, level = attempt
    logger.info("run=%s model=%s iter=%s level=%s %s", run_id, model, iteration, level.value,
                event)


def generate_unit(services: Services, run_id: str, model: str, iteration: int, level: Level,
                  enqueued_at: datetime | None = None) -> Attempt | None:
    store = services.store
    run = store.get_run(run_id)
    if run is None:
        logger.error("run=%s unknown run: generate dropped", run_id)
        return None
    existing = store.get_attempt(run_id, model, iteration, level)
    if existing and not existing.failed_at_generate:
        _log(existing, "already generated: re-sending follow-ups")
        _send_followups(services, run, existing)
        return existing

    config = run.models[model]
    code, source = handoff(store, run, model, iteration, level)
    prompt = build_prompt(level, code, no_think=config.no_think)
    started = utc_now()
    attempt = Attempt(
        run_id=run_id, model=model, iteration=iteration, level=level,
        status=AttemptStatus.GENERATED, prompt=prompt,
        request=request_body(config, model, prompt), accumulated_from=source,
        gen_host=services.host, enqueued_at=enqueued_at, gen_started_at=started,
        queued_s=(started - enqueued_at).total_seconds() if enqueued_at else None,
    )
    assert services.chat_factory is not None
    chat = services.chat_factory(config, model)
    _log(attempt, "generate: calling the model")
    result = call_with_policy(
        lambda: chat(prompt), services.settings, sleep=services.sleep,
        on_retry=lambda failure, delay: _log(attempt, f"retry in {delay:.1f}s: {failure.message}"),
    )
    attempt.tries = result.tries
    attempt.gen_finished_at = utc_now()
    if result.failure is not None:
        attempt.error = result.failure.message
        if result.is_infra_error:
            attempt.status = AttemptStatus.INFRA_ERROR
            attempt.infra_stage = "generate"
        else:
            attempt.gen_outcome = GenOutcome.MODEL_ERROR
    else:
        reply = result.reply
        assert reply is not None
        attempt.answer = reply.content
        attempt.reasoning_content = reply.reasoning_content
        attempt.finish_reason = reply.finish_reason
        attempt.usage = reply.usage
        attempt.timings = reply.timings
        attempt.call_duration_s = reply.duration_s
        attempt.gen_outcome = _gen_outcome(level, reply)
        if level in CHAINED_LEVELS:
            attempt.handoff_code = extract_code_legacy(reply.content)
    store.save_attempt(attempt)
    _log(attempt, f"generate: {attempt.status.value} {attempt.gen_outcome or ''} {attempt.error}")
    _send_followups(services, run, attempt)
    return attempt


def _gen_outcome(level: Level, reply: ChatReply) -> GenOutcome:
    """no_code only when no scoring profile finds code in the answer."""
    has_code = any(candidate_files(reply.content, level, p) for p in SCORING_PROFILES)
    if reply.finish_reason == "length":
        return GenOutcome.TRUNCATED
    return GenOutcome.OK if has_code else GenOutcome.NO_CODE


def sandbox_limits(settings: Settings) -> SandboxLimits:
    return SandboxLimits(
        memory_mb=settings.sandbox_memory_mb, pids=settings.sandbox_pids,
        wall_clock_s=settings.sandbox_wall_clock_s, test_timeout_s=settings.sandbox_test_timeout_s,
        output_cap_bytes=settings.sandbox_output_cap_bytes,
    )


def score_unit(services: Services, run_id: str, model: str, iteration: int, level: Level,
               profiles: tuple[Profile, ...] = SCORING_PROFILES) -> Attempt | None:
    store = services.store
    attempt = store.get_attempt(run_id, model, iteration, level)
    if attempt is None:
        logger.error("run=%s model=%s iter=%s level=%s no record to score", run_id, model,
                     iteration, level.value)
        return None
    if attempt.status is AttemptStatus.SCORED:
        return attempt
    if attempt.failed_at_generate:
        return attempt
    assert services.sandbox_factory is not None
    attempt.score_host = services.host
    attempt.score_started_at = utc_now()
    rng = random.Random()
    tries = 0
    while True:
        tries += 1
        try:
            report = score_answer(
                attempt.answer, level, services.sandbox_factory(),
                sandbox_limits(services.settings),
                profiles=profiles, labels={"org.jqbench.run_id": run_id},
            )
            break
        except SandboxUnavailable as exc:
            if tries > services.settings.infra_retries:
                attempt.status = AttemptStatus.INFRA_ERROR
                attempt.infra_stage = "score"
                attempt.error = f"sandbox: {exc}"
                attempt.score_finished_at = utc_now()
                store.save_attempt(attempt)
                _log(attempt, f"score: infra_error {exc}")
                return attempt
            delay = backoff_s(services.settings, tries, rng)
            _log(attempt, f"score: sandbox unavailable, retry in {delay:.1f}s: {exc}")
            services.sleep(delay)
    apply_report(attempt, report)
    attempt.score_finished_at = utc_now()
    store.save_attempt(attempt)
    _log(attempt, f"score: {attempt.scores}")
    return attempt


def apply_report(attempt: Attempt, report: ScoreReport) -> None:
    """Copy a scoring report into the attempt (used by score and regrade)."""
    attempt.status = AttemptStatus.SCORED
    attempt.infra_stage = None
    if attempt.gen_outcome is not GenOutcome.MODEL_ERROR:
        attempt.error = ""
    attempt.extracted = {str(k): dict(v) for k, v in report.extracted.items()}
    attempt.tests = list(report.tests)
    attempt.scores = {str(k): float(v) for k, v in report.scores.items()}
    attempt.level_scores = {str(k): v for k, v in report.level_scores.items()}
    attempt.sandbox_exit_code = report.sandbox_exit_code
    attempt.sandbox_output = report.sandbox_output
    attempt.sandbox_versions = {k: v for k, v in (("python", report.python),
                                                  ("pytest", report.pytest)) if v}
    attempt.score_duration_s = report.duration_s
    attempt.scoring_version = scoring_version()

