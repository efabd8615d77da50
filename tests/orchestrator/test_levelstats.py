"""Per-level statistics over synthetic records: pass rates, pass@k, failure causes, tokens.

Every expected number is worked out by hand in the comment beside it."""

from typing import Any

import pytest

from challenge.levels import MAX_POINTS, Level, Profile
from challenge.outcomes import TestOutcome
from orchestrator.levelstats import FailureCause, failure_cause, level_statistics
from worker.config import ModelConfig
from worker.records import (
    Attempt,
    AttemptStatus,
    Fingerprint,
    GenOutcome,
    InfraStage,
    Run,
    RunSpec,
    ScoreReport,
)
from worker.unit import Unit

CODE = {"legacy": {"job_queue.py": "x = 1\n"}, "strict": {"job_queue.py": "x = 1\n"}}


def make_run(iterations: int) -> Run:
    return Run(run_id="r", spec=RunSpec(models=["m"], levels=[Level.L1], iterations=iterations),
               models={"m": ModelConfig(base_url="http://gpu:1/v1")},
               fingerprint=Fingerprint(harness_version="0", challenge_sha256="x",
                                       sandbox_image="img"))


def attempt(iteration: int, points: float | None, *, tests: list[TestOutcome] = (),
            extracted: dict | None = None, status: AttemptStatus = AttemptStatus.SCORED,
            timed_out: bool = False, **fields: Any) -> Attempt:
    report = None
    if status is AttemptStatus.SCORED:
        report = ScoreReport(level=Level.L1, status="ok",
                             scores={"legacy": points, "strict": points},
                             tests=list(tests), extracted=CODE if extracted is None else extracted,
                             sandbox_timed_out=timed_out)
    defaults: dict[str, Any] = {"gen_outcome": GenOutcome.OK}
    return Attempt(run_id="r", model="m", iteration=iteration, level=Level.L1, status=status,
                   report=report, **(defaults | fields))


def outcome(kind: str, cause: str | None = None, profile: str = "legacy") -> TestOutcome:
    return TestOutcome(profile=Profile(profile), id="L1::t", outcome=kind, cause=cause)


def as_map(records: list[Attempt]) -> dict[Unit, Attempt]:
    return {a.unit: a for a in records}


def test_pass_rate_wilson_and_pass_at_k_of_three_passes_in_five() -> None:
    full = MAX_POINTS[Level.L1]  # 25
    records = [attempt(i, p) for i, p in enumerate([full, 10, full, 0, full], start=1)]
    stats = level_statistics(make_run(5), as_map(records), "m", Level.L1, Profile.LEGACY)
    assert (stats.scored, stats.full_points, stats.pass_rate) == (5, 3, 0.6)
    # Wilson, z = 1.96, n = 5, p = 0.6: centre (0.6 + 0.38416) / 1.76832 = 0.55652,
    # half-width 1.96 * sqrt(0.048 + 0.038416) / 1.76832 = 0.32588 -> [0.2307, 0.8824].
    assert stats.pass_rate_ci95 == pytest.approx([0.2307, 0.8824], abs=1e-4)
    # pass@k = 1 - C(2, k) / C(5, k): k=1 0.6, k=2 1 - 1/10 = 0.9, k>=3 1.
    assert stats.pass_at_k == pytest.approx({1: 0.6, 2: 0.9, 3: 1.0, 4: 1.0, 5: 1.0})
    assert stats.mean_points == pytest.approx((25 * 3 + 10) / 5)  # 17
    assert stats.causes == {FailureCause.TESTS_FAILED: 2}


def test_an_infra_error_is_a_cause_but_not_a_trial_and_pending_records_are_neither() -> None:
    records = [
        attempt(1, 25),
        attempt(2, None, status=AttemptStatus.INFRA_ERROR, infra_stage=InfraStage.SCORE),
        attempt(3, None, status=AttemptStatus.GENERATED),
    ]
    stats = level_statistics(make_run(3), as_map(records), "m", Level.L1, Profile.LEGACY)
    assert (stats.scored, stats.full_points, stats.pass_rate) == (1, 1, 1.0)
    assert stats.causes == {FailureCause.INFRA_ERROR: 1}


