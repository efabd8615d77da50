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
