"""Score the adversarial corpus (tests/adversarial/) with today's scorer: how many points does
code written to fool it get that it did not earn?

    .venv/bin/python bench/adversarial.py [--jobs N] [--only NAME ...] [--out FILE]

Every entry of tests/adversarial/manifest.yaml is scored through `worker.scorer.score_answer`
in a real Docker sandbox (both profiles from one sandbox run, as the workers and tests/corpus
do), a few sandboxes at a time; once, or `runs` times for an attack that races with
something. Printed (and written to --out): a markdown table with, per entry, what its code
earns honestly (the manifest's `honest`: its base scored alone), what it scored now (the
highest of its runs), the difference (`unearned`: above 0 is a point the scorer gave to an
attack) and in how many runs it got any. A base's own row compares it with its manifest value,
so a change in the suites that moves honest points shows up there. Asserts nothing; the exit
status is 0. Needs Docker and the sandbox image (scripts/build-sandbox-image.sh). On a
2-core machine run it under the heavy-work lock: `flock /tmp/jq-heavy.lock .venv/bin/python
bench/adversarial.py`.
"""

import argparse
import datetime
import hashlib
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from challenge.levels import Level, Profile
from worker._docker import DockerSandbox
from worker.scorer import ScoreReport, runner_files, score_answer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "adversarial"))
from adversarial_corpus import LIMITS, PROFILES, Entry, load_adversarial

IMAGE = os.environ.get("JQ_SANDBOX_IMAGE", "jqbench-sandbox:latest")
#: Sandboxes at once. Most entries wait (strict deadlines of 10 s) rather than compute, but
#: the racy ones (the report-stealing helper, the file drops) are load-sensitive: 4 on 2 cores.
DEFAULT_JOBS = 4
#: Levels by how long a run takes, longest first.
SLOW_FIRST = (Level.L3, Level.L5, Level.L4, Level.L2, Level.L1)


def runner_fingerprint() -> str:
    """Which runner was measured: a short hash of the sources shipped into the sandbox
    (worker.scorer.runner_files), and the commit with the files that differ from it."""
    files = runner_files()
    digest = hashlib.sha256()
    for name, text in sorted(files.items()):
        digest.update(name.encode() + b"\0" + text.encode())
    text = f"runner sources sha256 {digest.hexdigest()[:12]} ({len(files)} files)"
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, check=True,
                              capture_output=True, text=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--", "challenge/runner"],
                                 cwd=root, check=True, capture_output=True,
                                 text=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return text
    changed = [line[3:].removeprefix("challenge/runner/") for line in changed if line.strip()]
    return (f"{text}, commit {head}"
            + (f" with uncommitted changes to {', '.join(changed)}" if changed else ""))


def score(sandbox: DockerSandbox, entry: Entry) -> tuple[ScoreReport, float]:
    started = time.monotonic()
    report = score_answer(entry.answer(), entry.level, sandbox, LIMITS, profiles=PROFILES,
                          labels={"org.jqbench.run_id": f"bench-adversarial-{entry.name}"})
    return report, time.monotonic() - started


def _num(value: float) -> str:
    return f"{value:g}"


def _signed(value: float) -> str:
    value = round(value, 1)
    return f"+{value:g}" if value > 0 else f"{value:g}"


class Row:
    """An entry's runs: points per profile of each, and seconds of each."""

    def __init__(self, entry: Entry, runs: list[tuple[ScoreReport, float]]) -> None:
        self.entry = entry
        self.reports = [report for report, _ in runs]
        self.seconds = [seconds for _, seconds in runs]

    def scored(self, profile: Profile) -> float:
        """The highest score of the runs (the worst case for the scorer)."""
        return float(max(report.scores.get(profile.value, 0.0) for report in self.reports))

    def unearned(self, profile: Profile, report: ScoreReport | None = None) -> float:
        points = self.scored(profile) if report is None else report.scores.get(profile.value, 0.0)
        return round(points - self.entry.honest[profile.value], 1)

    def forged_runs(self) -> int:
        return sum(any(self.unearned(p, r) > 0 for p in PROFILES) for r in self.reports)

    def without_report(self) -> int:
        return sum(bool(r.tests) and all(t.message.startswith("no report from the runner")
                                         for t in r.tests) for r in self.reports)


