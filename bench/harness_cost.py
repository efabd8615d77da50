"""What the harness itself costs per unit, and whether a worker's memory stays flat.

    .venv/bin/python bench/harness_cost.py [--units 1000] [--out DIR]

Its own Redis, one fake model that answers at once with nothing (no code, so every unit ends
no_code without a sandbox), one model worker process and one scoring worker process; submits
units / 5 iterations of the five levels and waits. A unit then costs only the harness: Celery
deliveries, Redis round trips, record writes, prompt building and extraction. Reports wall
time per unit, the medians of each step from the attempts' own timestamps, and the resident
memory of each worker (its main process and pool children) sampled five times a second,
shown at moments of the run (it must stay flat). Writes harness_cost.json and harness_cost.md to
--out (default bench/results/); asserts nothing.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import machine
import yaml

from orchestrator.localstack import LocalStack
from worker.dispatch import SCORE_QUEUE, llm_queue
from worker.records import Attempt
from worker.store import RecordStore

RUN_ID = "harness"


def _children(pid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rfind(")") + 2:].split()[1]) == pid:
                found.append(int(name))
    return found


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MiB."""
    total = 0
    for each in (pid, *_children(pid)):
        try:
            for row in Path(f"/proc/{each}/status").read_text().splitlines():
                if row.startswith("VmRSS:"):
                    total += int(row.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def _seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    return (later - earlier).total_seconds() if later and earlier else None


def steps(attempts: list[Attempt]) -> dict[str, float]:
    """Median milliseconds of each step of a unit, from its records."""
    pairs = {
        "queued (enqueued to generate started)": ("gen_started_at", "enqueued_at"),
        "generate (prompt, model call, extraction, records)": ("gen_finished_at",
                                                              "gen_started_at"),
        "handoff (generated to scoring started)": ("score_started_at", "gen_finished_at"),
        "score (no code: records only)": ("score_finished_at", "score_started_at"),
    }
    out = {}
    for name, (later, earlier) in pairs.items():
        values = [v for a in attempts
                  if (v := _seconds(getattr(a, later), getattr(a, earlier))) is not None]
        out[name] = round(statistics.median(values) * 1000, 1) if values else None
    return out


MOMENTS = (0.1, 0.25, 0.5, 0.75, 1.0)
"""Fractions of the run at which the memory table shows a worker's RSS."""


def memory(samples: list[float]) -> dict[str, float]:
    """RSS at MOMENTS of the run (after the first tasks' imports: 10 % in), and its peak."""
    if not samples:
        return {}
    return {**{f"{int(m * 100)}%": samples[min(len(samples) - 1, int(m * len(samples)))]
               for m in MOMENTS}, "peak": max(samples)}


def run_bench(units: int, workdir: Path) -> dict[str, Any]:
    iterations = max(1, units // 5)
    with LocalStack(workdir=workdir / "stack") as stack:
        redis_url = stack.start_redis()
        server = stack.start_fake_server("m", "empty", slots=1)
        config = workdir / "models.yaml"
        config.write_text(yaml.safe_dump({"models": {"m": {"base_url": f"{server.url}/v1"}}}))
        env = {"REDIS_URL": redis_url}
        workers = {"model worker": stack.start_worker("llm", [llm_queue("m")], 1, env),
                   "scoring worker": stack.start_worker("score", [SCORE_QUEUE], 1, env)}
        time.sleep(3)  # workers up
        samples: dict[str, list[float]] = {name: [] for name in workers}
        started = time.monotonic()
        submit = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "submit", "--models", "m", "--config",
             str(config), "--iterations", str(iterations), "--run-id", RUN_ID, "--wait"],
            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while submit.poll() is None:
            for name, child in workers.items():
                samples[name].append(rss_mb(child.process.pid))
            time.sleep(0.2)
        wall = time.monotonic() - started
        store = RecordStore.from_url(redis_url)
        run = store.get_run(RUN_ID)
        assert run is not None
        attempts = list(store.get_attempts(run).values())
    return {
        "machine": machine.describe(),
        "units": len(attempts),
        "iterations": iterations,
        "wall_s": round(wall, 1),
        "ms_per_unit": round(wall / max(1, len(attempts)) * 1000, 1),
        "statuses": sorted({a.status.value for a in attempts}),
        "steps_ms_median": steps(attempts),
        "rss_mb": {name: memory(values) for name, values in samples.items()},
        "rss_samples_mb": samples,
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"# Harness cost: {result['units']} units with nothing to generate or score",
        "",
        machine.line(result["machine"]) + "; one model worker process, one scoring worker "
        "process, a fake model that answers at once with nothing to score.",
        "",
        f"Wall time {result['wall_s']} s from submit to the last record: "
        f"**{result['ms_per_unit']} ms per unit** (units run one after the other through "
        "the single model worker process, so this is the harness's cost per unit).",
        "",
        "| step of a unit | median (ms) |",
        "|---|---|",
    ]
    lines += [f"| {name} | {ms} |" for name, ms in result["steps_ms_median"].items()]
    moments = [f"{int(m * 100)}%" for m in MOMENTS]
    lines += ["", "| worker | " + " | ".join(f"RSS at {m} of the run (MiB)" for m in moments)
              + " | peak |", "|---" * (len(moments) + 2) + "|"]
    lines += [f"| {name} | " + " | ".join(str(m.get(k)) for k in moments) + f" | {m.get('peak')} |"
              for name, m in result["rss_mb"].items()]
    lines += ["", "Queued includes the wait behind other iterations' units (all iterations' "
              "L1 units are sent at once); the other steps are the harness's own work.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="jq-harness-bench-") as tmp:
        result = run_bench(args.units, Path(tmp))
    (args.out / "harness_cost.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "harness_cost.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
