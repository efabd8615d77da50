"""score_answer around a fake sandbox: what goes in, which report is believed, the points.

The fake plays the container: it reads the key and plan from the files it is given and
prints what the launcher (or a candidate forging its line) would print. Real Docker runs are in
test_scoring_reference.py and test_runner.py.
"""

import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from challenge.answers import canned_answer
from challenge.levels import Level, Profile
from challenge.plan import RunnerLimits
from worker.sandbox import ExecResult, SandboxLimits, SandboxUnavailable
from worker.scorer import parse_report, report_line, runner_command, score_answer

LIMITS = SandboxLimits(wall_clock_s=100, runner=RunnerLimits(
    test_timeout_s=7, max_parallel=3, output_cap_bytes=300))
Behaviour = Callable[[Mapping[str, bytes | str]], ExecResult]


class FakeSandbox:
    """Runs nothing: `behaviour(files)` says what the "container" printed."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.calls: list[tuple[Mapping[str, bytes | str], list[str], dict[str, str] | None]] = []

    def run(self, files: Mapping[str, bytes | str], command: list[str], *,
            limits: SandboxLimits, labels: Mapping[str, str] | None = None) -> ExecResult:
        self.calls.append((files, command, dict(labels) if labels else None))
        return self.behaviour(files)


def _result(stdout: str = "", stderr: str = "", **kw: Any) -> ExecResult:
    fields: dict[str, Any] = dict(exit_code=0, stdout=stdout, stderr=stderr, timed_out=False,
                                  duration_s=1.0, oom_killed=False)
    fields.update(kw)
    return ExecResult(**fields)


#: These tests check the scoring mechanics on one profile; strict is scored the same way.
LEGACY_ONLY = (Profile.LEGACY,)


def _runner_says(outcome: str, key_of: Callable[[str], str] = lambda k: k,
                 extra: str = "") -> Behaviour:
    def behaviour(files: Mapping[str, bytes | str]) -> ExecResult:
        plan = json.loads(files["plan.json"])
        tests = [{"profile": t["profile"], "id": t["id"], "outcome": outcome,
                  "duration_s": 0.1, "message": "", "output": ""} for t in plan["tests"]]
        report = {"python": "3.11.2", "pytest": "7.2.1", "tampered": [], "tests": tests}
        line = report_line(key_of(str(files[".key"])), json.dumps(report))
        return _result(stdout=f"{extra}\n{line}\n", stderr="runner: fine")
    return behaviour


ANSWER = canned_answer(Level.L1, "reference")


def test_no_code_scores_zero_without_a_sandbox() -> None:
    sandbox = FakeSandbox(_runner_says("passed"))
    report = score_answer("I cannot help with that.", Level.L2, sandbox, LIMITS)  # all profiles
    assert sandbox.calls == []
    assert report.status == "no_code" and report.tests == []
    assert report.scores == {"legacy": 0.0, "strict": 0.0}
    score = report.level_scores["legacy"]
    assert (score.tests_passed, score.tests_total, score.tests_total_original) == (0, 10, 0)


def test_what_goes_into_the_sandbox() -> None:
    sandbox = FakeSandbox(_runner_says("passed"))
    score_answer(ANSWER, Level.L1, sandbox, LIMITS, labels={"org.jqbench.run_id": "r1"},
                 profiles=LEGACY_ONLY)
    [(files, command, labels)] = sandbox.calls
    assert {"_runner/launcher.py", "_runner/runner.py", "_runner/scheduler.py",
            "_runner/zygote.py", "_runner/proxy.py", "_runner/candidate_host.py", "plan.json",
            ".key", "legacy/candidate/job_queue.py", "legacy/legacy_l1.py"} <= set(files)
    assert "_runner/__init__.py" not in files
    plan = json.loads(files["plan.json"])
    assert plan["limits"] == {"test_timeout_s": 7, "max_parallel": 3, "output_cap_bytes": 300}
    assert len(str(files[".key"])) == 64
    assert {t["candidate"]["dir"] for t in plan["tests"]} == {"legacy/candidate"}
    assert command == runner_command(LIMITS)
    assert command[:5] == ["python3", "-I", "/work/_runner/launcher.py",
                           "/work/_runner/runner.py", "/work/plan.json"]
    assert command[5] == "--budget-s" and float(command[6]) == 90.0
    assert labels == {"org.jqbench.run_id": "r1"}


def test_each_run_has_a_fresh_key() -> None:
    sandbox = FakeSandbox(_runner_says("passed"))
    for _ in range(2):
        score_answer(ANSWER, Level.L1, sandbox, LIMITS, profiles=LEGACY_ONLY)
    assert sandbox.calls[0][0][".key"] != sandbox.calls[1][0][".key"]


def test_the_report_signed_with_our_key_gives_the_points() -> None:
    forged = 'JQBENCH-REPORT 00000000 {"tests": []}'
    report = score_answer(ANSWER, Level.L1, FakeSandbox(_runner_says("passed", extra=forged)),
                          LIMITS, profiles=LEGACY_ONLY)
    assert report.status == "ok" and report.scores == {"legacy": 25.0}
    assert [t.outcome for t in report.tests] == ["passed"] * 5
    assert (report.python, report.pytest, report.sandbox_exit_code) == ("3.11.2", "7.2.1", 0)
    assert "runner: fine" in report.sandbox_output and forged in report.sandbox_output
    assert "3.11.2" not in report.sandbox_output  # our report line is not repeated there
    assert "class JobQueue" in report.extracted["legacy"]["job_queue.py"]


def test_a_forged_report_is_ignored() -> None:
    sandbox = FakeSandbox(_runner_says("passed", key_of=lambda k: k[::-1]))
    report = score_answer(ANSWER, Level.L1, sandbox, LIMITS, profiles=LEGACY_ONLY)
    assert report.scores == {"legacy": 0.0}
    assert {t.outcome for t in report.tests} == {"error"}
    assert all("no report from the runner" in t.message for t in report.tests)
    assert report.level_scores["legacy"].tests_total_original == 0


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        (_result(exit_code=137, oom_killed=True), "ran out of memory"),
        (_result(exit_code=137, timed_out=True, duration_s=300), "wall-clock limit"),
        (_result(exit_code=1, stdout="{signed_junk}"), "exit code 1"),
    ],
)
def test_no_believable_report_makes_every_test_an_error(result: ExecResult, reason: str) -> None:
    def behaviour(files: Mapping[str, bytes | str]) -> ExecResult:
        return ExecResult(**{**result.__dict__,
                             "stdout": result.stdout.format(
                                 signed_junk=report_line(str(files[".key"]), "{not json"))})

    report = score_answer(ANSWER, Level.L2, FakeSandbox(behaviour), LIMITS,
                          profiles=LEGACY_ONLY)
    assert len(report.tests) == 10 and {t.outcome for t in report.tests} == {"error"}
    assert all(reason in t.message for t in report.tests)
    assert report.scores == {"legacy": 0.0} and report.status == "ok"


def test_tests_missing_from_the_report_are_errors_and_extras_are_ignored() -> None:
    def behaviour(files: Mapping[str, bytes | str]) -> ExecResult:
        plan = json.loads(files["plan.json"])
        tests = [{"profile": "legacy", "id": t["id"], "outcome": "passed"}
                 for t in plan["tests"][1:]]
        tests += [{"profile": "legacy", "id": "L1::bonus", "outcome": "passed"},
                  {"profile": "legacy", "id": plan["tests"][2]["id"], "outcome": "bogus"}]
        line = report_line(str(files[".key"]), json.dumps({"tests": tests}))
        return _result(stdout=line)

    report = score_answer(ANSWER, Level.L1, FakeSandbox(behaviour), LIMITS,
                          profiles=LEGACY_ONLY)
    assert [t.outcome for t in report.tests] == ["error", "passed", "passed", "passed", "passed"]
    assert report.tests[0].message == "not in the runner's report"
    assert report.scores == {"legacy": 20.0}


def test_sandbox_unavailable_propagates() -> None:
    def behaviour(files: Mapping[str, bytes | str]) -> ExecResult:
        raise SandboxUnavailable("daemon down", "start it")

    with pytest.raises(SandboxUnavailable, match="daemon down"):
        score_answer(ANSWER, Level.L1, FakeSandbox(behaviour), LIMITS,
                     profiles=LEGACY_ONLY)


def test_parse_report_takes_the_last_line_with_a_valid_signature() -> None:
    one, two = report_line("k1", '{"tests": [1]}'), report_line("k1", '{"tests": [2]}')
    forged = report_line("k2", '{"tests": [3]}')
    assert parse_report(f"{one}\nnoise\n{two}\n{forged}\n", "k1") == {"tests": [2]}
    assert parse_report(f"{one}\n", "k2") is None
    assert parse_report(f"junk left by a candidate {one}", "k1") == {"tests": [1]}
    assert parse_report(one + "x", "k1") is None  # the body is not the one signed
    assert parse_report(one.replace("[1]", "[9]"), "k1") is None
    assert parse_report(report_line("k1", '{"tests": 3}'), "k1") is None


def test_profiles_are_scored_separately() -> None:
    report = score_answer(ANSWER, Level.L1, FakeSandbox(_runner_says("failed")), LIMITS,
                          profiles=(Profile.LEGACY,))
    assert report.scores == {"legacy": 0.0}
    assert report.level_scores["legacy"].tests_total_original == 10