def test_no_scored_record_gives_no_rate() -> None:
    stats = level_statistics(make_run(2), {}, "m", Level.L1, Profile.LEGACY)
    assert (stats.scored, stats.pass_rate, stats.pass_rate_ci95, stats.pass_at_k) == (
        0, None, None, {})
    assert stats.mean_points is None and stats.tokens_per_s is None


@pytest.mark.parametrize(("record", "cause"), [
    (attempt(1, 25), None),
    (attempt(1, 0, gen_outcome=GenOutcome.MODEL_ERROR, extracted={}), FailureCause.MODEL_ERROR),
    (attempt(1, 0, gen_outcome=GenOutcome.NO_CODE, extracted={}), FailureCause.NO_CODE),
    (attempt(1, 0, extracted={"legacy": {}, "strict": CODE["strict"]}), FailureCause.NO_CODE),
    (attempt(1, 5, gen_outcome=GenOutcome.TRUNCATED,
             tests=[outcome("error", "import_error")]), FailureCause.TRUNCATED),
    (attempt(1, 0, tests=[outcome("error", "import_error"), outcome("error", "timeout")]),
     FailureCause.IMPORT_ERROR),
    (attempt(1, 20, tests=[outcome("failed"), outcome("error", "timeout")]),
     FailureCause.TIMED_OUT),
    (attempt(1, 20, tests=[outcome("failed")], timed_out=True), FailureCause.TIMED_OUT),
    (attempt(1, 20, tests=[outcome("failed"), outcome("error", "void")]),
     FailureCause.TESTS_FAILED),
    # Another profile's causes are not this profile's.
    (attempt(1, 20, tests=[outcome("error", "import_error", profile="strict")]),
     FailureCause.TESTS_FAILED),
    (attempt(1, None, status=AttemptStatus.GENERATED), None),
])
def test_failure_cause_reads_structured_fields_in_order(record: Attempt,
                                                        cause: FailureCause | None) -> None:
    assert failure_cause(record, Profile.LEGACY) == cause


def test_a_message_that_looks_like_a_cause_does_not_make_one() -> None:
    """Candidate text can put anything in a message: only the harness's cause field counts."""
    lying = TestOutcome(profile=Profile.LEGACY, id="L1::t", outcome="failed",
                        message="collection failed: timed out after 5 s (killed)")
    assert failure_cause(attempt(1, 20, tests=[lying]), Profile.LEGACY) == (
        FailureCause.TESTS_FAILED)


def test_tokens_speed_and_model_time_are_means_over_what_reports_them() -> None:
    records = [
        attempt(1, 25, usage={"completion_tokens": 100}, timings={"predicted_per_second": 40.0},
                call_duration_s=2.0),
        attempt(2, 25, usage={"completion_tokens": 300}, timings={"predicted_per_second": "fast"},
                call_duration_s=4.0),
        attempt(3, 25, usage=None, timings={"predicted_per_second": 20}, call_duration_s=None),
    ]
    stats = level_statistics(make_run(3), as_map(records), "m", Level.L1, Profile.LEGACY)
    assert stats.completion_tokens == 200  # (100 + 300) / 2
    assert stats.tokens_per_s == 30  # (40 + 20) / 2; "fast" is not a number
    assert stats.model_time_s == 3  # (2 + 4) / 2


def test_records_beyond_the_requested_iterations_are_ignored() -> None:
    records = [attempt(1, 25), attempt(2, 0)]
    stats = level_statistics(make_run(1), as_map(records), "m", Level.L1, Profile.LEGACY)
    assert (stats.scored, stats.full_points) == (1, 1)
