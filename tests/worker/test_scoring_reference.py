"""score_answer end to end in real Docker: the canned answers score what docs/challenge.md §4
(legacy) and docs/scoring.md §5 (strict) say.

The suites' waits make L2 and L3 take well over 10 s each (strict L2's no-5th-attempt window
alone ends about 16 s in), so every case is scored in parallel with the session's other
scorings, by its scoring pool (tests/conftest.py `scoring_pool`, both profiles from one
sandbox run), under the corpus's limits: the answers the corpus holds too (the reference
answers, the L2 code without retries, the unmodified L4 prompt code) are not scored again for
this module. The tests read the reports.
"""

import pytest

from challenge.answers import canned_answer
from challenge.extraction import extract_code_legacy
from challenge.levels import Level
from challenge.prompts import prompt_text
from tests.corpus.corpus import LIMITS
from tests.pooled import BOTH, PoolNeeds
from worker.sandbox import SandboxLimits
from worker.scorer import ScoreReport

# the first test may wait for the whole scoring pool (about 2 min on 2 cores)
pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]

L4_PROMPT_CODE = "```python\n" + extract_code_legacy(prompt_text(Level.L4)) + "```\n"
EXIT_AT_IMPORT = "```python\nimport os\nos._exit(0)\n```\n"
KILL_EVERYTHING = "```python\nimport os, signal\nos.kill(-1, signal.SIGKILL)\n```\n"

CASES: dict[str, tuple[str, Level]] = {
    **{f"reference-{lv.value}": (canned_answer(lv, "reference"), lv) for lv in Level},
    "no-retry-L2": (canned_answer(Level.L2, "flawed"), Level.L2),
    "prompt-code-L4": (L4_PROMPT_CODE, Level.L4),
    "exit-at-import-L1": (EXIT_AT_IMPORT, Level.L1),
    "kill-everything-L1": (KILL_EVERYTHING, Level.L1),
}


#: What this module reads from the session's scoring pool: every case, once.
POOLED_SCORINGS: PoolNeeds = {(answer, level, LIMITS): (BOTH,) for answer, level in CASES.values()}


@pytest.fixture(scope="module")
def scored(scoring_pool: dict[tuple[str, Level, SandboxLimits], list[ScoreReport]]
           ) -> dict[str, ScoreReport]:
    return {case: scoring_pool[(answer, level, LIMITS)][0]
            for case, (answer, level) in CASES.items()}


@pytest.mark.parametrize(
    ("level", "points"),
    [(Level.L1, 25), (Level.L2, 25), (Level.L3, 25), (Level.L4, 15), (Level.L5, 10)],
)
def test_reference_answers_score_full_legacy_points(
    scored: dict[str, ScoreReport], level: Level, points: int
) -> None:
    report = scored[f"reference-{level.value}"]
    failing = [(t.id, t.outcome, t.message) for t in report.tests if t.outcome != "passed"]
    assert report.scores == {"legacy": float(points), "strict": float(points)}, failing
    assert not failing
    totals = 0
    for profile in ("legacy", "strict"):
        score = report.level_scores[profile]
        assert score.tests_passed == score.tests_total
        totals += score.tests_total
    assert totals == len(report.tests)
    assert (report.python or "").startswith("3.11") and report.pytest == "7.2.1"


def test_code_without_retries_gets_full_l2(scored: dict[str, ScoreReport]) -> None:
    report = scored["no-retry-L2"]
    assert report.scores == {"legacy": 25.0, "strict": 17.3}  # strict: 9 of its 13 tests
    assert report.level_scores["legacy"].tests_passed < 10


def test_unmodified_l4_prompt_code_gets_15(scored: dict[str, ScoreReport]) -> None:
    assert scored["prompt-code-L4"].scores == {"legacy": 15.0, "strict": 0.0}


def test_exit_at_import_scores_zero(scored: dict[str, ScoreReport]) -> None:
    report = scored["exit-at-import-L1"]
    assert report.status == "ok" and report.scores == {"legacy": 0.0, "strict": 0.0}
    assert {t.outcome for t in report.tests} == {"error"}
    assert report.level_scores["legacy"].tests_total_original == 0


def test_killing_everything_reaches_only_the_candidate_itself(
    scored: dict[str, ScoreReport],
) -> None:
    # kill(-1, SIGKILL) reaches only the other processes of the candidate's own uid (none):
    # the runner and the launcher live on and report; every test is an error (the answer
    # holds no JobQueue, so its collection fails, as it did in one process), scored 0.
    report = scored["kill-everything-L1"]
    assert report.status == "ok" and report.scores == {"legacy": 0.0, "strict": 0.0}
    assert {t.outcome for t in report.tests} == {"error"}
    assert all(t.message.startswith("collection failed: importing job_queue failed")
               for t in report.tests), [t.message for t in report.tests]


def test_a_scoring_says_where_its_time_went(scored: dict[str, ScoreReport]) -> None:
    """The host's steps of the sandbox run, and the runner's own (from its signed report):
    what bench/sandbox_cost.py reads."""
    report = scored["reference-L2"]
    phases = report.sandbox_phases_s
    assert set(phases) == {"create", "start", "send", "run", "inspect", "remove"}
    assert all(value >= 0 for value in phases.values())
    timing = report.runner_timing
    assert set(timing) == {"setup_s", "tests_s", "cpu_s"}
    longest = max(t.duration_s for t in report.tests)
    assert longest <= timing["tests_s"] <= phases["run"]  # L2's tests wait ~16 s
    assert 0 < timing["cpu_s"] < phases["run"]  # mostly asleep: under one core on average
    assert report.duration_s >= sum(phases.values())
