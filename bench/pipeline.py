"""The whole pipeline against its limit: is scoring ever what the GPUs wait for?

    .venv/bin/python bench/pipeline.py [--models 2] [--iterations 3] [--tokens-per-s 100]
                                       [--score-workers N] [--scaling] [--out DIR]

Starts its own Redis, M fake llama-servers with one slot each (answer time follows answer
length at --tokens-per-s), one model worker per server, one scoring worker (N processes,
default: the workers' default) and real Docker sandboxes; submits all five levels x N
iterations and waits for the run. Reports:

- wall time, from submit to the last score;
- the ideal: the busiest server's generation time plus the median L3 scoring time, and
  efficiency = ideal / wall;
- each server's busy fraction (a request in flight) from its first request to its last
  answer, and its longest idle gap;
- the scoring queue: units generated and waiting for a sandbox, sampled every second;
- the original's shape, measured in the same run against the same servers: one model, one
  level at a time, each answer scored inline before the next prompt, in one process (both
  profiles, one sandbox at a time), and the speedup over it;
- the reference answers' legacy outcomes: every scoring of the run, and how many missed a
  legacy test (the determinism goal under pipeline load: none).

With --scaling, the same for 1, 2, 4 and 8 models (8 with one iteration), one after the
other, into pipeline_scaling.json and pipeline_scaling.md: where the scoring host stops
keeping up with the GPUs (there the original's shape is only estimated, as the sum of the
run's unit times). Otherwise writes pipeline.json and pipeline.md. Output goes to --out
(default bench/results/); asserts nothing.
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
from openai import OpenAI
from spans import coverage

from challenge.levels import LEVELS, Level
from challenge.prompts import build_prompt
from orchestrator.localstack import LocalStack
from worker._docker import DockerSandbox
from worker.dispatch import SCORE_QUEUE, llm_queue
from worker.records import Attempt, AttemptStatus
from worker.sandbox import SandboxLimits
from worker.scorer import score_answer
from worker.settings import Settings
from worker.store import RecordStore

IMAGE = "jqbench-sandbox:latest"


def spans_of(log: Path) -> list[tuple[float, float]]:
    """(start, end) of every answered chat request in a fake server's request log."""
    spans = []
    for line in log.read_text().splitlines():
        record = json.loads(line)
        if str(record.get("path", "")).endswith("/completions") and record.get("finished_at") \
                and record.get("started_at"):
            spans.append((float(record["started_at"]), float(record["finished_at"])))
    return sorted(spans)


def busy(spans: list[tuple[float, float]]) -> tuple[float, float, float]:
    """(busy seconds, busy fraction, longest idle gap) from the first start to the last end."""
    if not spans:
        return 0.0, 0.0, 0.0
    first, last = spans[0][0], max(end for _, end in spans)
    covered, gap = coverage(spans, first, last)
    return covered, covered / (last - first) if last > first else 1.0, gap


def _ts(value: datetime | None) -> float:
    return value.timestamp() if value else 0.0


def queue_lengths(attempts: list[Attempt], start: float, end: float) -> list[int]:
    """Units waiting for scoring (generated, scoring not started), once a second."""
    waits = [(_ts(a.gen_finished_at), _ts(a.score_started_at)) for a in attempts
             if a.gen_finished_at and a.score_started_at]
    samples, moment = [], start
    while moment <= end:
        samples.append(sum(begin <= moment < until for begin, until in waits))
        moment += 1.0
    return samples


def original_shape(urls: list[str], iterations: int) -> dict[str, Any]:
    """The original's way: each model in turn, each iteration's levels in turn, each answer
    scored inline (one sandbox) before the next prompt, all in this one process."""
    sandbox = DockerSandbox(IMAGE, worker_id="bench-original")
    generation = scoring = 0.0
    started = time.monotonic()
    for url in urls:
        with OpenAI(base_url=f"{url}/v1", api_key="none", timeout=600) as client:
            for _ in range(iterations):
                for level in LEVELS:
                    began = time.monotonic()
                    reply = client.chat.completions.create(
                        model="fake", max_tokens=8192, temperature=0.1,
                        messages=[{"role": "user", "content": build_prompt(level, None)}])
                    answer = reply.choices[0].message.content or ""
                    answered = time.monotonic()
                    score_answer(answer, level, sandbox, SandboxLimits())
                    generation += answered - began
                    scoring += time.monotonic() - answered
    return {"wall_s": round(time.monotonic() - started, 1),
            "generation_s": round(generation, 1), "scoring_s": round(scoring, 1)}


