"""Statistics over synthetic Attempt records: completeness, best iteration, rounding, subsets."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from challenge.levels import LEVELS, MAX_POINTS, Level, Profile
from challenge.points import LevelScore
from orchestrator.statistics import (
    as_number,
    iteration_total,
    model_duration_ms,
    model_statistics,
    scored_profiles,
)
from worker.config import ModelConfig
from worker.records import Attempt, AttemptStatus, Fingerprint, GenOutcome, Run, RunSpec
from worker.unit import Unit

T0 = datetime(2026, 2, 1, 12, 0, 0, tzinfo=UTC)
AttemptMap = dict[Unit, Attempt]


def U(model: str, iteration: int, level: Level) -> Unit:
    """The unit of a record of this file's run."""
    return Unit("run-1", model, iteration, level)


LEGACY_TESTS = {Level.L1: 5, Level.L2: 10, Level.L3: 15, Level.L4: 1, Level.L5: 2}


def make_run(models: tuple[str, ...] = ("alpha",), levels: tuple[Level, ...] = LEVELS,
             iterations: int = 3) -> Run:
    return Run(
        run_id="run-1",
        spec=RunSpec(models=list(models), levels=list(levels), iterations=iterations,
                     subset=len(levels) < len(LEVELS)),
        models={m: ModelConfig(base_url="http://gpu1:7093/v1") for m in models},
        fingerprint=Fingerprint(harness_version="0", challenge_sha256="x", sandbox_image="img"),
    )


def make_attempt(model: str = "alpha", iteration: int = 1, level: Level = Level.L1, *,
                 status: AttemptStatus = AttemptStatus.SCORED, points: float | None = None,
                 strict: float | None = None, passed: int | None = None, **fields: Any
                 ) -> Attempt:
    """A record as the worker leaves it; `points` defaults to the level's full points."""
    scores: dict[str, float] = {}
    level_scores: dict[str, LevelScore] = {}
    if status is AttemptStatus.SCORED:
        points = MAX_POINTS[level] if points is None else points
        total = LEGACY_TESTS[level]
        passed = total if passed is None else passed
        scores["legacy"] = float(points)
        level_scores["legacy"] = LevelScore(
            profile=Profile.LEGACY, level=level, points=points, max_points=MAX_POINTS[level],
            tests_passed=passed, tests_total=total,
            tests_total_original=passed + 2 * (total - passed))
        if strict is not None:
            scores["strict"] = strict
    defaults: dict[str, Any] = {"gen_outcome": GenOutcome.OK, "call_duration_s": 1.5}
    return Attempt(run_id="run-1", model=model, iteration=iteration, level=level, status=status,
                   scores=scores, level_scores=level_scores, **(defaults | fields))


def full_iteration(model: str, iteration: int, total_of: dict[Level, float] | None = None,
                   levels: tuple[Level, ...] = LEVELS) -> AttemptMap:
    """A complete iteration; `total_of` overrides some levels' points."""
    total_of = total_of or {}
    return {U(model, iteration, lv): make_attempt(model, iteration, lv, points=total_of.get(lv))
            for lv in levels}


def test_complete_and_incomplete_iterations_with_reasons() -> None:
    run = make_run(iterations=4)
    attempts: AttemptMap = {}
    for iteration in (1, 2, 3, 4):
        attempts |= full_iteration("alpha", iteration)
    attempts[U("alpha", 1, Level.L3)] = make_attempt(
        "alpha", 1, Level.L3, status=AttemptStatus.INFRA_ERROR, error="connection refused")
    attempts[U("alpha", 2, Level.L4)] = make_attempt("alpha", 2, Level.L4,
                                                    status=AttemptStatus.GENERATED)
    del attempts[U("alpha", 3, Level.L5)]

    stats = model_statistics(run, attempts, "alpha", Profile.LEGACY)

    assert stats.iterations == 4
    assert stats.complete_iterations == [4]
    assert stats.all_scores == [100]
    assert [i.model_dump(mode="json") for i in stats.incomplete] == [
        {"iteration": 1,
         "levels": {"L3": {"status": "infra_error", "error": "connection refused"}}},
        {"iteration": 2, "levels": {"L4": {"status": "generated", "error": None}}},
        {"iteration": 3, "levels": {"L5": {"status": "missing", "error": None}}},
    ]