def table(rows: list[Row]) -> str:
    lines = [
        "| entry | class | level | honest legacy | honest strict | scored legacy "
        "| scored strict | unearned legacy | unearned strict | runs with unearned points | s |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        cells = [
            row.entry.name, row.entry.attack_class, row.entry.level.value,
            *(_num(row.entry.honest[p.value]) for p in PROFILES),
            *(_num(row.scored(p)) for p in PROFILES),
            *(_signed(row.unearned(p)) for p in PROFILES),
            f"{row.forged_runs()}/{len(row.reports)}",
            "/".join(f"{s:.0f}" for s in row.seconds),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(rows: list[Row], wall: float) -> str:
    attacks = [row for row in rows if not row.entry.is_base]
    bases = [row for row in rows if row.entry.is_base]
    forged = [row.entry.name for row in attacks if row.forged_runs()]
    totals = {p.value: round(sum(max(0.0, row.unearned(p)) for row in attacks), 1)
              for p in PROFILES}
    drift = [f"{row.entry.name} ("
             + ", ".join(f"{p.value} {_signed(row.unearned(p))}" for p in PROFILES) + ")"
             for row in bases if any(row.unearned(p) != 0 for p in PROFILES)]
    partly = [f"{row.entry.name} {row.forged_runs()}/{len(row.reports)}" for row in attacks
              if 0 < row.forged_runs() < len(row.reports)]
    no_report = [f"{row.entry.name} {row.without_report()}/{len(row.reports)}" for row in rows
                 if row.without_report()]
    lines = [
        f"- attacks that scored above their honest points: {len(forged)} of {len(attacks)}"
        + (f" ({', '.join(forged)})" if forged else ""),
        "- unearned points in total: " + ", ".join(f"{k} {_num(v)}" for k, v in totals.items()),
        "- bases off their manifest value: " + (", ".join(drift) if drift else "none"),
    ]
    if partly:
        lines.append("- racy, forged in some runs only: " + ", ".join(partly))
    if no_report:
        lines.append("- runs without a runner report (every test an error): "
                     + ", ".join(no_report))
    runs = sum(len(row.reports) for row in rows)
    lines.append(f"- wall time: {wall:.0f} s for {runs} sandbox runs of {len(rows)} entries")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS,
                        help=f"sandboxes at once (default {DEFAULT_JOBS})")
    parser.add_argument("--only", nargs="*", default=None, metavar="NAME",
                        help="score only these entries")
    parser.add_argument("--out", type=Path, default=None, help="also write the markdown here")
    args = parser.parse_args()

    entries = [e for e in load_adversarial() if args.only is None or e.name in args.only]
    unknown = set(args.only or ()) - {e.name for e in entries}
    if unknown:
        parser.error(f"unknown entries: {', '.join(sorted(unknown))}")
    measured = runner_fingerprint()  # before scoring: the sources the runs ship
    sandbox = DockerSandbox(IMAGE, worker_id=f"bench-adversarial-{os.getpid()}")
    # The slow ones first, so they do not form a tail; an entry's runs apart from each other.
    jobs = [(i, n) for n in range(max(e.runs for e in entries)) for i in sorted(
        range(len(entries)), key=lambda i: SLOW_FIRST.index(entries[i].level))
        if entries[i].runs > n]
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            results = list(pool.map(lambda job: score(sandbox, entries[job[0]]), jobs))
    finally:
        sandbox.cleanup_leftovers([sandbox.worker_id])
    wall = time.monotonic() - started
    runs: dict[int, list[tuple[ScoreReport, float]]] = {i: [] for i in range(len(entries))}
    for (i, _), result in zip(jobs, results, strict=True):
        runs[i].append(result)
    rows = [Row(entries[i], runs[i]) for i in range(len(entries))]

    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n\n".join([
        f"Adversarial corpus, scored {stamp}; image {IMAGE}; {measured}; "
        f"{args.jobs} sandboxes at once on "
        f"{os.cpu_count()} cores; limits: production defaults "
        f"(max_parallel {LIMITS.runner.max_parallel}).",
        table(rows),
        summary(rows, wall),
    ]) + "\n"
    sys.stdout.write(text)
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