def legacy_misses(store: RecordStore, run_id: str, attempts: list[Attempt]) -> dict[str, Any]:
    """How the reference answers fared under legacy rules in this run."""
    scorings = misses = 0
    missed: list[str] = []
    for attempt in attempts:
        score = attempt.level_scores.get("legacy") if attempt.level_scores else None
        if score is None:
            continue
        scorings += 1
        if score.tests_passed < score.tests_total:
            misses += 1
            missed.append(f"{attempt.model} iter{attempt.iteration} {attempt.level.value}")
    return {"scorings": scorings, "with_a_legacy_miss": misses, "which": missed}


def run_bench(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    models = [f"m{n}" for n in range(1, args.models + 1)]
    with LocalStack(workdir=workdir / "stack") as stack:
        redis_url = stack.start_redis()
        servers = {name: stack.start_fake_server(name, "reference", slots=1,
                                                 tokens_per_s=args.tokens_per_s)
                   for name in models}
        config = workdir / "models.yaml"
        config.write_text(yaml.safe_dump({"models": {
            name: {"base_url": f"{server.url}/v1", "slots": 1}
            for name, server in servers.items()}}))
        env = {"REDIS_URL": redis_url, "JQ_SANDBOX_IMAGE": IMAGE}
        for name in models:
            stack.start_worker(f"llm-{name}", [llm_queue(name)], 1, env)
        scorers = args.score_workers or Settings().effective_sandbox_slots
        stack.start_worker("score", [SCORE_QUEUE], scorers, env)
        time.sleep(3)  # workers up
        started = time.time()
        subprocess.run([sys.executable, "-m", "orchestrator", "submit", "--models", *models,
                        "--config", str(config), "--iterations", str(args.iterations),
                        "--run-id", "pipeline", "--wait"], env={**os.environ, **env},
                       check=True, capture_output=True, text=True, timeout=3600)
        store = RecordStore.from_url(redis_url)
        run = store.get_run("pipeline")
        assert run is not None
        attempts = list(store.get_attempts(run).values())
        logs = {name: stack.workdir / f"{name}.requests.jsonl" for name in models}
        spans = {name: spans_of(log) for name, log in logs.items()}
        misses = legacy_misses(store, "pipeline", attempts)
        original = (original_shape([s.url for s in servers.values()], args.iterations)
                    if args.original else None)

    ended = max(_ts(a.score_finished_at) for a in attempts)
    wall = ended - started
    per_server = {}
    for name in models:
        seconds, fraction, gap = busy(spans[name])
        per_server[name] = {"generation_s": round(seconds, 1), "busy": round(fraction, 3),
                            "longest_idle_gap_s": round(gap, 1)}
    score_s = {a.level: [] for a in attempts}
    gen_s: list[float] = []
    for a in attempts:
        if a.score_started_at and a.score_finished_at:
            score_s[a.level].append(_ts(a.score_finished_at) - _ts(a.score_started_at))
        if a.gen_started_at and a.gen_finished_at:
            gen_s.append(_ts(a.gen_finished_at) - _ts(a.gen_started_at))
    median_l3 = statistics.median(score_s[Level.L3]) if score_s.get(Level.L3) else 0.0
    ideal = max(s["generation_s"] for s in per_server.values()) + median_l3
    estimate = sum(gen_s) + sum(sum(v) for v in score_s.values())
    original_s = original["wall_s"] if original else estimate
    queue = queue_lengths(attempts, started, ended)
    return {
        "machine": machine.describe(),
        "settings": {"models": args.models, "iterations": args.iterations,
                     "tokens_per_s": args.tokens_per_s, "score_workers": scorers,
                     "sandbox_slots": Settings().effective_sandbox_slots},
        "units": len(attempts),
        "scored": sum(a.status is AttemptStatus.SCORED for a in attempts),
        "wall_s": round(wall, 1),
        "ideal_s": round(ideal, 1),
        "efficiency": round(ideal / wall, 3) if wall else None,
        "servers": per_server,
        "scoring_s_median": {level.value: round(statistics.median(v), 1)
                             for level, v in sorted(score_s.items()) if v},
        "scoring_queue": {"max": max(queue, default=0),
                          "mean": round(statistics.fmean(queue), 2) if queue else 0.0,
                          "samples": queue},
        "original_shape": original,
        "original_shape_estimate_s": round(estimate, 1),
        "original_shape_measured": original is not None,
        "speedup_over_original": round(original_s / wall, 2) if wall else None,
        "reference_legacy": misses,
    }


def markdown(result: dict[str, Any]) -> str:
    s, m = result["settings"], result["machine"]
    lines = [
        f"# Pipeline: {s['models']} fake models x 5 levels x {s['iterations']} iterations at "
        f"{s['tokens_per_s']:g} tokens/s",
        "",
        f"{machine.line(m)}; one slot per server, {s['score_workers']} scoring processes, "
        f"{s['sandbox_slots']} sandboxes at once (the default cap).",
        "",
        "| measure | value |",
        "|---|---|",
        f"| units scored | {result['scored']} of {result['units']} |",
        f"| wall time (s) | {result['wall_s']} |",
        f"| ideal (s): busiest server's generation + median L3 scoring | {result['ideal_s']} |",
        f"| efficiency (ideal / wall) | {result['efficiency']} |",
        f"| scoring queue, max / mean units waiting | {result['scoring_queue']['max']} / "
        f"{result['scoring_queue']['mean']} |",
        *original_rows(result),
        f"| speedup over it | {result['speedup_over_original']} |",
        f"| reference answers' scorings with a legacy miss | "
        f"{result['reference_legacy']['with_a_legacy_miss']} of "
        f"{result['reference_legacy']['scorings']} |",
        "",
        "| server | generation (s) | busy | longest idle gap (s) |",
        "|---|---|---|---|",
    ]
    lines += [f"| {name} | {v['generation_s']} | {v['busy']} | {v['longest_idle_gap_s']} |"
              for name, v in result["servers"].items()]
    lines += ["", "Median scoring time per level (s): " + ", ".join(
        f"{level} {secs}" for level, secs in result["scoring_s_median"].items()), ""]
    return "\n".join(lines)


def original_rows(result: dict[str, Any]) -> list[str]:
    original = result.get("original_shape")
    if not original:
        return [f"| original's shape, estimated: the sum of the unit times (s) | "
                f"{result['original_shape_estimate_s']} |"]
    return [f"| original's shape, measured in this run (s): one model, one level at a time, "
            f"scored inline | {original['wall_s']} |",
            f"| of which generation / scoring (s) | {original['generation_s']} / "
            f"{original['scoring_s']} |"]


SCALING = ((1, 3), (2, 3), (4, 3), (8, 1))
"""(models, iterations) of --scaling."""


def scaling_markdown(results: list[dict[str, Any]]) -> str:
    first = results[0]
    m = first["machine"]
    lines = [
        f"# Scaling: models at {first['settings']['tokens_per_s']:g} tokens/s against one "
        "scoring host",
        "",
        f"{machine.line(m)}; one slot per server, {first['settings']['score_workers']} "
        f"scoring processes and {first['settings']['sandbox_slots']} sandboxes at once (the "
        "default cap: 3 per core).",
        "",
        "| models | iterations | units | wall (s) | ideal (s) | efficiency | scoring queue "
        "max / mean | busy (lowest server) | speedup over the original's shape (estimated) "
        "| reference scorings with a legacy miss |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lowest = min(v["busy"] for v in r["servers"].values())
        lines.append(
            f"| {r['settings']['models']} | {r['settings']['iterations']} | {r['units']} | "
            f"{r['wall_s']} | {r['ideal_s']} | {r['efficiency']} | "
            f"{r['scoring_queue']['max']} / {r['scoring_queue']['mean']} | {lowest} | "
            f"{r['speedup_over_original']} | {r['reference_legacy']['with_a_legacy_miss']} "
            f"of {r['reference_legacy']['scorings']} |")
    lines += ["", "Ideal: the busiest server's generation plus the median L3 scoring time. A "
              "server stays busy while the scoring queue grows: generation never waits for "
              "scoring, results arrive later than the GPUs finish. Efficiency below 0.85 is "
              "where this scoring host stops keeping up. The original's shape is estimated "
              "here as the sum of the run's unit times (pipeline.md measures it).", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--tokens-per-s", type=float, default=100.0)
    parser.add_argument("--score-workers", type=int, default=0)
    parser.add_argument("--scaling", action="store_true")
    parser.add_argument("--no-original", dest="original", action="store_false",
                        help="skip measuring the original's shape (as --scaling does)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.scaling:
        results = []
        for models, iterations in SCALING:
            step = argparse.Namespace(**{**vars(args), "models": models,
                                         "iterations": iterations, "original": False})
            with tempfile.TemporaryDirectory(prefix="jq-pipeline-bench-") as tmp:
                results.append(run_bench(step, Path(tmp)))
            print(f"{models} models: wall {results[-1]['wall_s']} s, "
                  f"efficiency {results[-1]['efficiency']}", flush=True)
        (args.out / "pipeline_scaling.json").write_text(json.dumps(results, indent=2) + "\n")
        (args.out / "pipeline_scaling.md").write_text(scaling_markdown(results))
        print(scaling_markdown(results))
        return
    with tempfile.TemporaryDirectory(prefix="jq-pipeline-bench-") as tmp:
        result = run_bench(args, Path(tmp))
    (args.out / "pipeline.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "pipeline.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
