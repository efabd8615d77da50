"""One GPU, many models: a fake router holding one model at a time, with slow loads.

    .venv/bin/python bench/shared_server.py [--load-s 20] [--models 4] [--iterations 3]
                                            [--flavour router|llama-swap] [--out DIR]

Starts its own Redis, a fake router (`--models-max 1`, each model `--load-s` to load, two
slots, answers at `--tokens-per-s`) and one server worker (`python -m worker --server gpu`),
submits a run over all models and waits until every unit is generated (no scoring worker:
scoring is not what this measures). Reports the loads the server saw and the run recorded,
and how busy the server was (at least one chat request in flight) from the end of each load
to the start of the next (the last model: to its last answer). Writes shared_server.json and
shared_server.md to --out (default bench/results/); asserts nothing.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml
from spans import coverage

from fakellm import FakeLlamaServer, LatencyModel, ModelSpec, RouterSpec, canned_answers
from fakellm.requestlog import RequestRecord
from orchestrator.localstack import LocalStack
from worker.records import AttemptStatus
from worker.store import RecordStore


def busy_fraction(spans: list[tuple[float, float]], start: float, end: float) -> float:
    """The share of [start, end] during which at least one of `spans` was under way."""
    return coverage(spans, start, end)[0] / (end - start) if end > start else 1.0


def chats(server: FakeLlamaServer) -> list[RequestRecord]:
    return [r for r in server.requests if r.path.endswith("/chat/completions")
            and r.started_at is not None and r.finished_at is not None]


def run_bench(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    models = [f"m{n}" for n in range(1, args.models + 1)]
    spec = ModelSpec(canned_answers("reference"), slots=2, load_s=args.load_s,
                     latency=LatencyModel(tokens_per_s=args.tokens_per_s))
    router = RouterSpec({name: spec for name in models}, models_max=1, flavour=args.flavour)
    with LocalStack(workdir=workdir / "stack") as stack, \
            FakeLlamaServer(canned_answers("reference"), router=router) as server:
        redis_url = stack.start_redis()
        config = workdir / "models.yaml"
        config.write_text(yaml.safe_dump({
            "servers": {"gpu": {"kind": args.flavour, "base_url": server.base_url, "slots": 2}},
            "models": {name: {"server": "gpu"} for name in models}}))
        env = {"REDIS_URL": redis_url}
        stack.start_server_worker("gpu-worker", "gpu", config, env)
        started = time.time()
        subprocess.run([sys.executable, "-m", "orchestrator", "submit", "--models", *models,
                        "--config", str(config), "--iterations", str(args.iterations),
                        "--run-id", "bench"], env={**os.environ, **env}, check=True,
                       capture_output=True, text=True)
        store = RecordStore.from_url(redis_url)
        run = store.get_run("bench")
        assert run is not None
        total = len(run.units())
        while True:
            attempts = store.get_attempts(run)
            if len(attempts) == total and all(a.status is AttemptStatus.GENERATED
                                               for a in attempts.values()):
                break
            time.sleep(0.5)
        wall_s = time.time() - started
        time.sleep(1)  # the driver records its last load when it leaves the model
        recorded = store.get_loads("bench")
        assert server.router is not None
        loads = list(server.router.loads)
        requests = chats(server)

    windows = []
    ends = [load.ready_at or load.started_at for load in loads]
    next_starts = [load.started_at for load in loads[1:]]
    next_starts.append(max(r.finished_at or 0.0 for r in requests))
    spans = [(r.started_at or 0.0, r.finished_at or 0.0) for r in requests]
    for load, end, next_start in zip(loads, ends, next_starts, strict=True):
        windows.append({"model": load.model, "from_s": round(end - started, 2),
                        "to_s": round(next_start - started, 2),
                        "busy": round(busy_fraction(spans, end, next_start), 4)})
    overlaps = 0
    for before, after in pairwise(models):
        last_end = max(r.finished_at or 0.0 for r in requests if r.extra.get("model") == before)
        first = min(r.started_at or 0.0 for r in requests if r.extra.get("model") == after)
        overlaps += last_end > first
    return {
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "settings": {"models": args.models, "iterations": args.iterations,
                     "load_s": args.load_s, "tokens_per_s": args.tokens_per_s,
                     "flavour": args.flavour, "slots": 2, "models_max": 1},
        "units": total,
        "chat_requests": len(requests),
        "server_loads": [load.model for load in loads],
        "recorded_loads": [{"model": load.model, "load_s": round(load.load_s, 2)}
                           for load in recorded],
        "model_overlaps": overlaps,
        "busy_between_loads": windows,
        "min_busy": min(w["busy"] for w in windows),
        "wall_s": round(wall_s, 1),
    }


def markdown(result: dict[str, Any]) -> str:
    s = result["settings"]
    lines = [
        f"# One GPU, many models: fake {s['flavour']}, {s['models']} models, --models-max 1, "
        f"{s['load_s']:g} s loads",
        "",
        f"{s['iterations']} iterations x 5 levels per model, {s['slots']} slots, answers at "
        f"{s['tokens_per_s']:g} tokens/s; {result['machine']['cores']} cores, Python "
        f"{result['machine']['python']}.",
        "",
        f"- units: {result['units']}, chat requests: {result['chat_requests']}",
        f"- loads the server saw: {len(result['server_loads'])} "
        f"({', '.join(result['server_loads'])})",
        "- loads the run recorded: "
        + ", ".join(f"{x['model']} {x['load_s']} s" for x in result["recorded_loads"]),
        f"- a model's request started before the previous model's last ended: "
        f"{result['model_overlaps']} times",
        f"- wall time: {result['wall_s']} s",
        "",
        "| model | from (s) | to (s) | busy |",
        "|---|---|---|---|",
    ]
    lines += [f"| {w['model']} | {w['from_s']} | {w['to_s']} | {w['busy']:.3f} |"
              for w in result["busy_between_loads"]]
    lines += ["", f"Lowest busy fraction between loads: {result['min_busy']:.3f} (the goal: "
              "at least 0.95). From the end of a load to the start of the next (the last "
              "model: to its last answer), the share of time with at least one chat request "
              "in flight.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load-s", type=float, default=20.0)
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--tokens-per-s", type=float, default=200.0)
    parser.add_argument("--flavour", choices=["router", "llama-swap"], default="router")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jq-shared-bench-") as tmp:
        result = run_bench(args, Path(tmp))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "shared_server.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "shared_server.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