def test_best_iteration_is_the_first_maximum_counted_among_requested_iterations() -> None:
    run = make_run(iterations=3)
    attempts = full_iteration("alpha", 1) | full_iteration("alpha", 2, {Level.L5: 0}) \
        | full_iteration("alpha", 3, {Level.L4: 5, Level.L5: 10})
    attempts[U("alpha", 1, Level.L2)] = make_attempt("alpha", 1, Level.L2,
                                                    status=AttemptStatus.INFRA_ERROR)
    # iteration 2: 25+25+25+15+0 = 90; iteration 3: 25+25+25+5+10 = 90

    stats = model_statistics(run, attempts, "alpha", Profile.LEGACY)

    assert stats.complete_iterations == [2, 3]
    assert stats.all_scores == [90, 90]
    assert stats.best_iteration == 2
    assert (stats.best_score, stats.min_score, stats.max_score) == (90, 90, 90)
    assert stats.avg_score == 90.0
    assert stats.percentage == 90.0
    assert [lv.points for lv in stats.best_levels] == [25, 25, 25, 15, 0]


def test_best_iteration_later_maximum() -> None:
    run = make_run(iterations=3)
    attempts = full_iteration("alpha", 1, {Level.L1: 0}) | full_iteration("alpha", 2) \
        | full_iteration("alpha", 3, {Level.L3: 10})
    stats = model_statistics(run, attempts, "alpha", Profile.LEGACY)
    assert stats.all_scores == [75, 100, 85]
    assert stats.best_iteration == 2
    assert stats.min_score == 75
    assert stats.avg_score == 86.7


@pytest.mark.parametrize(
    ("totals", "expected"),
    [
        ((5, 0, 0, 0), 1.2),  # mean 1.25 is exact in binary: Python's round gives 1.2, not 1.3
        ((20, 40, 65), 41.7),
        ((65, 45, 65, 90, 45), 62.0),  # the published qwen35-27b-q3 figures
        ((25, 0, 20, 65, 15), 25.0),
    ],
)
def test_average_is_rounded_like_pythons_round(totals: tuple[int, ...], expected: float) -> None:
    run = make_run(levels=(Level.L1, Level.L2, Level.L3, Level.L4, Level.L5),
                   iterations=len(totals))
    attempts: AttemptMap = {}
    for iteration, total in enumerate(totals, start=1):
        # spread the total over the levels in order, each up to its cap
        remaining, points = total, {}
        for level in LEVELS:
            points[level] = min(remaining, MAX_POINTS[level])
            remaining -= points[level]
        attempts |= full_iteration("alpha", iteration, points)
    stats = model_statistics(run, attempts, "alpha", Profile.LEGACY)
    assert stats.all_scores == list(totals)
    assert stats.avg_score == expected
    assert stats.avg_score == round(sum(totals) / len(totals), 1)


def test_subset_run_is_out_of_the_selected_levels_points() -> None:
    levels = (Level.L1, Level.L4)
    run = make_run(levels=levels, iterations=2)
    attempts = full_iteration("alpha", 1, {Level.L4: 0}, levels) \
        | full_iteration("alpha", 2, {Level.L1: 20}, levels)
    stats = model_statistics(run, attempts, "alpha", Profile.LEGACY)
    assert stats.subset is True
    assert stats.max_points == 40
    assert stats.all_scores == [25, 35]
    assert stats.best_iteration == 2
    assert stats.percentage == 87.5
    assert [lv.level for lv in stats.best_levels] == [Level.L1, Level.L4]


def test_full_run_is_out_of_100_and_not_a_subset() -> None:
    stats = model_statistics(make_run(iterations=1), full_iteration("alpha", 1), "alpha",
                             Profile.LEGACY)
    assert (stats.max_points, stats.subset, stats.percentage) == (100, False, 100.0)


def test_no_complete_iteration() -> None:
    run = make_run(iterations=2)
    attempts = {U("alpha", 1, Level.L1): make_attempt(status=AttemptStatus.GENERATED)}
    stats = model_statistics(run, attempts, "alpha", Profile.LEGACY)
    assert stats.complete_iterations == []
    assert stats.all_scores == []
    assert stats.best_score is stats.avg_score is stats.min_score is stats.max_score is None
    assert stats.best_iteration is None
    assert stats.percentage is None
    assert stats.best_levels == []
    assert [i.iteration for i in stats.incomplete] == [1, 2]
    assert set(stats.incomplete[1].levels) == set(LEVELS)
    assert stats.total_duration_ms == 0


