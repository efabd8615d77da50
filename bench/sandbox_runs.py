"""Measure sandbox scoring: seconds per run for L1 and L3, cost per test, effect of max_parallel.

    .venv/bin/python bench/sandbox_runs.py [--repeat N] [--parallel 1,4,16]

Needs Docker and the sandbox image. Prints a table; asserts nothing (timings vary by host).
"""

import argparse
import secrets
import statistics
import time

from challenge.answers import canned_answer
from challenge.levels import Level, Profile
from challenge.plan import PlannedTest, RunnerLimits, SandboxPlan
from worker._docker import DockerSandbox
from worker.sandbox import SandboxLimits
from worker.scorer import RUNNER_COMMAND, parse_report, runner_files, score_answer

IMAGE = "jqbench-sandbox:latest"
TRIVIAL = "".join(f"def test_{i}():\n    assert True\n" for i in range(32))


def _trivial_run(sandbox: DockerSandbox, tests: int, parallel: int) -> float:
    """Seconds for one sandbox run of `tests` trivial tests (empty work: pure overhead)."""
    key = secrets.token_hex(32)
    plan = SandboxPlan(
        tests=[PlannedTest(profile=Profile.LEGACY, id=f"t{i}", cwd="s", file="suite.py",
                           function=f"test_{i}") for i in range(tests)],
        limits=RunnerLimits(max_parallel=parallel),
    )
    files = {"s/suite.py": TRIVIAL, **runner_files(), "plan.json": plan.model_dump_json(),
             ".key": key}
    started = time.monotonic()
    result = sandbox.run(files, RUNNER_COMMAND, limits=SandboxLimits())
    elapsed = time.monotonic() - started
    assert parse_report(result.stdout, key) is not None, result.stderr
    return elapsed


def _level_run(sandbox: DockerSandbox, level: Level, parallel: int) -> tuple[float, float]:
    limits = SandboxLimits(runner=RunnerLimits(max_parallel=parallel))
    started = time.monotonic()
    report = score_answer(canned_answer(level, "reference"), level, sandbox, limits)
    return time.monotonic() - started, report.scores["legacy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--parallel", default="1,2,4,16")
    args = parser.parse_args()
    sandbox = DockerSandbox(IMAGE, worker_id="bench")
    parallels = [int(p) for p in args.parallel.split(",")]

    def median(fn, *a) -> float:  # type: ignore[no-untyped-def]
        return statistics.median(fn(*a) for _ in range(args.repeat))

    print("trivial tests (overhead only): seconds per sandbox run")
    base = median(_trivial_run, sandbox, 1, 1)
    print(f"  1 test: {base:.2f} s (container + runner + zygote start-up)")
    for parallel in parallels:
        many = median(_trivial_run, sandbox, 16, parallel)
        print(f"  16 tests, max_parallel={parallel:>2}: {many:.2f} s "
              f"-> {(many - base) / 15 * 1000:.0f} ms per extra test")
    print("reference answers (legacy): seconds per sandbox run")
    for level in (Level.L1, Level.L3):
        for parallel in parallels:
            runs = [_level_run(sandbox, level, parallel) for _ in range(args.repeat)]
            seconds = statistics.median(r[0] for r in runs)
            print(f"  {level.value} max_parallel={parallel:>2}: {seconds:6.2f} s, "
                  f"points {sorted({r[1] for r in runs})}")


if __name__ == "__main__":
    main()
