"""Determinism (docs/scoring.md §10): the same code, scored again and again at once, with more
sandboxes than the host has cores, gets the same strict outcome every time; the reference
answers also get the same legacy outcome every time.

The corpus is scored ROUNDS times here (test_corpus.py scores it once more and checks the
manifest), the reference answers REFERENCE_ROUNDS times, all in one pool of CONCURRENCY
sandboxes, so each run shares the machine with several others.
"""

import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest

from challenge.answers import canned_answer
from challenge.levels import LEVELS, Level, Profile
from worker._docker import DockerSandbox
from worker.scorer import ScoreReport, score_answer

from .corpus import LIMITS, Entry, load_corpus

# the module fixture scores the corpus ROUNDS times (about 135 s on 2 cores)
pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(600)]

ROUNDS = 2
REFERENCE_ROUNDS = 3
CONCURRENCY = 2 * (os.cpu_count() or 1) + 2
PROFILES = (Profile.LEGACY, Profile.STRICT)

Outcomes = tuple[tuple[str, str], ...]


def outcomes(report: ScoreReport, profile: Profile) -> Outcomes:
    return tuple((t.id, t.outcome) for t in report.tests if t.profile is profile)


@pytest.fixture(scope="module")
def repeated(docker_sandbox: DockerSandbox) -> dict[str, list[ScoreReport]]:
    jobs: list[tuple[str, str, Level]] = []
    for entry in load_corpus():
        jobs += [(f"corpus:{entry.name}", entry.answer(), entry.level)] * ROUNDS
    for level in LEVELS:
        jobs += [(f"reference:{level.value}", canned_answer(level, "reference"), level)
                 ] * REFERENCE_ROUNDS

    def score(job: tuple[str, str, Level]) -> tuple[str, ScoreReport]:
        name, answer, level = job
        return name, score_answer(answer, level, docker_sandbox, LIMITS, profiles=PROFILES,
                                  labels={"org.jqbench.run_id": "pytest-determinism"})

    reports: dict[str, list[ScoreReport]] = defaultdict(list)
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        for name, report in pool.map(score, jobs):
            reports[name].append(report)
    return reports


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
