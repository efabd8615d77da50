"""The scoring corpus (docs/scoring.md §11): every answer gets its expected legacy and strict
points.

The manifest is checked on its own first (fast): each strict expectation must follow from
its failing tests by the strict rules, so the arithmetic in it cannot drift. Then every entry
is scored once through `worker.scorer.score_answer` in real Docker, under both profiles from
the same sandbox run, by a module fixture (a few sandboxes at once: the load is welcome, as
strict outcomes must not depend on it); the parametrized tests read its reports.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest

from challenge.extraction import legacy_candidate_files
from challenge.extraction_strict import strict_candidate_files
from challenge.levels import Profile
from challenge.points import strict_points
from worker._docker import DockerSandbox
from worker.scorer import ScoreReport, score_answer

from .corpus import ANSWERS_DIR, CANNED_PREFIX, LIMITS, Entry, load_corpus

ENTRIES = load_corpus()
PROFILES = (Profile.LEGACY, Profile.STRICT)
#: Sandboxes scoring the corpus at once (more than this host's 2 cores, on purpose).
CONCURRENCY = 4


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
def scored(docker_sandbox: DockerSandbox) -> dict[str, ScoreReport]:
    def score(entry: Entry) -> ScoreReport:
        return score_answer(entry.answer(), entry.level, docker_sandbox, LIMITS,
                            profiles=PROFILES,
                            labels={"org.jqbench.run_id": f"pytest-corpus-{entry.name}"})

    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        return dict(zip(_ids(ENTRIES), pool.map(score, ENTRIES), strict=True))


def _unexpected(entry: Entry, report: ScoreReport) -> list[str]:
    """Strict tests whose outcome contradicts the manifest, with the runner's message."""
    failing = entry.strict_failing or frozenset()
    return [f"{t.id}: {t.outcome} {t.message[:300]}" for t in report.tests
            if t.profile is Profile.STRICT and (t.outcome == "passed") == (t.id in failing)]


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(300)  # the first one waits for `scored`: about 75 s on 2 cores
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
