"""The adversarial corpus (tests/adversarial/, issue 7): answers written to fool the scorer
earn no point their code does not earn honestly, under either profile, in any run.

Each attack is built on a base (a stub that never runs a job, or a partial queue) whose
honest points the manifest records; the bases are entries too and must score exactly those
points, so a base that silently broke cannot make its attacks look blocked. Every attack
forged points on the runner before the trust boundary (`forged_today`, the positive
control), except the two controls that show what that runner already guarded. Scored once
each by the session's scoring pool (tests/conftest.py), both profiles from one sandbox run,
beside the rest of the pool's load; `bench/adversarial.py` scores the racy ones `runs` times.
"""

import pytest

from tests.pooled import BOTH, PoolNeeds
from worker.scorer import ScoreReport

from .adversarial_corpus import ANSWERS_DIR, LIMITS, PROFILES, Entry, load_adversarial

ENTRIES = load_adversarial()
CONTROL_CLASS = "control"
#: What this module reads from the session's scoring pool: every entry, once.
POOLED_SCORINGS: PoolNeeds = {(entry.answer(), entry.level, LIMITS): (BOTH,) for entry in ENTRIES}
pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]  # the first may wait for the pool


def _reports(pool: dict, entry: Entry) -> list[ScoreReport]:
    """The rounds this module asked for (others may run one profile only)."""
    key = (entry.answer(), entry.level, LIMITS)
    reports = pool[key][:len(POOLED_SCORINGS[key])]
    assert reports
    return reports


def test_the_manifest_holds_a_positive_control_for_every_attack() -> None:
    names = [entry.name for entry in ENTRIES]
    assert len(names) == len(set(names))
    assert {e.answer_file for e in ENTRIES} == {p.name for p in ANSWERS_DIR.glob("*.md")}
    by_name = {entry.name: entry for entry in ENTRIES}
    for entry in ENTRIES:
        if entry.is_base:
            continue
        base = by_name[entry.base or ""]
        assert base.is_base and base.level == entry.level, entry.name
        assert entry.honest == base.honest, entry.name
        forged = any(entry.forged_today[p.value] > 0 for p in PROFILES)
        assert forged == (entry.attack_class != CONTROL_CLASS), entry.name


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.is_base], ids=lambda e: e.name)
def test_a_base_earns_its_honest_points(scoring_pool: dict, entry: Entry) -> None:
    for report in _reports(scoring_pool, entry):
        assert report.scores == entry.honest, report.model_dump_json(include={"tests"})


@pytest.mark.parametrize("entry", [e for e in ENTRIES if not e.is_base], ids=lambda e: e.name)
def test_an_attack_earns_no_unearned_point(scoring_pool: dict, entry: Entry) -> None:
    for number, report in enumerate(_reports(scoring_pool, entry), 1):
        unearned = {p.value: round(report.scores[p.value] - entry.honest[p.value], 1)
                    for p in PROFILES}
        passed = [f"{t.profile.value} {t.id}" for t in report.tests if t.outcome == "passed"]
        assert all(value <= 0 for value in unearned.values()), (
            f"run {number}: unearned {unearned}; passed: {passed}")
