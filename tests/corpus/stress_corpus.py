"""Stress the strict suites: score the corpus several times at once and compare the outcomes.

    .venv/bin/python tests/corpus/stress_corpus.py [--rounds 3] [--concurrency 6] [--only L2]

Every entry is scored `--rounds` times through `worker.scorer.score_answer` (both profiles,
real Docker), `--concurrency` sandboxes at a time (more than the host's cores on purpose).
Prints, per entry, whether every round gave the manifest's strict outcome (the exact set of
strict tests that did not pass) and, where the manifest asserts one, the legacy points; and
the scoring wall time. Exits 1 if any round differed. Not collected by pytest (a tool, not a
test: it runs for minutes).
"""

import argparse
import statistics
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import LIMITS, Entry, load_corpus

from challenge.levels import Profile
from worker._docker import DockerSandbox
from worker.scorer import score_answer

IMAGE = "jqbench-sandbox:latest"


def _score(sandbox: DockerSandbox, entry: Entry) -> tuple[str, frozenset[str], float, float, float]:
    started = time.monotonic()
    report = score_answer(entry.answer(), entry.level, sandbox, LIMITS,
                          profiles=(Profile.LEGACY, Profile.STRICT),
                          labels={"org.jqbench.run_id": f"stress-{entry.name}"})
    not_passed = frozenset(f"{t.id}={t.outcome}" for t in report.tests
                           if t.profile is Profile.STRICT and t.outcome != "passed")
    return (entry.name, not_passed, report.scores.get("strict", 0.0),
            report.scores.get("legacy", 0.0), time.monotonic() - started)


def _expected(entry: Entry) -> frozenset[str] | None:
    if entry.strict_failing is None:
        return frozenset()  # no strict code: no strict test runs at all
    return frozenset(entry.strict_failing)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument("--only", default="", help="entries whose name starts with this")
    args = parser.parse_args()
    entries = [e for e in load_corpus() if e.name.startswith(args.only)]
    sandbox = DockerSandbox(IMAGE, worker_id="stress-corpus")
    work = [entry for _ in range(args.rounds) for entry in entries]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        results = list(pool.map(lambda e: _score(sandbox, e), work))
    elapsed = time.monotonic() - started
    by_name: dict[str, list] = defaultdict(list)
    for name, not_passed, strict, legacy, duration in results:
        by_name[name].append((not_passed, strict, legacy, duration))
    bad = 0
    for entry in entries:
        runs = by_name[entry.name]
        ids = {frozenset(x.split("=")[0] for x in run[0]) for run in runs}
        strict_ok = ids == {_expected(entry)} and {r[1] for r in runs} == {entry.strict}
        legacy_ok = entry.legacy is None or {r[2] for r in runs} == {entry.legacy}
        durations = [r[3] for r in runs]
        flag = "ok " if strict_ok and legacy_ok else "BAD"
        bad += flag == "BAD"
        print(f"{flag} {entry.name:27} strict {sorted({r[1] for r in runs})} legacy "
              f"{sorted({r[2] for r in runs})} time {min(durations):5.1f}-{max(durations):5.1f}s"
              + ("" if strict_ok else f"  outcomes: {[sorted(r[0]) for r in runs]}"))
    mean = statistics.mean(r[4] for r in results)
    print(f"{len(results)} scorings ({args.rounds} rounds x {len(entries)} entries), "
          f"{args.concurrency} at once: {elapsed:.0f} s, mean {mean:.1f} s each; "
          f"{bad} entries differed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
