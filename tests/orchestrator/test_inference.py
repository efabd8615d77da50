"""orchestrator/inference.py against cases computed by hand."""

import math

import pytest

from orchestrator.inference import (
    difference_interval,
    holm,
    mean_interval,
    pass_at_k,
    permutation_p,
    sample_std,
    score_band,
    t975,
    wilson_interval,
)

#: The original's published "Scores" row of qwen35-27b-q3 (SPEC.md §6).
PUBLISHED = [65, 45, 65, 90, 45]


def test_the_published_row_as_the_original_readme_reads_it() -> None:
    # deviations 3, -17, 3, 28, -17: squares sum to 1380; 1380 / 4 = 345
    assert sample_std(PUBLISHED) == pytest.approx(math.sqrt(345))  # 18.57 ("~18")
    interval = mean_interval(PUBLISHED)
    assert interval is not None and interval.estimate == 62
    # 62 +- 2.776 x 18.574 / sqrt 5 = 62 +- 23.06
    assert (round(interval.low, 1), round(interval.high, 1)) == (38.9, 85.1)
    assert [score_band(s) for s in PUBLISHED] == ["Good", "Average", "Good", "Expert",
                                                  "Average"]


def test_one_value_has_no_spread_and_no_interval() -> None:
    assert sample_std([70]) is None and mean_interval([70]) is None


@pytest.mark.parametrize(("df", "expected"), [(1, 12.706), (4, 2.776), (30, 2.042),
                                              (4.9, 2.776), (60, 2.000), (1000, 1.962)])
def test_t_quantiles(df: float, expected: float) -> None:
    assert t975(df) == pytest.approx(expected, abs=0.001)


def test_wilson_interval_of_three_in_five() -> None:
    # centre (0.6 + 1.96^2 / 10) / (1 + 1.96^2 / 5) = 0.5566, half 0.3258
    interval = wilson_interval(3, 5)
    assert interval is not None and interval.estimate == 0.6
    assert (round(interval.low, 3), round(interval.high, 3)) == (0.231, 0.882)
    none, every = wilson_interval(0, 5), wilson_interval(5, 5)
    assert none is not None and none.low == 0 and round(none.high, 3) == 0.434
    assert every is not None and every.high == 1 and round(every.low, 3) == 0.566
    assert wilson_interval(0, 0) is None


@pytest.mark.parametrize(("n", "correct", "k", "expected"), [
    (5, 2, 1, 0.4), (5, 2, 2, 0.7), (5, 2, 4, 1.0), (5, 0, 5, 0.0), (5, 5, 1, 1.0)])
def test_pass_at_k(n: int, correct: int, k: int, expected: float) -> None:
    # k=2: 1 - C(3, 2) / C(5, 2) = 1 - 3 / 10
    assert pass_at_k(n, correct, k) == pytest.approx(expected)


def test_an_exact_permutation_test() -> None:
    # 20 ways to split six values in two threes: only the observed split and its mirror
    # differ by 3 in means
    assert permutation_p([1, 2, 3], [4, 5, 6]) == pytest.approx(2 / 20)
    assert permutation_p([1, 2, 3], [1, 2, 3]) == 1.0


def test_a_sampled_permutation_test_is_seeded_and_near_the_exact_one() -> None:
    a, b = [1, 2, 3, 4, 5], [3, 4, 5, 6, 7]
    exact = permutation_p(a, b, rounds=252)  # C(10, 5) = 252 splits: counted
    sampled = permutation_p(a, b, rounds=2000, seed=3)  # more rounds than splits: exact too
    assert sampled == exact
    estimate = permutation_p(a, b, rounds=200, seed=3)  # fewer: 200 random splits
    assert estimate == permutation_p(a, b, rounds=200, seed=3)
    assert abs(estimate - exact) < 0.06 and 0.05 < exact < 0.3


def test_welch_interval_of_a_difference() -> None:
    # means 62 and 45; variances of the means 345 / 5 = 69 and 437.5 / 5 = 87.5 (deviations
    # 20, -5, -5, -30, 20: squares sum to 1750)
    interval = difference_interval(PUBLISHED, [65, 40, 40, 15, 65])
    assert interval is not None and interval.estimate == 17
    # df = 156.5^2 / (69^2 / 4 + 87.5^2 / 4) = 7.89 -> t(7) = 2.365; half 2.365 x 12.51
    assert (round(interval.low, 1), round(interval.high, 1)) == (-12.6, 46.6)


@pytest.mark.parametrize(("total", "band"), [(0, "Weak"), (24.9, "Weak"), (25, "Average"),
                                             (50, "Good"), (75, "Excellent"),
                                             (89.9, "Excellent"), (90, "Expert"),
                                             (100, "Expert")])
def test_bands_hold_their_lower_edge(total: float, band: str) -> None:
    assert score_band(total) == band


def test_holm_multiplies_the_ranked_p_values_and_keeps_them_monotone() -> None:
    # Sorted 0.01, 0.02, 0.04, 0.30 times 4, 3, 2, 1: 0.04, 0.06, 0.08, 0.30.
    assert holm([0.04, 0.01, 0.30, 0.02]) == pytest.approx([0.08, 0.04, 0.30, 0.06])
    # 0.03 * 2 = 0.06 first; 0.045 * 1 = 0.045 would undercut it, so it stays 0.06.
    assert holm([0.045, 0.03]) == pytest.approx([0.06, 0.06])
    assert holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []
