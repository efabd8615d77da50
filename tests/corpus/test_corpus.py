"""The scoring corpus (docs/scoring.md §11): every answer gets its expected legacy and strict
points.

The manifest is checked on its own first (fast): each strict expectation must follow from
its failing tests by the strict rules, so the arithmetic in it cannot drift. Then every entry
is scored through `worker.scorer.score_answer` in real Docker, under both profiles from the
same sandbox run, by the session's scoring pool (tests/conftest.py `scoring_pool`: more
sandboxes than cores at once; the load is welcome, as strict outcomes must not depend on it).
The parametrized tests read each entry's first report there, which is also one of the rounds
that test_determinism.py compares: the corpus is not scored once more for this module.
"""

import pytest

from challenge.extraction import legacy_candidate_files
from challenge.extraction_strict import strict_candidate_files
from challenge.levels import Level, Profile
from challenge.points import strict_points
from tests.pooled import BOTH, PoolNeeds
from worker.sandbox import SandboxLimits
from worker.scorer import ScoreReport

from .corpus import ANSWERS_DIR, CANNED_PREFIX, LIMITS, Entry, load_corpus

ENTRIES = load_corpus()
#: What this module reads from the session's scoring pool: every entry, once.
POOLED_SCORINGS: PoolNeeds = {(entry.answer(), entry.level, LIMITS): (BOTH,) for entry in ENTRIES}


def _ids(entries: tuple[Entry, ...]) -> list[str]:
    return [entry.name for entry in entries]


# --- the manifest itself ----------------------------------------------------------------------

def test_names_are_unique_and_every_answer_file_is_used():
    names = [entry.name for entry in ENTRIES]
    assert len(names) == len(set(names))
    used = {e.answer_ref for e in ENTRIES if not e.answer_ref.startswith(CANNED_PREFIX)}
    assert used == {path.name for path in ANSWERS_DIR.glob("*.md")}


@pytest.mark.parametrize("entry", ENTRIES, ids=_ids(ENTRIES))
def test_expected_strict_points_follow_from_the_failing_tests(entry: Entry):
    failing = entry.strict_failing or frozenset()
    assert failing <= set(entry.strict_ids()), "unknown test ids in strict_failing"
    has_code = entry.strict_failing is not None
    score = strict_points(entry.level, entry.expected_strict_outcomes(), has_code)
    assert score.points == entry.strict


@pytest.mark.parametrize("entry", ENTRIES, ids=_ids(ENTRIES))
def test_no_code_expectations_match_extraction(entry: Entry):
    """"all failing" is used exactly where strict extraction finds no code."""
    answer = entry.answer()
    assert bool(strict_candidate_files(answer, entry.level)) == (entry.strict_failing is not None)
    if entry.legacy:
        assert legacy_candidate_files(answer, entry.level)


# --- scored in Docker -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scored(scoring_pool: dict[tuple[str, Level, SandboxLimits], list[ScoreReport]]
           ) -> dict[str, ScoreReport]:
    return {entry.name: scoring_pool[(entry.answer(), entry.level, LIMITS)][0]
            for entry in ENTRIES}


def _unexpected(entry: Entry, report: ScoreReport) -> list[str]:
    """Strict tests whose outcome contradicts the manifest, with the runner's message."""
    failing = entry.strict_failing or frozenset()
    return [f"{t.id}: {t.outcome} {t.message[:300]}" for t in report.tests
            if t.profile is Profile.STRICT and (t.outcome == "passed") == (t.id in failing)]


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(600)  # the first one may wait for the whole scoring pool: ~2 min on 2 cores
@pytest.mark.parametrize("entry", ENTRIES, ids=_ids(ENTRIES))
def test_corpus_answer_scores_as_expected(scored: dict[str, ScoreReport], entry: Entry):
    report = scored[entry.name]
    assert _unexpected(entry, report) == [], entry.why
    assert report.scores["strict"] == entry.strict, entry.why
    if entry.legacy is not None:
        legacy = [(t.id, t.outcome, t.message[:200]) for t in report.tests
                  if t.profile is Profile.LEGACY and t.outcome != "passed"]
        assert report.scores["legacy"] == entry.legacy, (entry.why, legacy)
    strict_tests = [t for t in report.tests if t.profile is Profile.STRICT]
    if entry.strict_failing is None:
        assert strict_tests == []
    else:
        assert [t.id for t in strict_tests] == entry.strict_ids()
