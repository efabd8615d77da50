"""The legacy suites, run with plain local pytest against the canned answers.

Slow (the suites' fixed sleeps: L2 alone waits ~36 s), so all ten runs start at once, in the
session fixture `local_suite_runs` (tests/conftest.py), alongside the Docker scoring pool when
that runs too; the concurrent load is welcome, since the L3 race test must hold under it.
"""

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import NamedTuple

import pytest

from challenge.answers import EXPECTED_LEGACY_POINTS, FLAVOURS
from challenge.levels import Level, Profile
from challenge.outcomes import TestOutcome
from challenge.points import legacy_points
from challenge.suite_index import test_cases as cases_for

RUN_TIMEOUT_S = 300
# the module fixture runs all ten suites at once (about 45 s); RUN_TIMEOUT_S must fail first
pytestmark = [pytest.mark.slow, pytest.mark.timeout(RUN_TIMEOUT_S + 60)]


def all_ids(level: Level) -> set[str]:
    """Every test id of the level's legacy test set."""
    return {case.id for case in cases_for(level, Profile.LEGACY)}


EXPECTED_PASSED: dict[tuple[Level, str], set[str]] = {
    **{(level, "reference"): all_ids(level) for level in Level},
    (Level.L1, "flawed"): all_ids(Level.L1),
    (Level.L2, "flawed"): all_ids(Level.L1)
    | {"L2::success_needs_no_retry", "L2::failure_does_not_block_other_jobs"},
    (Level.L3, "flawed"): all_ids(Level.L2)
    | {"L3::same_priority_is_fifo", "L3::priority_with_arguments"},
    (Level.L4, "flawed"): all_ids(Level.L4),
    (Level.L5, "flawed"): {"L5::package_structure"},
}


class SuiteRun(NamedTuple):
    """One canned answer's suite run: per-test outcomes, whether it had code, pytest output."""

    outcomes: list[TestOutcome]
    has_code: bool
    output: str


def _outcomes(report: Path, level: Level) -> list[TestOutcome]:
    """The outcomes in pytest's JUnit report, under our test ids (none if pytest crashed)."""
    if not report.exists():
        return []
    by_function = {(c.file.removesuffix(".py"), c.function): c.id for c in cases_for(level)}
    outcomes = []
    for case in ET.parse(report).getroot().iter("testcase"):
        kind = "passed"
        for tag, name in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
            if case.find(tag) is not None:
                kind = name
        module = case.get("classname", "").rsplit(".", 1)[-1]  # dotted path from the rootdir
        test_id = by_function[(module, case.get("name", ""))]
        outcomes.append(TestOutcome(profile=Profile.LEGACY, id=test_id, outcome=kind))
    return outcomes


@pytest.fixture(scope="module")
def suite_runs(local_suite_runs) -> dict[tuple[Level, str], SuiteRun]:
    """The finished runs of the session's `local_suite_runs` (tests/conftest.py)."""
    runs = {}
    for key, started in local_suite_runs.items():
        output, _ = started.process.communicate(timeout=RUN_TIMEOUT_S)
        runs[key] = SuiteRun(_outcomes(started.report, key[0]), started.has_code, output)
    return runs


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("level", list(Level))
def test_canned_answer_scores_as_expected(suite_runs, level, flavour):
    run = suite_runs[(level, flavour)]
    passed = {o.id for o in run.outcomes if o.outcome == "passed"}
    assert {o.id for o in run.outcomes} == all_ids(level), run.output
    assert passed == EXPECTED_PASSED[(level, flavour)], run.output
    score = legacy_points(level, run.outcomes, run.has_code)
    assert score.points == EXPECTED_LEGACY_POINTS[flavour][level]
