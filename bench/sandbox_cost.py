"""What scoring costs: where a sandbox's time goes, per level and profile, and throughput.

    .venv/bin/python bench/sandbox_cost.py [--repeat 3] [--out DIR]

Scores the reference answers in real Docker sandboxes, one at a time on an otherwise idle
host, each profile in a sandbox of its own, and reports per level and profile (medians):

- wall seconds of the whole scoring, and the tests' own span inside (first test started to
  last result, from the runner's signed report): the rest is overhead;
- that overhead split into the host's steps (create, start, send the files, inspect,
  remove) and the runner's setup (its start to the first test: the zygote's warm-up);
- the container's CPU seconds (its cgroup), against its wall seconds: sandboxes mostly sleep.

Then attempts scored per minute: every level's reference answer scored twice (both
profiles, as workers do), at the default sandbox cap and at one sandbox per core. Writes
sandbox_cost.json and sandbox_cost.md to --out (default bench/results/); asserts nothing.
"""

import argparse
import json
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from machine import describe, line

from challenge.answers import canned_answer
from challenge.levels import LEVELS, Level, Profile
from worker._docker import DockerSandbox
from worker.records import ScoreReport
from worker.sandbox import SandboxLimits
from worker.scorer import score_answer
from worker.settings import Settings

IMAGE = "jqbench-sandbox:latest"
HOST_STEPS = ("create", "start", "send", "inspect", "remove")


def figures(report: ScoreReport) -> dict[str, float]:
    phases, timing = report.sandbox_phases_s, report.runner_timing
    tests_s = timing.get("tests_s", 0.0)
    return {
        "wall_s": report.duration_s,
        "tests_s": tests_s,
        "longest_test_s": max((t.duration_s for t in report.tests), default=0.0),
        "overhead_s": report.duration_s - tests_s,
        "host_steps_s": sum(phases.get(step, 0.0) for step in HOST_STEPS),
        "runner_setup_s": timing.get("setup_s", 0.0),
        "cpu_s": timing.get("cpu_s", 0.0),
        **{f"{step}_s": phases.get(step, 0.0) for step in HOST_STEPS},
    }


def per_level(sandbox: DockerSandbox, repeat: int) -> list[dict[str, Any]]:
    rows = []
    for level in LEVELS:
        for profile in (Profile.LEGACY, Profile.STRICT):
            runs = [figures(score_answer(canned_answer(level, "reference"), level, sandbox,
                                         SandboxLimits(), profiles=[profile]))
                    for _ in range(repeat)]
            row: dict[str, Any] = {"level": level.value, "profile": profile.value}
            row.update({key: round(statistics.median(r[key] for r in runs), 2)
                        for key in runs[0]})
            rows.append(row)
            print(f"{level.value} {profile.value}: wall {row['wall_s']} s, tests "
                  f"{row['tests_s']} s, cpu {row['cpu_s']} s", flush=True)
    return rows


def throughput(sandbox: DockerSandbox, slots: int, rounds: int = 2) -> dict[str, Any]:
    """Attempts (both profiles) scored per minute with `slots` sandboxes at once."""
    work = [level for _ in range(rounds) for level in LEVELS]

    def one(level: Level) -> float:
        return score_answer(canned_answer(level, "reference"), level, sandbox,
                            SandboxLimits()).duration_s

    started = time.monotonic()
    with ThreadPoolExecutor(slots) as pool:
        durations = list(pool.map(one, work))
    wall = time.monotonic() - started
    return {"slots": slots, "attempts": len(work), "wall_s": round(wall, 1),
            "attempts_per_min": round(len(work) / wall * 60, 1),
            "median_scoring_s": round(statistics.median(durations), 1)}


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Sandbox cost: the reference answers, one scoring at a time",
        "",
        line(result["machine"]) + f"; medians of {result['repeat']} runs per row, each profile "
        "in a sandbox of its own.",
        "",
        "| level | profile | wall (s) | tests (s) | overhead (s) | host steps (s) | runner "
        "setup (s) | CPU (s) | longest test (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['level']} | {r['profile']} | {r['wall_s']} | {r['tests_s']} | "
              f"{r['overhead_s']} | {r['host_steps_s']} | {r['runner_setup_s']} | "
              f"{r['cpu_s']} | {r['longest_test_s']} |" for r in result["levels"]]
    steps = {step: round(statistics.median(r[f"{step}_s"] for r in result["levels"]), 2)
             for step in HOST_STEPS}
    lines += ["", "Host steps, median over the rows (s): " + ", ".join(
        f"{step} {secs}" for step, secs in steps.items()) + ".", "",
        "| sandboxes at once | attempts (both profiles) | wall (s) | attempts per minute | "
        "median scoring (s) |", "|---|---|---|---|---|"]
    lines += [f"| {t['slots']} | {t['attempts']} | {t['wall_s']} | {t['attempts_per_min']} | "
              f"{t['median_scoring_s']} |" for t in result["throughput"]]
    lines += ["", "Overhead: wall minus the tests' own span (first test started to last "
              "result); it holds the host's steps, the runner's setup (the zygote imports "
              "pytest and warms up) and the container's start and exit. A level's wall is "
              "its longest test (L2's strict window, L2 legacy's 10 s sleeps) plus that "
              "overhead; its CPU is a fraction of its wall, which is why the default cap "
              "runs 3 sandboxes per core.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sandbox = DockerSandbox(IMAGE, worker_id="bench-sandbox-cost")
    cores = os.cpu_count() or 1
    default_slots = Settings().effective_sandbox_slots
    result = {
        "machine": describe(),
        "repeat": args.repeat,
        "levels": per_level(sandbox, args.repeat),
        "throughput": [throughput(sandbox, slots)
                       for slots in dict.fromkeys([cores, default_slots])],
    }
    (args.out / "sandbox_cost.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "sandbox_cost.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
