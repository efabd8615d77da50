"""Legacy pass rates per test through the real runner in Docker, before and after a change.

    .venv/bin/python bench/runner_fidelity.py --before DIR [--runs 20] [--levels L1 L2 L3]
                                              [--concurrency 4] [--out FILE]

DIR is another checkout of jqbench (e.g. `git worktree add /tmp/before 683d0c2`, the last
commit before the trust boundary). Every corpus entry of the levels asked is scored `runs`
times (legacy profile only) by this checkout's scorer and as often by DIR's, each in its own
child process with `concurrency` sandboxes, both at once, so that both see the same load.
Each checkout uses its own runner and default sandbox limits. Prints (and with --out
writes) each test's pass count per checkout, marking the tests whose counts differ; asserts
nothing. Docs: docs/trust-boundary.md, "Legacy timing".
"""

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.corpus.corpus import load_corpus  # noqa: E402

#: Runs in a child process whose sys.path starts with one checkout: its scorer, its runner.
CHILD = r'''
import json, sys
from concurrent.futures import ThreadPoolExecutor
from challenge.levels import Level, Profile
from worker._docker import DockerSandbox
from worker.sandbox import SandboxLimits
from worker.scorer import score_answer

job = json.load(sys.stdin)
sandbox = DockerSandbox("jqbench-sandbox:latest", worker_id="bench-fidelity")

def score(item):
    name, level, answer = item
    report = score_answer(answer, Level(level), sandbox, SandboxLimits(),
                          profiles=(Profile.LEGACY,))
    return name, {t.id: t.outcome for t in report.tests}

work = [(e["name"], e["level"], e["answer"]) for _ in range(job["runs"]) for e in job["entries"]]
with ThreadPoolExecutor(job["concurrency"]) as pool:
    for name, outcomes in pool.map(score, work):
        print(json.dumps({"name": name, "outcomes": outcomes}), flush=True)
'''


def start(tree: Path, job: dict) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-c", CHILD], cwd=tree, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"})
    assert child.stdin is not None
    child.stdin.write(json.dumps(job))
    child.stdin.close()
    return child


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--levels", nargs="+", default=["L1", "L2", "L3"])
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    entries = [{"name": e.name, "level": e.level.value, "answer": e.answer()}
               for e in load_corpus() if e.level.value in args.levels]
    job = {"entries": entries, "runs": args.runs, "concurrency": args.concurrency}
    started = time.monotonic()
    trees = {"before": args.before.resolve(), "after": ROOT}
    children = {label: start(tree, job) for label, tree in trees.items()}
    passed: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(trees, 0))
    for label, child in children.items():
        assert child.stdout is not None
        for count, line in enumerate(child.stdout, 1):
            row = json.loads(line)
            for test, outcome in row["outcomes"].items():
                passed[(row["name"], test)][label] += outcome == "passed"
            if count % 20 == 0:
                print(f"{label}: {count} scorings ({time.monotonic() - started:.0f} s)",
                      file=sys.stderr, flush=True)
        if child.wait() != 0:
            sys.exit(f"the {label} child failed (exit {child.returncode})")
    differ = sum(counts["before"] != counts["after"] for counts in passed.values())
    rows = [f"Legacy pass counts over {args.runs} runs per entry through the real runner in "
            f"Docker, {args.concurrency} sandboxes per checkout at once, both checkouts at once "
            f"({time.monotonic() - started:.0f} s). Before: {args.before}. "
            f"{differ} of {len(passed)} tests differ (marked **).", "",
            "| entry | test | before | after |", "|---|---|---|---|"]
    for (name, test), counts in sorted(passed.items()):
        mark = "" if counts["before"] == counts["after"] else " **"
        rows.append(f"| {name} | {test} | {counts['before']}/{args.runs} | "
                    f"{counts['after']}/{args.runs}{mark} |")
    table = "\n".join(rows) + "\n"
    print(table)
    if args.out:
        args.out.write_text(table)


if __name__ == "__main__":
    main()
