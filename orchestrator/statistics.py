"""Per-model statistics under one scoring profile, computed from Attempt records only.

docs/architecture.md (Statistics) and docs/challenge.md §5: numbers are taken over
*complete* iterations only, so an iteration our infrastructure broke never drags a model's
average down; such iterations are listed apart with the reason. Everything here is pure (no
I/O, no clock), so `status`, `results` and reports give the same numbers from the same
records, mid-run or later.

Choices where the design is silent:
- An iteration without any record yet (mid-run) is incomplete like any other, its levels
  "missing".
- An incomplete iteration lists only the levels that keep it incomplete (not SCORED).
- Totals are rounded to 6 decimals, so strict's one-decimal points never sum to 42.49999999.
- Points are ints when integral (25, not 25.0), as the original's JSON had them.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from challenge.levels import LEVELS, MAX_POINTS, Level, Profile
from orchestrator.inference import mean_interval, sample_std, score_band
from worker.records import Attempt, AttemptStatus, GenOutcome, Run
from worker.unit import Unit

AttemptMap = Mapping[Unit, Attempt]
"""Attempts of a run keyed by unit, as `RecordStore.get_attempts` gives them."""

Number = int | float

MISSING: Literal["missing"] = "missing"
"""Status shown for a planned level that has no record yet."""


class LevelState(BaseModel):
    """Why one level keeps its iteration incomplete."""

    status: str
    """An AttemptStatus value ("generated", "infra_error") or "missing"."""
    error: str | None = None


class IncompleteIteration(BaseModel):
    iteration: int
    """1-based, among the requested iterations."""
    levels: dict[Level, LevelState]


class LevelBreakdown(BaseModel):
    """One level of the best iteration, in the original's terms plus what explains it."""

    level: Level
    points: Number
    tests_passed: int
    tests_total: int
    tests_total_original: int
    duration_ms: int
    """The model call only (its final try), as the original measured it."""
    error: str | None
    gen_outcome: GenOutcome | None


class ModelStatistics(BaseModel):
    """One model's statistics under one profile (the numbers of `result_<model>.json`)."""

    model: str
    profile: Profile
    iterations: int
    """Requested, complete or not."""
    complete_iterations: list[int]
    """1-based indices of the iterations the statistics cover, in order."""
    incomplete: list[IncompleteIteration]
    all_scores: list[Number]
    """Totals of the complete iterations, in order."""
    best_score: Number | None
    avg_score: float | None
    """Python's round(mean, 1), as the original."""
    min_score: Number | None
    max_score: Number | None
    best_iteration: int | None
    """1-based index among the requested iterations of the first maximum."""
    max_points: int
    """100, or the selected levels' points for a subset run."""
    subset: bool
    percentage: float | None
    """best_score out of max_points, in percent, rounded to 1 decimal."""
    total_duration_ms: int
    """First generate start to last score end over the model's attempts; 0 when unknown."""
    best_levels: list[LevelBreakdown]
    """The best iteration, level by level (selected levels only); empty without one."""
    std_dev: float | None = None
    """Sample standard deviation of all_scores (n - 1), to 1 decimal; None below two."""
    mean_ci95: list[float] | None = None
    """The mean's 95 % t interval [low, high], to 1 decimal; None below two scores."""
    score_bands: list[str] = []
    """The original's band (Weak .. Expert) of each of all_scores; empty for a subset run,
    whose totals are not out of 100."""


def as_number(value: float) -> Number:
    """25.0 -> 25, 17.5 -> 17.5: points as the original's JSON wrote them."""
    return int(value) if float(value).is_integer() else value


def is_subset(run: Run) -> bool:
    return run.spec.subset or set(run.spec.levels) != set(LEVELS)


def max_points(levels: Iterable[Level]) -> int:
    """Points available in the given levels (100 for all five)."""
    return sum(MAX_POINTS[Level(level)] for level in set(levels))


def iteration_levels(
    run: Run, attempts: AttemptMap, model: str, iteration: int, levels: Iterable[Level]
) -> dict[Level, Attempt | None]:
    """The records of one iteration's selected levels, None where there is none yet."""
    return {level: attempts.get(Unit(run.run_id, model, iteration, level)) for level in levels}


def incomplete_levels(slots: Mapping[Level, Attempt | None]) -> dict[Level, LevelState]:
    """The levels that keep an iteration incomplete; empty when it is complete."""
    reasons: dict[Level, LevelState] = {}
    for level, attempt in slots.items():
        if attempt is None:
            reasons[level] = LevelState(status=MISSING)
        elif attempt.status is not AttemptStatus.SCORED:
            reasons[level] = LevelState(status=attempt.status.value, error=attempt.error or None)
    return reasons


def level_points(attempt: Attempt, profile: Profile) -> float:
    """The points of a scored attempt under `profile`; a clear error if it has none."""
    try:
        return attempt.scores[Profile(profile).value]
    except KeyError:
        raise ValueError(
            f"{attempt.key}: no {Profile(profile).value} points in a {attempt.status.value} record"
        ) from None