def test_total_duration_spans_first_generate_start_to_last_score_end_of_the_model() -> None:
    run = make_run(models=("alpha", "beta"), iterations=2)
    attempts = full_iteration("alpha", 1) | full_iteration("alpha", 2) | full_iteration("beta", 1)
    for unit, attempt in attempts.items():
        iteration, level = unit.iteration, unit.level
        offset = timedelta(minutes=10 * iteration + level.number)
        attempt.gen_started_at = T0 + offset
        attempt.score_finished_at = T0 + offset + timedelta(seconds=30)
    # an incomplete attempt still counts: it is part of the model's wall time
    attempts[U("alpha", 2, Level.L5)] = make_attempt(
        "alpha", 2, Level.L5, status=AttemptStatus.INFRA_ERROR,
        gen_started_at=T0 + timedelta(minutes=25),
        score_finished_at=T0 + timedelta(minutes=40, milliseconds=250))
    attempts[U("beta", 1, Level.L1)].gen_started_at = T0  # another model's times do not count

    stats = model_statistics(run, attempts, "alpha", Profile.LEGACY)

    # alpha: first start T0+11 min (iteration 1, L1), last end T0+40 min 0.25 s
    assert stats.total_duration_ms == (29 * 60 + 0.25) * 1000
    assert model_duration_ms([]) == 0
    assert model_duration_ms([make_attempt(gen_started_at=T0)]) == 0


def test_best_iteration_breakdown_per_level() -> None:
    run = make_run(iterations=1)
    attempts = full_iteration("alpha", 1)
    attempts[U("alpha", 1, Level.L2)] = make_attempt(
        "alpha", 1, Level.L2, points=0, passed=0, call_duration_s=1.001,
        gen_outcome=GenOutcome.MODEL_ERROR, error="400: exceeds the available context")
    attempts[U("alpha", 1, Level.L3)] = make_attempt(
        "alpha", 1, Level.L3, points=15, passed=3, call_duration_s=None,
        gen_outcome=GenOutcome.TRUNCATED)

    stats = model_statistics(run, attempts, "alpha", Profile.LEGACY)

    rows = [lv.model_dump(mode="json") for lv in stats.best_levels]
    assert rows[1] == {"level": "L2", "points": 0, "tests_passed": 0, "tests_total": 10,
                       "tests_total_original": 20, "duration_ms": 1001,
                       "error": "400: exceeds the available context",
                       "gen_outcome": "model_error"}
    assert rows[2] == {"level": "L3", "points": 15, "tests_passed": 3, "tests_total": 15,
                       "tests_total_original": 27, "duration_ms": 0, "error": None,
                       "gen_outcome": "truncated"}
    assert rows[0]["duration_ms"] == 1500
    assert stats.best_score == 25 + 0 + 15 + 15 + 10


def test_iteration_total_sums_the_profiles_points_without_float_noise() -> None:
    attempts = [make_attempt(level=lv, points=p, strict=s)
                for lv, p, s in [(Level.L1, 25, 0.1), (Level.L2, 20, 0.2), (Level.L3, 0, 17.5)]]
    assert iteration_total(attempts, Profile.LEGACY) == 45
    assert iteration_total(attempts, Profile.STRICT) == 17.8
    with pytest.raises(ValueError, match="no strict points"):
        iteration_total([make_attempt()], Profile.STRICT)


def test_strict_statistics_have_their_own_best_iteration() -> None:
    run = make_run(levels=(Level.L1,), iterations=2)
    attempts: AttemptMap = {
        U("alpha", 1, Level.L1): make_attempt("alpha", 1, Level.L1, points=25, strict=12.5),
        U("alpha", 2, Level.L1): make_attempt("alpha", 2, Level.L1, points=20, strict=17.5),
    }
    legacy = model_statistics(run, attempts, "alpha", Profile.LEGACY)
    strict = model_statistics(run, attempts, "alpha", Profile.STRICT)
    assert (legacy.best_iteration, legacy.all_scores) == (1, [25, 20])
    assert (strict.best_iteration, strict.all_scores, strict.avg_score) == (2, [12.5, 17.5], 15.0)


def test_scored_profiles_add_strict_only_once_every_scored_record_has_it() -> None:
    with_strict = make_attempt(strict=10.0)
    without = make_attempt(level=Level.L2)
    pending = make_attempt(level=Level.L3, status=AttemptStatus.GENERATED)
    key = ("run-1", "alpha", 1)
    assert scored_profiles({}) == [Profile.LEGACY]
    assert scored_profiles({Unit(*key, Level.L1): without}) == [Profile.LEGACY]
    assert scored_profiles({Unit(*key, Level.L1): with_strict, Unit(*key, Level.L2): without}) \
        == [Profile.LEGACY]
    assert scored_profiles({Unit(*key, Level.L1): with_strict, Unit(*key, Level.L3): pending}) \
        == [Profile.LEGACY, Profile.STRICT]


def test_as_number() -> None:
    assert as_number(25.0) == 25 and isinstance(as_number(25.0), int)
    assert as_number(17.5) == 17.5
