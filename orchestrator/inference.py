"""How sure a score is: intervals, pass@k, a permutation test and the original's bands.

Pure functions over plain numbers, checked against hand-computed cases in
tests/orchestrator/test_inference.py. Few iterations are the norm (the original ran five), so
means get Student's t interval (a percentile bootstrap under-covers at n = 5) and pass rates
Wilson's interval; `permutation_p` is exact when the splits are few enough to count.
"""

import itertools
import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

#: Student's t, two-sided 95 % (the 0.975 quantile), for 1..30 degrees of freedom.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
_Z975 = 1.959964

#: The original README's reading of a total; its bands share their edges, so each band
#: holds its lower edge (25 is Average, 90 is Expert) and Expert holds 100.
SCORE_BANDS = ((25.0, "Weak"), (50.0, "Average"), (75.0, "Good"), (90.0, "Excellent"),
               (math.inf, "Expert"))


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


def t975(df: float) -> float:
    """The 0.975 quantile of Student's t with `df` degrees of freedom (a non-integer df, as
    Welch's, is rounded down: the interval gets wider, never narrower)."""
    if df < 1:
        raise ValueError("t needs at least one degree of freedom")
    whole = int(df)
    if whole <= len(_T975):
        return _T975[whole - 1]
    z = _Z975  # Cornish-Fisher expansion: within 0.001 of the exact value above 30
    return (z + (z**3 + z) / (4 * whole) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * whole**2))


def sample_std(values: Sequence[float]) -> float | None:
    """The sample standard deviation (n - 1), or None for fewer than two values."""
    return statistics.stdev(values) if len(values) >= 2 else None


def mean_interval(values: Sequence[float]) -> Interval | None:
    """The mean with its 95 % t interval; None for fewer than two values."""
    spread = sample_std(values)
    if spread is None:
        return None
    mean = statistics.fmean(values)
    half = t975(len(values) - 1) * spread / math.sqrt(len(values))
    return Interval(mean, mean - half, mean + half)


def difference_interval(a: Sequence[float], b: Sequence[float]) -> Interval | None:
    """mean(a) - mean(b) with Welch's 95 % t interval; None unless both have two values."""
    sa, sb = sample_std(a), sample_std(b)
    if sa is None or sb is None:
        return None
    va, vb = sa**2 / len(a), sb**2 / len(b)
    difference = statistics.fmean(a) - statistics.fmean(b)
    if va + vb == 0:
        return Interval(difference, difference, difference)
    df = (va + vb) ** 2 / ((va**2 / (len(a) - 1)) + (vb**2 / (len(b) - 1)))
    half = t975(df) * math.sqrt(va + vb)
    return Interval(difference, difference - half, difference + half)


def wilson_interval(successes: int, trials: int) -> Interval | None:
    """The pass rate with its 95 % Wilson score interval; None without trials."""
    if trials <= 0:
        return None
    if not 0 <= successes <= trials:
        raise ValueError("successes must be between 0 and trials")
    p, z2 = successes / trials, _Z975**2
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = _Z975 / (1 + z2 / trials) * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials**2))
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return Interval(p, low, high)


def pass_at_k(n: int, correct: int, k: int) -> float:
    """The unbiased pass@k: the chance that k of the n attempts, drawn without replacement,
    hold at least one correct one (1 - C(n - c, k) / C(n, k))."""
    if not 0 < k <= n or not 0 <= correct <= n:
        raise ValueError("need 0 < k <= n and 0 <= correct <= n")
    if n - correct < k:
        return 1.0
    return 1.0 - math.comb(n - correct, k) / math.comb(n, k)


def permutation_p(a: Sequence[float], b: Sequence[float], rounds: int = 20_000,
                  seed: int = 0) -> float:
    """Two-sided p of the difference in means under relabelling: exact when the splits
    number at most `rounds`, else estimated from `rounds` seeded random splits."""
    pooled, size = [*a, *b], len(a)
    if not a or not b:
        raise ValueError("both groups need values")
    observed = abs(statistics.fmean(a) - statistics.fmean(b)) - 1e-9
    total = sum(pooled)

    def extreme(group_sum: float) -> bool:
        rest = (total - group_sum) / (len(pooled) - size)
        return abs(group_sum / size - rest) >= observed

    if math.comb(len(pooled), size) <= rounds:
        splits = list(itertools.combinations(pooled, size))
        return sum(extreme(sum(split)) for split in splits) / len(splits)
    rng = random.Random(seed)
    hits = sum(extreme(sum(rng.sample(pooled, size))) for _ in range(rounds))
    return (hits + 1) / (rounds + 1)


def score_band(total: float) -> str:
    """The original's band of a total out of 100 (Weak .. Expert)."""
    for upper, name in SCORE_BANDS:
        if total < upper:
            return name
    return SCORE_BANDS[-1][1]


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of p values for a family of tests (same order as given):
    the i-th smallest is multiplied by (m - i), kept monotone and capped at 1."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted
