"""Determinism (docs/scoring.md §10): the same code, scored again and again at once, with more
sandboxes than the host has cores, gets the same strict outcome every time; the reference
answers also get the same legacy outcome every time.

The corpus is scored ROUNDS times, the reference answers REFERENCE_ROUNDS times, all in the
session's scoring pool (tests/conftest.py `scoring_pool`: SCORING_CONCURRENCY sandboxes, more
than the host has cores, with every other scoring of the session), so each run shares the
machine with several others; the pool runs a round of every answer after the other, so an
answer's rounds never run side by side alone. test_corpus.py checks the manifest against one
of these rounds, test_scoring_reference.py reads the reference answers from them too.
"""

import pytest

from challenge.answers import canned_answer
from challenge.levels import LEVELS, Level, Profile
from tests.pooled import BOTH, STRICT_ONLY, PoolNeeds
from worker.sandbox import SandboxLimits
from worker.scorer import ScoreReport

from .corpus import LIMITS, Entry, load_corpus

# the first test may wait for the whole scoring pool (about 2 min on 2 cores)
pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(600)]

ROUNDS = 2
REFERENCE_ROUNDS = 3
PROFILES = (Profile.LEGACY, Profile.STRICT)


def _corpus_key(entry: Entry) -> tuple[str, Level, SandboxLimits]:
    return (entry.answer(), entry.level, LIMITS)


def _reference_key(level: Level) -> tuple[str, Level, SandboxLimits]:
    return (canned_answer(level, "reference"), level, LIMITS)


#: What this module reads from the session's scoring pool. A corpus answer's rounds are
#: compared by their strict outcomes only: its first round also runs legacy (test_corpus.py
#: reads it), the second runs strict alone, so it also shares its sandbox with fewer tests.
#: The corpus holds the reference answers too: those get REFERENCE_ROUNDS of both profiles.
POOLED_SCORINGS: PoolNeeds = {
    **{_corpus_key(entry): (BOTH, *[STRICT_ONLY] * (ROUNDS - 1)) for entry in load_corpus()},
    **{_reference_key(level): (BOTH,) * REFERENCE_ROUNDS for level in LEVELS},
}

Outcomes = tuple[tuple[str, str], ...]


def outcomes(report: ScoreReport, profile: Profile) -> Outcomes:
    return tuple((t.id, t.outcome) for t in report.tests if t.profile is profile)


@pytest.fixture(scope="module")
def repeated(scoring_pool: dict[tuple[str, Level, SandboxLimits], list[ScoreReport]]
             ) -> dict[str, list[ScoreReport]]:
    return {
        **{f"corpus:{entry.name}": scoring_pool[_corpus_key(entry)][:ROUNDS]
           for entry in load_corpus()},
        **{f"reference:{level.value}": scoring_pool[_reference_key(level)][:REFERENCE_ROUNDS]
           for level in LEVELS},
    }


def _corpus_ids() -> list[str]:
    return [entry.name for entry in load_corpus()]


@pytest.mark.parametrize("entry", load_corpus(), ids=_corpus_ids())
def test_strict_outcomes_never_change(repeated: dict[str, list[ScoreReport]], entry: Entry
                                      ) -> None:
    reports = repeated[f"corpus:{entry.name}"]
    assert len(reports) == ROUNDS
    seen = {outcomes(r, Profile.STRICT) for r in reports}
    assert len(seen) == 1, f"strict outcomes differ between runs: {seen}"
    assert {r.scores["strict"] for r in reports} == {entry.strict}


@pytest.mark.parametrize("level", LEVELS, ids=[lv.value for lv in LEVELS])
def test_reference_outcomes_never_change_under_either_profile(
    repeated: dict[str, list[ScoreReport]], level: Level
) -> None:
    reports = repeated[f"reference:{level.value}"]
    assert len(reports) == REFERENCE_ROUNDS
    for profile in PROFILES:
        seen = {outcomes(r, profile) for r in reports}
        assert len(seen) == 1, f"{profile.value} outcomes differ between runs: {seen}"
        (only,) = seen
        assert {outcome for _, outcome in only} == {"passed"}, only
