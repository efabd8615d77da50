"""Per-test outcomes -> points for one level, per profile.

Legacy: docs/challenge.md §4; strict: docs/scoring.md §5.
"""

from collections.abc import Callable, Sequence

from pydantic import BaseModel

from challenge.levels import MAX_POINTS, Level, Profile
from challenge.outcomes import OutcomeKind, TestOutcome
from challenge.suite_index import test_cases

#: Legacy points per passing test; the level's cap (`MAX_POINTS`) still applies.
LEGACY_POINTS_PER_TEST: dict[Level, int] = {
    Level.L1: 5,
    Level.L2: 5,
    Level.L3: 5,
    Level.L4: 15,
    Level.L5: 5,
}


class LevelScore(BaseModel):
    """The points of one level under one profile, with the test counts behind them."""

    profile: Profile
    level: Level
    points: float
    max_points: int
    tests_passed: int
    """Tests of the level's set that the harness saw pass (0 when there was no code)."""
    tests_total: int
    """Size of the level's test set (legacy: 5, 10, 15, 1, 2), whatever happened."""
    tests_total_original: int
    """The original's count: passed + 2 x failed, errors and skips not counted, 0 without code."""


def _set_outcomes(level: Level, profile: Profile, outcomes: Sequence[TestOutcome]
                  ) -> tuple[set[str], dict[str, OutcomeKind]]:
    """The ids of the level's test set under `profile`, and the last outcome reported for
    each of them; outcomes of other profiles or outside the set are ignored."""
    expected = {test.id for test in test_cases(level, profile)}
    by_id = {o.id: o.outcome for o in outcomes if o.profile == profile and o.id in expected}
    return expected, by_id


def legacy_points(level: Level, outcomes: Sequence[TestOutcome], has_code: bool) -> LevelScore:
    """Score a level by the original rules: 5 points a passing test (L4: 15), capped per level.

    Only legacy outcomes of the level's own test set count, each id once (the last outcome
    reported for it), so an unexpected or repeated report cannot add points. Without code
    nothing ran: 0 points, 0 passed, tests_total_original 0.
    """
    level = Level(level)
    expected, by_id = _set_outcomes(level, Profile.LEGACY, outcomes)
    passed = sum(kind == "passed" for kind in by_id.values()) if has_code else 0
    failed = sum(kind == "failed" for kind in by_id.values()) if has_code else 0
    points = min(passed * LEGACY_POINTS_PER_TEST[level], MAX_POINTS[level])
    return LevelScore(
        profile=Profile.LEGACY,
        level=level,
        points=float(points),
        max_points=MAX_POINTS[level],
        tests_passed=passed,
        tests_total=len(expected),
        tests_total_original=passed + 2 * failed,
    )


#: Strict levels scored all or nothing: a fix that is half right is not a fix.
STRICT_ALL_OR_NOTHING: frozenset[Level] = frozenset({Level.L4})


def strict_points(level: Level, outcomes: Sequence[TestOutcome], has_code: bool) -> LevelScore:
    """Score a level by the strict rules: its points times the fraction of its test set passed.

    The set is `test_cases(level, STRICT)`: L2's holds L1's strict tests and L3's holds L1's
    and L2's, so code that breaks an earlier level loses points where it broke it. L4 is all
    or nothing (`STRICT_ALL_OR_NOTHING`). Points have one decimal (Python's `round(x, 1)`).
    As in `legacy_points`, only strict outcomes of the set count, each id once (the last
    reported), and without code nothing ran: 0 points, 0 passed. `tests_total_original` is
    always 0: the original's count (failures counted twice) has no meaning for these tests.
    """
    level = Level(level)
    expected, by_id = _set_outcomes(level, Profile.STRICT, outcomes)
    passed = sum(kind == "passed" for kind in by_id.values()) if has_code else 0
    fraction = passed / len(expected)
    if level in STRICT_ALL_OR_NOTHING:
        fraction = float(fraction == 1)
    return LevelScore(
        profile=Profile.STRICT,
        level=level,
        points=round(MAX_POINTS[level] * fraction, 1),
        max_points=MAX_POINTS[level],
        tests_passed=passed,
        tests_total=len(expected),
        tests_total_original=0,
    )


ScoreRule = Callable[[Level, Sequence[TestOutcome], bool], LevelScore]

#: The scoring rule of each profile.
SCORE_RULES: dict[Profile, ScoreRule] = {
    Profile.LEGACY: legacy_points,
    Profile.STRICT: strict_points,
}


def level_points(
    profile: Profile, level: Level, outcomes: Sequence[TestOutcome], has_code: bool
) -> LevelScore:
    """Score a level under `profile` (dispatches to the profile's rule in `SCORE_RULES`)."""
    try:
        rule = SCORE_RULES[Profile(profile)]
    except KeyError:
        raise ValueError(f"profile {profile!s} has no scoring rule yet") from None
    return rule(level, outcomes, has_code)
