"""The chaos run at bench size: 3 models x 5 levels x 4 iterations, once without faults and
once with a seeded driver killing and restarting workers, Redis and model servers.

    .venv/bin/python bench/chaos.py [--seed N] [--faults N] [--out DIR]

Needs Docker, the sandbox image and redis-server. Writes chaos.json and chaos.md to --out
(default bench/results/); asserts nothing.
"""

import argparse
import json
import os
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

from challenge.levels import LEVELS
from orchestrator.chaos import ChaosConfig, ChaosReport, run_chaos

ROWS = [("units", "units"), ("faults injected", "faults"), ("scored", "scored"),
        ("infra errors", "infra_errors"), ("lost", "lost"),
        ("model calls", "model_calls"), ("extra model calls", "extra_model_calls"),
        ("... allowed by the faults", "extra_bound_model_calls"),
        ("sandboxes", "sandboxes"), ("extra scorings", "extra_scorings"),
        ("... allowed by the faults", "extra_bound_scorings"),
        ("sandboxes left", "sandboxes_left"), ("wall time (s)", "wall_s")]


def table(calm: ChaosReport, chaos: ChaosReport) -> str:
    lines = ["| | without faults | with faults |", "|---|---|---|"]
    for label, name in ROWS:
        values = [getattr(r, name) for r in (calm, chaos)]
        cells = [str(len(v)) if isinstance(v, list) else str(v) for v in values]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--faults", type=int, default=12)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    image = os.environ.get("JQ_SANDBOX_IMAGE", "jqbench-sandbox:latest")
    base = ChaosConfig(seed=args.seed, models=3, levels=LEVELS, iterations=4,
                       faults=args.faults, gap_s=(5.0, 20.0), timeout_s=3600)
    with tempfile.TemporaryDirectory() as calm_dir, tempfile.TemporaryDirectory() as dir_:
        calm = run_chaos(replace(base, faults=0), Path(calm_dir), image,
                         run_id="calm")
        chaos = run_chaos(base, Path(dir_), image)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "chaos.json").write_text(json.dumps(
        {"without_faults": asdict(calm), "with_faults": asdict(chaos)}, indent=2) + "\n")
    (args.out / "chaos.md").write_text(table(calm, chaos))
    print(table(calm, chaos))
    print("\n".join(chaos.faults))


if __name__ == "__main__":
    main()
