"""Points and counts: legacy (docs/challenge.md §4) and strict (docs/scoring.md §5)."""

import pytest

from challenge.levels import MAX_POINTS, Level, Profile
from challenge.outcomes import TestOutcome
from challenge.points import legacy_points, level_points, strict_points
from challenge.suite_index import test_cases as cases_for


def outcomes_for(level: Level, kinds: list[str], profile: Profile = Profile.LEGACY):
    """One outcome per test of the level's set, in order, with the given kinds."""
    ids = [case.id for case in cases_for(level)]
    assert len(kinds) == len(ids)
    return [TestOutcome(profile=profile, id=i, outcome=k) for i, k in zip(ids, kinds, strict=True)]


def test_all_l1_tests_pass():
    score = legacy_points(Level.L1, outcomes_for(Level.L1, ["passed"] * 5), has_code=True)
    assert (score.points, score.max_points, score.tests_passed) == (25, 25, 5)
    assert (score.tests_total, score.tests_total_original) == (5, 5)
    assert score.profile is Profile.LEGACY and score.level is Level.L1


def test_failures_count_twice_in_the_original_total():
    kinds = ["passed", "failed", "passed", "failed", "passed"]
    score = legacy_points(Level.L1, outcomes_for(Level.L1, kinds), has_code=True)
    assert (score.points, score.tests_passed, score.tests_total) == (15, 3, 5)
    assert score.tests_total_original == 3 + 2 * 2


def test_l2_any_five_of_ten_is_full_marks():
    kinds = ["passed"] * 5 + ["failed"] * 5
    score = legacy_points(Level.L2, outcomes_for(Level.L2, kinds), has_code=True)
    assert (score.points, score.tests_passed, score.tests_total) == (25, 5, 10)
    assert score.tests_total_original == 15
    other_five = ["failed"] * 5 + ["passed"] * 5
    assert legacy_points(Level.L2, outcomes_for(Level.L2, other_five), True).points == 25


def test_l3_published_14_of_16():
    kinds = ["passed"] * 14 + ["failed"]
    score = legacy_points(Level.L3, outcomes_for(Level.L3, kinds), has_code=True)
    assert (score.points, score.tests_passed, score.tests_total) == (25, 14, 15)
    assert score.tests_total_original == 16


def test_errors_and_skips_are_not_counted():
    kinds = ["passed"] * 11 + ["error"] * 3 + ["skipped"]
    score = legacy_points(Level.L3, outcomes_for(Level.L3, kinds), has_code=True)
    assert (score.points, score.tests_passed, score.tests_total_original) == (25, 11, 11)
    kinds = ["passed"] * 3 + ["error"] * 2
    assert legacy_points(Level.L1, outcomes_for(Level.L1, kinds), True).points == 15


@pytest.mark.parametrize(
    ("level", "kinds", "points"),
    [
        (Level.L4, ["passed"], 15),
        (Level.L4, ["failed"], 0),
        (Level.L5, ["passed", "failed"], 5),
        (Level.L5, ["passed", "passed"], 10),
        (Level.L3, ["passed"] * 15, 25),
    ],
)
def test_points_and_caps(level, kinds, points):
    score = legacy_points(level, outcomes_for(level, kinds), has_code=True)
    assert score.points == points
    assert score.points <= score.max_points


def test_l4_failure_counts_two_in_the_original_total():
    score = legacy_points(Level.L4, outcomes_for(Level.L4, ["failed"]), has_code=True)
    assert (score.tests_passed, score.tests_total, score.tests_total_original) == (0, 1, 2)


@pytest.mark.parametrize(
    ("level", "total"), [("L1", 5), ("L2", 10), ("L3", 15), ("L4", 1), ("L5", 2)]
)
def test_no_code_scores_nothing(level, total):
    score = legacy_points(Level(level), [], has_code=False)
    assert (score.points, score.tests_passed, score.tests_total_original) == (0, 0, 0)
    assert score.tests_total == total


def test_no_code_ignores_stray_outcomes():
    score = legacy_points(Level.L1, outcomes_for(Level.L1, ["passed"] * 5), has_code=False)
    assert (score.points, score.tests_passed, score.tests_total_original) == (0, 0, 0)


def test_only_legacy_outcomes_of_the_level_set_count_once_each():
    one = TestOutcome(profile=Profile.LEGACY, id="L4::no_lost_results", outcome="passed")
    strange = [
        one,
        one,
        TestOutcome(profile=Profile.LEGACY, id="L4::made_up", outcome="passed"),
        TestOutcome(profile=Profile.LEGACY, id="L1::fifo_order", outcome="passed"),
        TestOutcome(profile=Profile.STRICT, id="L4::no_lost_results", outcome="passed"),
    ]
    score = legacy_points(Level.L4, strange, has_code=True)
    assert (score.points, score.tests_passed, score.tests_total_original) == (15, 1, 1)
    strict_only = [TestOutcome(profile=Profile.STRICT, id="L4::no_lost_results", outcome="passed")]
    assert legacy_points(Level.L4, strict_only, has_code=True).points == 0


