"""The score unit: load the generated Attempt, score its answer in a sandbox (starts retried
under the same policy as model calls), store the report in the Attempt."""

from datetime import datetime

from worker.lease import Lease
from worker.records import Attempt, AttemptStatus, InfraStage, RetryNote, utc_now
from worker.retry import Failure, FailureKind, Retry, call_with_retries
from worker.sandbox import LABEL_LEASE, LABEL_RUN, SandboxUnavailable, sandbox_limits
from worker.scorer import ScoreReport, score_answer
from worker.services import Services, log, run_unit, stop_if_cancelled
from worker.unit import Stage, Unit
from worker.versions import scoring_version


def score_unit(services: Services, unit: Unit,
               enqueued_at: datetime | None = None) -> Attempt | None:
    """Score `unit` once; returns its record (None when nothing was generated)."""
    return run_unit(services, unit, Stage.SCORE, enqueued_at,
                    lambda lease: _score(services, unit, enqueued_at, lease))


def _score(services: Services, unit: Unit, enqueued_at: datetime | None,
           lease: Lease) -> Attempt | None:
    store = services.store
    attempt = store.get_attempt(unit)
    if attempt is None:
        log(unit, "no record to score")
        return None
    if attempt.status is AttemptStatus.SCORED or attempt.failed_at_generate:
        return attempt
    assert services.sandbox_factory is not None
    sandbox_factory = services.sandbox_factory
    attempt.score_host = services.host
    attempt.score_started_at = utc_now()
    attempt.score_enqueued_at = enqueued_at
    if enqueued_at is not None:
        attempt.score_queued_s = (attempt.score_started_at - enqueued_at).total_seconds()
    limits = sandbox_limits(services.settings)
    label = lease_label(store.store_id(), lease)

    def one_try() -> ScoreReport:
        stop_if_cancelled(services, unit)
        try:
            return score_answer(attempt.answer, unit.level, sandbox_factory(), limits,
                                labels={LABEL_RUN: unit.run_id,
                                        LABEL_LEASE: label})
        except SandboxUnavailable as exc:
            raise Failure(FailureKind.INFRA, f"sandbox: {exc}") from exc

    def on_retry(retry: Retry) -> None:
        log(unit, f"score: retry in {retry.delay_s:.1f}s: {retry.message}")

    result = call_with_retries(one_try, services.settings, sleep=services.sleep,
                               on_retry=on_retry)
    attempt.score_retries = [RetryNote(kind=r.kind.value, message=r.message,
                                       delay_s=r.delay_s) for r in result.retries]
    attempt.score_finished_at = utc_now()
    if result.value is None:
        assert result.failure is not None
        attempt.record_infra_error(InfraStage.SCORE, result.failure.message)
        log(unit, f"score: infra_error {result.failure.message}")
    else:
        attempt.record_scoring(result.value, scoring_version())
        log(unit, f"score: {attempt.scores}")
    store.save_attempt(attempt, lease=(lease.stage, lease.token))
    return attempt


def lease_label(store_id: str, lease: Lease) -> str:
    """`{store id}/{unit key}:{stage}={token}`: lets a sweeper of the same record store tell
    a dead worker's sandbox by its lease."""
    return f"{store_id}/{lease.unit.task_id(lease.stage)}={lease.token}"
