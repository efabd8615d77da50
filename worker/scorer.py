"""Score one answer for one level: the single function the worker, `score` and `regrade` use.

answer -> per-profile extraction and the level's suites (challenge.bundle) -> one sandbox run
of the in-container runner (challenge/sandbox/runner.py) -> per-test outcomes -> points
(challenge.points). Only the runner's report line that carries this run's fresh nonce is
believed: the candidate can print anything, but it never sees the nonce. A run without such
a line (the container ran out of memory, hit its wall clock, or the runner was killed) is
still a model outcome: every planned test is then an `error`. A sandbox that could not run
at all raises SandboxUnavailable (infrastructure; never scored).
"""

import json
import secrets
import time
from collections.abc import Mapping, Sequence
from functools import cache
from importlib.resources import files as package_files
from typing import Any

from pydantic import ValidationError

from challenge.bundle import build_bundle
from challenge.levels import Level, Profile
from challenge.outcomes import TestOutcome
from challenge.plan import PlannedTest
from challenge.points import SCORE_RULES, level_points
from worker.records import ScoreReport
from worker.sandbox import ExecResult, Sandbox, SandboxLimits
from worker.text import safe_data, safe_text

__all__ = ["SCORING_PROFILES", "ScoreReport", "score_answer"]

REPORT_MARKER = "JQBENCH-REPORT"
RUNNER_DIR = "_runner"
PLAN_FILE = "plan.json"
NONCE_FILE = ".nonce"
RUNNER_COMMAND = ["python3", f"/work/{RUNNER_DIR}/runner.py", f"/work/{PLAN_FILE}"]


#: Every profile scored for each attempt, from the same sandbox run (legacy first).
SCORING_PROFILES: tuple[Profile, ...] = tuple(p for p in Profile if p in SCORE_RULES)


@cache
def runner_files() -> dict[str, str]:
    """The in-container runner's sources, as they go under /work/_runner/."""
    folder = package_files("challenge") / "sandbox"
    return {
        f"{RUNNER_DIR}/{entry.name}": entry.read_text(encoding="utf-8")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".py") and entry.name != "__init__.py"
    }


def runner_command(limits: SandboxLimits) -> list[str]:
    """The runner's argv; its time budget leaves room to report before the wall clock."""
    margin = max(1.0, min(10.0, limits.wall_clock_s * 0.1))
    budget = max(1.0, limits.wall_clock_s - margin)
    return [*RUNNER_COMMAND, "--budget-s", f"{budget:.1f}"]


def parse_report(stdout: str, nonce: str) -> dict[str, Any] | None:
    """The runner's report object from the line carrying `nonce`, else None.

    Lines without the nonce (a candidate's forgeries) are ignored. The runner prints its line
    last, after killing every test process, so the last match wins; it may follow junk that a
    candidate left unterminated on the container's stdout, hence the search within the line.
    """
    prefix = f"{REPORT_MARKER} {nonce} "
    found = None
    for line in stdout.splitlines():
        at = line.find(prefix)
        if at >= 0:
            found = line[at + len(prefix):]
    if found is None:
        return None
    try:
        report = json.loads(found)
    except ValueError:
        return None
    if not isinstance(report, dict) or not isinstance(report.get("tests"), list):
        return None
    return report


def _failure_reason(result: ExecResult) -> str:
    if result.timed_out:
        return f"the sandbox hit its wall-clock limit after {result.duration_s:g} s"
    if result.oom_killed:
        return "the sandbox ran out of memory"
    return f"the sandbox ended with exit code {result.exit_code}"


def reported_outcomes(planned: Sequence[PlannedTest], report: Mapping[str, Any] | None,
                      result: ExecResult) -> list[TestOutcome]:
    """One outcome per planned test, in plan order; unreported tests are errors.

    The report is matched to the plan by (profile, id); anything it claims beyond the plan is
    ignored, and a malformed entry counts as unreported.
    """
    claimed: dict[tuple[str, str], TestOutcome] = {}
    for entry in (report or {}).get("tests", []):
        try:
            outcome = TestOutcome.model_validate(safe_data(entry))
        except ValidationError:
            continue
        claimed.setdefault((outcome.profile.value, outcome.id), outcome)
    missing = ("no report from the runner: " + _failure_reason(result) if report is None
               else "not in the runner's report")
    return [
        claimed.get((test.profile.value, test.id))
        or TestOutcome(profile=test.profile, id=test.id, outcome="error", message=missing)
        for test in planned
    ]


def sandbox_output(result: ExecResult, nonce: str, cap: int) -> str:
    """Stderr and stdout of the sandbox, our report line removed, capped to the tail."""
    prefix = f"{REPORT_MARKER} {nonce} "
    stray = "\n".join(line.split(prefix, 1)[0] for line in result.stdout.splitlines())
    stray = "\n".join(line for line in stray.splitlines() if line.strip())
    text = "\n".join(part for part in (result.stderr.strip(), stray) if part)
    text = safe_text(text)
    data = text.encode("utf-8")
    if len(data) <= cap:
        return text
    return data[len(data) - cap:].decode("utf-8", "ignore")


def _text(value: object) -> str | None:
    return None if value is None else safe_text(str(value)[:100])


def score_answer(
    answer: str,
    level: Level,
    sandbox: Sandbox,
    limits: SandboxLimits,
    *,
    profiles: Sequence[Profile] = SCORING_PROFILES,
    labels: Mapping[str, str] | None = None,
) -> ScoreReport:
    """Extract, run the level's tests in one sandbox, and turn the outcomes into points.

    Raises:
        SandboxUnavailable: Docker (or whatever runs the sandbox) failed: infrastructure.
    """
    started = time.monotonic()
    level = Level(level)
    profiles = tuple(dict.fromkeys(Profile(p) for p in profiles))
    bundle = build_bundle(
        answer, level, profiles=profiles, test_timeout_s=limits.test_timeout_s,
        max_parallel=limits.max_parallel_tests, output_cap_bytes=limits.output_cap_bytes,
    )
    has_code = {p: bool(bundle.extracted.get(p.value)) for p in profiles}
    report = ScoreReport(level=level, status="ok", extracted=bundle.extracted)
    tests: list[TestOutcome] = []
    if not any(has_code.values()):
        report.status = "no_code"
    else:
        nonce = secrets.token_hex(16)
        files: dict[str, str] = {
            **bundle.files,
            **runner_files(),
            PLAN_FILE: bundle.plan.model_dump_json(),
            NONCE_FILE: nonce,
        }
        result = sandbox.run(files, runner_command(limits), limits=limits, labels=labels)
        parsed = parse_report(result.stdout, nonce)
        tests = reported_outcomes(bundle.plan.tests, parsed, result)
        report.tests = tests
        report.sandbox_exit_code = result.exit_code
        report.sandbox_timed_out = result.timed_out
        report.sandbox_oom_killed = result.oom_killed
        report.sandbox_output = sandbox_output(result, nonce, limits.output_cap_bytes)
        if parsed is not None:
            report.python = _text(parsed.get("python"))
            report.pytest = _text(parsed.get("pytest"))
    for profile in profiles:
        mine = [t for t in tests if t.profile == profile]
        score = level_points(profile, level, mine, has_code[profile])
        report.level_scores[profile.value] = score
        report.scores[profile.value] = score.points
    report.duration_s = round(time.monotonic() - started, 3)
    return report
