"""Do the original's timing-sensitive legacy tests pass as often through the proxy as with the
queue in the test's own process? (docs/trust-boundary.md, "Legacy timing")

    .venv/bin/python bench/proxy_fidelity.py [--runs 20] [--levels L1 L3] [--entries NAME ...]
                                             [--out FILE]

For every corpus entry of the levels asked, runs the legacy suite N times with the answer
imported directly (the way before the trust boundary) and N times through the proxy (the
answer in a candidate host process, consecutive calls batched), one run at a time, and
prints each test's pass count in both modes. Needs no Docker (plain subprocesses, same
uid); asserts nothing.
"""

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from challenge.answers import canned_answer  # noqa: E402
from challenge.extraction import extract_code_legacy  # noqa: E402
from challenge.levels import Level  # noqa: E402

SUITES = ROOT / "challenge" / "suites"
SANDBOX = ROOT / "challenge" / "runner"
CORPUS = ROOT / "tests" / "corpus"

DRIVER = r'''
import json, socket, subprocess, sys
mode, candidate, suite, sandbox = sys.argv[1:5]
if mode == "proxy":
    sys.path.insert(0, sandbox)
    from proxy import Session, install
    ours, theirs = socket.socketpair()
    host = subprocess.Popen([sys.executable, "-I", sandbox + "/candidate_host.py",
                             str(theirs.fileno()), candidate], pass_fds=(theirs.fileno(),))
    theirs.close()
    install(Session(ours))
else:
    sys.path.insert(0, candidate)
import pytest

class Outcomes:
    def __init__(self):
        self.passed = {}
    def pytest_runtest_logreport(self, report):
        name = report.nodeid.rsplit("::", 1)[-1]
        ok = report.passed if report.when == "call" else not report.failed
        self.passed[name] = self.passed.get(name, True) and ok

plugin = Outcomes()
pytest.main([suite, "-q", "-p", "no:cacheprovider", "-c", "/dev/null", "--noconftest"],
            plugins=[plugin])  # as the sandbox runs it: no ini file of ours
print("OUTCOMES " + json.dumps(plugin.passed), flush=True)
import os
os._exit(0)
'''


def answer_text(entry: dict) -> str:
    """A corpus entry's answer: a file in answers/, or canned:<flavour> (tests/corpus)."""
    ref = str(entry["answer"])
    if ref.startswith("canned:"):
        return canned_answer(Level(entry["level"]), ref.removeprefix("canned:"))
    return (CORPUS / "answers" / ref).read_bytes().decode("utf-8")


def run_once(mode: str, candidate: Path, suite: Path) -> dict[str, bool]:
    done = subprocess.run([sys.executable, "-c", DRIVER, mode, str(candidate), str(suite),
                           str(SANDBOX)], capture_output=True, text=True, timeout=120,
                          cwd=candidate)
    for line in done.stdout.splitlines():
        if line.startswith("OUTCOMES "):
            return dict(json.loads(line.removeprefix("OUTCOMES ")))
    raise RuntimeError(f"no outcomes ({mode}): {done.stdout[-500:]} {done.stderr[-500:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--levels", nargs="+", default=["L1", "L3"])
    parser.add_argument("--entries", nargs="+", help="only these corpus entries (names)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    entries = [e for e in yaml.safe_load((CORPUS / "manifest.yaml").read_text())
               if e["level"] in args.levels and (not args.entries or e["name"] in args.entries)]
    rows = ["| entry | test | direct | proxy |", "|---|---|---|---|"]
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        for entry in entries:
            answer = answer_text(entry)
            code = extract_code_legacy(answer)
            folder = Path(tmp) / entry["name"]
            folder.mkdir()
            (folder / "job_queue.py").write_text(code)
            suite = SUITES / f"legacy_{Level(entry['level']).value.lower()}.py"
            counts: dict[str, dict[str, int]] = {}
            for _ in range(args.runs):
                for mode in ("direct", "proxy"):
                    for test, ok in run_once(mode, folder, suite).items():
                        counts.setdefault(test, {"direct": 0, "proxy": 0})[mode] += int(ok)
            for test, by_mode in counts.items():
                marker = "" if by_mode["direct"] == by_mode["proxy"] else " **"
                rows.append(f"| {entry['name']} | {test} | {by_mode['direct']}/{args.runs} | "
                            f"{by_mode['proxy']}/{args.runs}{marker} |")
            print(f"{entry['name']}: done ({time.monotonic() - started:.0f} s)",
                  file=sys.stderr, flush=True)
    table = "\n".join(rows) + "\n"
    print(table)
    if args.out:
        args.out.write_text(table)


if __name__ == "__main__":
    socket.setdefaulttimeout(None)
    main()