def iteration_total(attempts_of_iteration: Iterable[Attempt], profile: Profile) -> float:
    """Sum of the level points under `profile` (the caller checks the iteration is complete)."""
    return round(sum(level_points(a, profile) for a in attempts_of_iteration), 6)


def call_duration_ms(attempt: Attempt) -> int:
    """The model call of the final try in ms (0 when it never ran); rounded, not truncated,
    so 1.001 s is 1001 ms despite binary floats."""
    if attempt.call_duration_s is None:
        return 0
    return round(attempt.call_duration_s * 1000)


def level_breakdown(attempt: Attempt, profile: Profile) -> LevelBreakdown:
    """One scored level under `profile`; test counts are 0 if the record predates them."""
    score = attempt.level_scores.get(Profile(profile).value)
    return LevelBreakdown(
        level=attempt.level,
        points=as_number(level_points(attempt, profile)),
        tests_passed=score.tests_passed if score else 0,
        tests_total=score.tests_total if score else 0,
        tests_total_original=score.tests_total_original if score else 0,
        duration_ms=call_duration_ms(attempt),
        error=attempt.error or None,
        gen_outcome=attempt.gen_outcome,
    )


def model_duration_ms(attempts: Iterable[Attempt]) -> int:
    """First generate start to last score end (the original's wall time of a model); 0 when
    either end is unknown."""
    starts: list[datetime] = []
    ends: list[datetime] = []
    for attempt in attempts:
        if attempt.gen_started_at is not None:
            starts.append(attempt.gen_started_at)
        if attempt.score_finished_at is not None:
            ends.append(attempt.score_finished_at)
    if not starts or not ends:
        return 0
    return max(0, round((max(ends) - min(starts)).total_seconds() * 1000))


def model_statistics(run: Run, attempts: AttemptMap, model: str, profile: Profile
                     ) -> ModelStatistics:
    """Statistics of `model` under `profile` over the run's complete iterations."""
    profile = Profile(profile)
    levels = sorted(run.spec.levels, key=lambda lv: lv.number)
    complete: list[int] = []
    totals: list[float] = []
    incomplete: list[IncompleteIteration] = []
    for iteration in range(1, run.spec.iterations + 1):
        slots = iteration_levels(run, attempts, model, iteration, levels)
        reasons = incomplete_levels(slots)
        if reasons:
            incomplete.append(IncompleteIteration(iteration=iteration, levels=reasons))
            continue
        complete.append(iteration)
        totals.append(iteration_total((a for a in slots.values() if a is not None), profile))

    available = max_points(levels)
    best_iteration: int | None = None
    best_levels: list[LevelBreakdown] = []
    if totals:
        best = max(totals)
        best_iteration = complete[totals.index(best)]
        best_levels = [
            level_breakdown(attempts[Unit(run.run_id, model, best_iteration, level)], profile)
            for level in levels
        ]
    return ModelStatistics(
        model=model,
        profile=profile,
        iterations=run.spec.iterations,
        complete_iterations=complete,
        incomplete=incomplete,
        all_scores=[as_number(t) for t in totals],
        best_score=as_number(max(totals)) if totals else None,
        avg_score=round(sum(totals) / len(totals), 1) if totals else None,
        min_score=as_number(min(totals)) if totals else None,
        max_score=as_number(max(totals)) if totals else None,
        best_iteration=best_iteration,
        max_points=available,
        subset=is_subset(run),
        percentage=round(max(totals) / available * 100, 1) if totals else None,
        total_duration_ms=model_duration_ms(a for u, a in attempts.items() if u.model == model),
        best_levels=best_levels,
        **_spread(totals, is_subset(run)),
    )


def _spread(totals: list[float], subset: bool) -> dict[str, Any]:
    """How much the totals vary (orchestrator/inference.py): std_dev, mean_ci95, bands."""
    spread = sample_std(totals)
    interval = mean_interval(totals)
    return {"std_dev": None if spread is None else round(spread, 1),
            "mean_ci95": None if interval is None else [round(interval.low, 1),
                                                         round(interval.high, 1)],
            "score_bands": [] if subset else [score_band(t) for t in totals]}


def run_statistics(run: Run, attempts: AttemptMap, profile: Profile) -> dict[str, ModelStatistics]:
    """`model_statistics` for every model of the run, in the run's order."""
    return {m: model_statistics(run, attempts, m, profile) for m in run.spec.models}


def scored_profiles(attempts: AttemptMap) -> list[Profile]:
    """The profiles to report: legacy always, another one once every scored record has its
    points (so a half-finished regrade never yields statistics over a mix of records)."""
    scored = [a for a in attempts.values() if a.status is AttemptStatus.SCORED]
    extra = [
        p for p in Profile
        if p is not Profile.LEGACY and scored and all(p.value in a.scores for a in scored)
    ]
    return [Profile.LEGACY, *extra]
