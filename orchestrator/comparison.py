"""Is model A better than model B? Pure functions over their pooled records.

Per profile: the difference of the mean totals with Welch's 95 % interval and a permutation
test. A is called better only when both agree (the interval excludes 0 and p < 0.05);
otherwise the answer is "cannot tell", with the smallest difference these iterations could
have told apart (the interval's half-width). Per level the same test on the level's points
is exploratory: its p values are Holm-corrected over the levels of the profile.
"""

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel

from challenge.levels import Level, Profile
from orchestrator.inference import difference_interval, holm, permutation_p
from orchestrator.statistics import AttemptMap, model_statistics
from worker.records import AttemptStatus, Run

ALPHA = 0.05
Verdict = Literal["a_better", "b_better", "cannot_tell"]


class Difference(BaseModel):
    """mean(A) - mean(B) over one set of numbers."""

    n_a: int
    n_b: int
    mean_a: float | None
    mean_b: float | None
    difference: float | None
    ci95: list[float] | None
    p_value: float | None
    verdict: Verdict


class LevelDifference(Difference):
    level: Level
    p_holm: float | None
    """The p value Holm-corrected over the profile's levels (the verdict uses it)."""


class ProfileComparison(BaseModel):
    profile: Profile
    totals: Difference
    sentence: str
    levels: list[LevelDifference]


def difference(a: Sequence[float], b: Sequence[float], p_adjusted: float | None = None
               ) -> Difference:
    """The difference of means, its interval, its p and the verdict (`p_adjusted` replaces
    p in the verdict, e.g. Holm's)."""
    interval = difference_interval(a, b)
    p = permutation_p(a, b) if a and b else None
    decisive = p if p_adjusted is None else p_adjusted
    verdict: Verdict = "cannot_tell"
    if interval is not None and decisive is not None and decisive < ALPHA:
        if interval.low > 0:
            verdict = "a_better"
        elif interval.high < 0:
            verdict = "b_better"
    return Difference(
        n_a=len(a), n_b=len(b),
        mean_a=sum(a) / len(a) if a else None, mean_b=sum(b) / len(b) if b else None,
        difference=None if interval is None else interval.estimate,
        ci95=None if interval is None else [interval.low, interval.high],
        p_value=p, verdict=verdict)


def sentence(model_a: str, model_b: str, profile: Profile, totals: Difference) -> str:
    """The verdict in plain words."""
    if totals.ci95 is None or totals.difference is None or totals.p_value is None:
        return (f"{profile.value}: {totals.n_a} complete iteration(s) of {model_a} and "
                f"{totals.n_b} of {model_b}: at least two each are needed to tell anything")
    low, high = totals.ci95
    numbers = (f"difference {totals.difference:+.1f} points, 95% interval [{low:.1f}, "
               f"{high:.1f}], permutation p = {totals.p_value:.3g}")
    if totals.verdict == "a_better":
        return f"{profile.value}: {model_a} is better than {model_b} ({numbers})"
    if totals.verdict == "b_better":
        return f"{profile.value}: {model_b} is better than {model_a} ({numbers})"
    if smallest_p(totals.n_a, totals.n_b) >= ALPHA:
        why = ("too few for any difference to be told from noise (the permutation test "
               f"cannot reach p < {ALPHA:g})")
    elif high - low > 0:
        why = f"a difference under {(high - low) / 2:.0f} points cannot be told from noise"
    else:
        why = "the totals did not vary, yet the test is not sure of the difference"
    return (f"{profile.value}: cannot tell {model_a} and {model_b} apart ({numbers}); "
            f"{_counts(totals)}: {why}")


def smallest_p(n_a: int, n_b: int) -> float:
    """The smallest two-sided p an exact permutation test of these group sizes can give
    (the two most extreme of the C(n_a + n_b, n_a) splits)."""
    return min(1.0, 2 / math.comb(n_a + n_b, n_a)) if n_a and n_b else 1.0


def compare_profile(run_a: Run, attempts_a: AttemptMap, model_a: str,
                    run_b: Run, attempts_b: AttemptMap, model_b: str,
                    profile: Profile) -> ProfileComparison:
    """Compare two models (each possibly pooled across runs) under one profile."""
    stats_a = model_statistics(run_a, attempts_a, model_a, profile)
    stats_b = model_statistics(run_b, attempts_b, model_b, profile)
    totals = difference([float(x) for x in stats_a.all_scores],
                        [float(x) for x in stats_b.all_scores])
    levels = [lv for lv in sorted(run_a.spec.levels, key=lambda lv: lv.number)
              if lv in run_b.spec.levels]
    samples = [(_level_points(attempts_a, model_a, lv, profile),
                _level_points(attempts_b, model_b, lv, profile)) for lv in levels]
    raw = [difference(a, b).p_value for a, b in samples]
    present = [p for p in raw if p is not None]
    adjusted = iter(holm(present))
    holm_p = [None if p is None else next(adjusted) for p in raw]
    level_rows = [
        LevelDifference(level=lv, p_holm=ph,
                        **difference(a, b, p_adjusted=1.0 if ph is None else ph).model_dump())
        for lv, (a, b), ph in zip(levels, samples, holm_p, strict=True)]
    return ProfileComparison(profile=profile, totals=totals,
                             sentence=sentence(model_a, model_b, profile, totals),
                             levels=level_rows)


def _level_points(attempts: AttemptMap, model: str, level: Level, profile: Profile
                  ) -> list[float]:
    return [a.scores[profile.value] for u, a in sorted(attempts.items())
            if u.model == model and u.level is level and a.status is AttemptStatus.SCORED
            and profile.value in a.scores]


def _counts(totals: Difference) -> str:
    if totals.n_a == totals.n_b:
        return f"{totals.n_a} iterations each"
    return f"{totals.n_a} and {totals.n_b} iterations"


class Comparison(BaseModel):
    model_a: str
    model_b: str
    runs_a: list[str]
    runs_b: list[str]
    mismatches: list[str]
    """What differs between the two sides that makes their scores less comparable."""
    profiles: list[ProfileComparison]
