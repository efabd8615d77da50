"""Progress, pure: a cancelled run is done (following stops) but not complete."""

from challenge.levels import Level
from orchestrator.planning import build_run
from orchestrator.progress import run_progress
from worker.config import ModelConfig
from worker.records import Attempt, AttemptStatus, GenOutcome
from worker.unit import Unit

RUN = build_run("r1", {"m": ModelConfig(base_url="http://127.0.0.1:9/v1")},
                [Level.L1, Level.L4], 1, {}, "img")


def test_a_cancelled_run_is_done_but_not_complete() -> None:
    running = run_progress(RUN, {})
    assert not running.done and not running.cancelled
    cancelled = run_progress(RUN, {}, cancelled=True)
    assert cancelled.done and not cancelled.complete
    assert cancelled.as_json()["cancelled"] is True and cancelled.as_json()["done"] is True


def test_a_run_scored_in_full_stays_complete_when_cancelled() -> None:
    attempts = {Unit("r1", "m", 1, level): Attempt(
        run_id="r1", model="m", iteration=1, level=level, status=AttemptStatus.SCORED,
        gen_outcome=GenOutcome.OK) for level in (Level.L1, Level.L4)}
    assert run_progress(RUN, attempts, cancelled=True).complete


def test_time_left_follows_each_models_own_pace() -> None:
    """m finished 2 units in 60 s since its first call: 30 s a unit. With 4 pending, 120 s
    left; a model with nothing finished has no pace yet, so the run's estimate is unknown."""
    from datetime import UTC, datetime, timedelta

    run = build_run("r2", {name: ModelConfig(base_url="http://127.0.0.1:9/v1")
                           for name in ("m", "slow")}, [Level.L1, Level.L4], 3, {}, "img")
    start = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def record(model: str, iteration: int, level: Level, status: AttemptStatus) -> Attempt:
        return Attempt(run_id="r2", model=model, iteration=iteration, level=level,
                       status=status, gen_outcome=GenOutcome.OK, gen_started_at=start)

    attempts = {a.unit: a for a in (
        record("m", 1, Level.L1, AttemptStatus.SCORED),
        record("m", 1, Level.L4, AttemptStatus.INFRA_ERROR),
        record("slow", 1, Level.L1, AttemptStatus.GENERATED),
    )}
    progress = run_progress(run, attempts, now=start + timedelta(seconds=60))
    left = {m.model: m.left_s for m in progress.models}
    assert left == {"m": 120.0, "slow": None}
    assert progress.left_s is None
    assert progress.as_json()["models_left_s"] == {"m": 120.0, "slow": None}
    # Once slow has a pace too, the run's estimate is the slower model's: 5 pending at 60 s.
    attempts[Unit("r2", "slow", 1, Level.L1)] = record("slow", 1, Level.L1,
                                                        AttemptStatus.SCORED)
    progress = run_progress(run, attempts, now=start + timedelta(seconds=60))
    assert [m.left_s for m in progress.models] == [120.0, 300.0]
    assert progress.left_s == 300.0
    assert run_progress(run, attempts).left_s is None  # without a clock, no estimate