def test_missing_outcomes_count_as_nothing():
    ids = [case.id for case in cases_for(Level.L2)][:4]
    outcomes = [TestOutcome(profile=Profile.LEGACY, id=i, outcome="passed") for i in ids]
    score = legacy_points(Level.L2, outcomes, has_code=True)
    assert (score.points, score.tests_passed, score.tests_total) == (20, 4, 10)


def test_level_points_dispatches_by_profile():
    outcomes = outcomes_for(Level.L4, ["passed"])
    assert level_points(Profile.LEGACY, Level.L4, outcomes, True) == legacy_points(
        Level.L4, outcomes, True
    )
    strict = strict_outcomes(Level.L4, ["passed"] * 3)
    assert level_points(Profile.STRICT, Level.L4, strict, True) == strict_points(
        Level.L4, strict, True
    )
    with pytest.raises(ValueError, match="nonsense"):
        level_points("nonsense", Level.L4, outcomes, True)


def test_score_serialises_points_as_numbers():
    score = legacy_points(Level.L5, outcomes_for(Level.L5, ["passed", "failed"]), True)
    assert score.model_dump(mode="json") == {
        "profile": "legacy",
        "level": "L5",
        "points": 5.0,
        "max_points": 10,
        "tests_passed": 1,
        "tests_total": 2,
        "tests_total_original": 3,
    }


# --- strict ---------------------------------------------------------------------------------

def strict_outcomes(level: Level, kinds: list[str]) -> list[TestOutcome]:
    ids = [case.id for case in cases_for(level, Profile.STRICT)]
    assert len(kinds) == len(ids)
    return [TestOutcome(profile=Profile.STRICT, id=i, outcome=k)
            for i, k in zip(ids, kinds, strict=True)]


@pytest.mark.parametrize(
    ("level", "passed", "total", "points"),
    [
        (Level.L1, 6, 6, 25.0),
        (Level.L1, 5, 6, 20.8),    # 20.83...
        (Level.L1, 4, 6, 16.7),    # 16.66...
        (Level.L2, 9, 13, 17.3),   # 17.30...
        (Level.L2, 12, 13, 23.1),  # 23.07...
        (Level.L3, 15, 18, 20.8),  # 20.83...
        (Level.L3, 17, 18, 23.6),  # 23.61...
        (Level.L3, 0, 18, 0.0),
        (Level.L5, 6, 7, 8.6),     # 8.57...
        (Level.L5, 1, 7, 1.4),     # 1.42...
    ],
)
def test_strict_points_are_the_passed_fraction_of_the_level_set(level, passed, total, points):
    kinds = ["passed"] * passed + ["failed"] * (total - passed)
    score = strict_points(level, strict_outcomes(level, kinds), has_code=True)
    assert (score.points, score.tests_passed, score.tests_total) == (points, passed, total)
    assert (score.profile, score.max_points, score.tests_total_original) == (
        Profile.STRICT, MAX_POINTS[level], 0)


def test_strict_regressions_of_earlier_levels_cost_points():
    # L2's set starts with L1's strict tests: breaking L1 FIFO costs 25/13 in L2.
    kinds = ["passed"] * 3 + ["failed"] + ["passed"] * 9
    assert strict_points(Level.L2, strict_outcomes(Level.L2, kinds), True).points == 23.1


@pytest.mark.parametrize(("passed", "points"), [(3, 15.0), (2, 0.0), (0, 0.0)])
def test_strict_l4_is_all_or_nothing(passed, points):
    kinds = ["passed"] * passed + ["failed"] * (3 - passed)
    score = strict_points(Level.L4, strict_outcomes(Level.L4, kinds), has_code=True)
    assert (score.points, score.tests_passed, score.tests_total) == (points, passed, 3)


def test_strict_errors_and_missing_outcomes_are_not_passes():
    kinds = ["passed", "error", "skipped", "failed", "passed", "passed"]
    assert strict_points(Level.L1, strict_outcomes(Level.L1, kinds), True).points == 12.5
    two = strict_outcomes(Level.L1, ["passed"] * 6)[:2]
    assert strict_points(Level.L1, two, True).points == 8.3


def test_strict_counts_only_its_own_outcomes_once_each():
    legacy = outcomes_for(Level.L1, ["passed"] * 5)
    assert strict_points(Level.L1, legacy, True).points == 0.0
    one = strict_outcomes(Level.L1, ["passed"] * 6)[0]
    stray = TestOutcome(profile=Profile.STRICT, id="L1::made_up", outcome="passed")
    score = strict_points(Level.L1, [one, one, one, stray], True)
    assert (score.points, score.tests_passed) == (4.2, 1)


@pytest.mark.parametrize(("level", "total"), [("L1", 6), ("L2", 13), ("L3", 18), ("L4", 3),
                                              ("L5", 7)])
def test_strict_without_code_scores_nothing(level, total):
    everything = strict_outcomes(Level(level), ["passed"] * total)
    score = strict_points(Level(level), everything, has_code=False)
    assert (score.points, score.tests_passed, score.tests_total) == (0.0, 0, total)
