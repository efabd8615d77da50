"""Score one answer for one level: the single function the worker, `score` and `regrade` use.

answer -> per-profile extraction and the level's suites (challenge.bundle) -> one sandbox run
of the in-container runner (challenge/runner/runner.py) -> per-test outcomes -> points
(challenge.points). Only a report line signed with this run's fresh key (HMAC-SHA256) is
believed: the candidate can print anything, but the key lives only in the in-container
launcher, which no candidate uid can read or signal. A run without such a line (the
container ran out of memory, hit its wall clock, or the runner was killed) is
still a model outcome: every planned test is then an `error`. A sandbox that could not run
at all raises SandboxUnavailable (infrastructure; never scored).
"""

import hashlib
import hmac
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
from challenge.outcomes import Cause, TestOutcome
from challenge.plan import PlannedTest
from challenge.points import SCORE_RULES, level_points
from worker.records import ScoreReport
from worker.sandbox import KEY_FILE, ExecResult, Sandbox, SandboxLimits
from worker.text import safe_data, safe_text

__all__ = ["SCORING_PROFILES", "ScoreReport", "score_answer"]

REPORT_MARKER = "JQBENCH-REPORT"
RUNNER_DIR = "_runner"
PLAN_FILE = "plan.json"
RUNNER_COMMAND = ["python3", "-I", f"/work/{RUNNER_DIR}/launcher.py",
                  f"/work/{RUNNER_DIR}/runner.py", f"/work/{PLAN_FILE}"]
"""The root launcher, which starts the runner under the trusted uid (docs/trust-boundary.md)."""


#: Every profile scored for each attempt, from the same sandbox run (legacy first).
SCORING_PROFILES: tuple[Profile, ...] = tuple(p for p in Profile if p in SCORE_RULES)


@cache
def runner_files() -> dict[str, str]:
    """The in-container runner's sources, as they go under /work/_runner/."""
    folder = package_files("challenge") / "runner"
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


def report_signature(key: str, body: str) -> str:
    """The launcher's signature of a report body: hex HMAC-SHA256 under the run's key."""
    return hmac.new(key.encode(), body.encode(), hashlib.sha256).hexdigest()


def report_line(key: str, body: str) -> str:
    """The line the launcher prints for a report body (fake sandboxes print it too)."""
    return f"{REPORT_MARKER} {report_signature(key, body)} {body}"


def _signed_bodies(stdout: str, key: str) -> list[tuple[int, int]]:
    """(start, end) in `stdout` of each marker line whose body carries a valid signature."""
    found = []
    marker = f"{REPORT_MARKER} "
    offset = 0
    for line in stdout.splitlines(keepends=True):
        at = line.find(marker)
        if at >= 0:
            signature, _, body = line[at + len(marker):].rstrip("\r\n").partition(" ")
            if hmac.compare_digest(signature, report_signature(key, body)):
                found.append((offset + at, offset + len(line)))
        offset += len(line)
    return found


def parse_report(stdout: str, key: str) -> dict[str, Any] | None:
    """The runner's report object from the line signed with `key`, else None.

    Lines without a valid signature (a candidate's forgeries) are ignored. The launcher
    prints the line last, so the last valid one wins; it may follow junk left unterminated
    on the container's stdout, hence the search within the line.
    """
    signed = _signed_bodies(stdout, key)
    if not signed:
        return None
    start, end = signed[-1]
    line = stdout[start:end].rstrip("\r\n")
    found = line.split(" ", 2)[2] if line.count(" ") >= 2 else ""
    try:
        report = json.loads(found)
    except ValueError:
        return None
    if not isinstance(report, dict) or not isinstance(report.get("tests"), list):
        return None
    return report


def _timing(value: object) -> dict[str, float]:
    """The runner's timing figures that are plain non-negative numbers."""
    if not isinstance(value, dict):
        return {}
    return {str(k): round(float(v), 3) for k, v in value.items()
            if type(v) in (int, float) and 0 <= v < 1e7}


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
    cause: Cause | None = "timeout" if result.timed_out else None
    return [
        claimed.get((test.profile.value, test.id))
        or TestOutcome(profile=test.profile, id=test.id, outcome="error", message=missing,
                       cause=cause)
        for test in planned
    ]


def sandbox_output(result: ExecResult, key: str, cap: int) -> str:
    """Stderr and stdout of the sandbox, our report line removed, capped to the tail."""
    stdout = result.stdout
    for start, end in reversed(_signed_bodies(stdout, key)):
        stdout = stdout[:start] + "\n" + stdout[end:]
    stray = stdout
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
    bundle = build_bundle(answer, level, profiles=profiles, limits=limits.runner)
    has_code = {p: bool(bundle.extracted.get(p.value)) for p in profiles}
    report = ScoreReport(level=level, status="ok", extracted=bundle.extracted)
    tests: list[TestOutcome] = []
    if not any(has_code.values()):
        report.status = "no_code"
    else:
        key = secrets.token_hex(32)
        files: dict[str, str] = {
            **bundle.files,
            **runner_files(),
            PLAN_FILE: bundle.plan.model_dump_json(),
            KEY_FILE: key,
        }
        result = sandbox.run(files, runner_command(limits), limits=limits, labels=labels)
        parsed = parse_report(result.stdout, key)
        tests = reported_outcomes(bundle.plan.tests, parsed, result)
        report.tests = tests
        report.sandbox_exit_code = result.exit_code
        report.sandbox_timed_out = result.timed_out
        report.sandbox_oom_killed = result.oom_killed
        report.sandbox_output = sandbox_output(result, key, limits.runner.output_cap_bytes)
        report.sandbox_phases_s = dict(result.phases_s)
        if parsed is not None:
            report.python = _text(parsed.get("python"))
            report.pytest = _text(parsed.get("pytest"))
            report.runner_timing = _timing(parsed.get("timing"))
    for profile in profiles:
        mine = [t for t in tests if t.profile == profile]
        score = level_points(profile, level, mine, has_code[profile])
        report.level_scores[profile.value] = score
        report.scores[profile.value] = score.points
    report.duration_s = round(time.monotonic() - started, 3)
    return report
