"""Strict L5 suite: the `queue` package, its own modules, and L1-L3 behaviour kept.

Data for the sandbox, not part of jqbench's own tests. The candidate package is
`candidate/queue/` beside this file, never on this process's sys.path: a package named
`queue` shadows the standard library's (already imported by pytest here). Every test but
the structure check therefore runs one check of strict_support in a fresh interpreter
(isolated mode, no bytecode written), with the candidate directory first on sys.path, so
`import queue` is the candidate's as the prompt demands; this directory comes second, for
strict_support. The child prints one marked JSON line and leaves with os._exit, so stray
non-daemon threads cannot keep it alive.

- package_structure: queue/ holds __init__.py, core.py, retry.py and priority.py.
- imports_as_queue: `import queue` is the candidate's package and queue.JobQueue() builds.
- core_holds_the_base_class: queue.JobQueue, or a class it derives from, is defined in
  queue/core.py ("core.py  # Base JobQueue class").
- retry_and_priority_in_own_modules: functions of queue.retry and of queue.priority run
  while JobQueue retries a job and schedules by priority (rule in strict_support).
- keeps_l1_behaviour: ids, a result, five results, FIFO (held jobs), unknown id, arguments.
- keeps_l2_behaviour: fails twice then succeeds: 3 attempts, waits of 1 and 2 s; any
  exception type is retried, with the job's arguments.
- keeps_l3_behaviour: priorities, FIFO on ties and default 5 in one held run (blockers
  first), and arguments with priority=.
"""

import json
import subprocess
import sys
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
CANDIDATE_DIR = HERE / "candidate"
PACKAGE_FILES = ("__init__.py", "core.py", "retry.py", "priority.py")
CHILD_TIMEOUT_S = 45

CHILD_SCRIPT = """\
import sys
sys.path[:0] = [{candidate_dir!r}, {support_dir!r}]
import strict_support
strict_support.l5_child_main(sys.argv[1:])
"""


def _run_in_fresh_interpreter(check: str) -> None:
    marker = f"JQBENCH-L5-STRICT-{uuid.uuid4().hex}: "
    script = CHILD_SCRIPT.format(candidate_dir=str(CANDIDATE_DIR), support_dir=str(HERE))
    proc = subprocess.run(
        [sys.executable, "-I", "-B", "-c", script, check, str(CANDIDATE_DIR), marker],
        cwd=CANDIDATE_DIR,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=CHILD_TIMEOUT_S,
    )
    reports = [line[len(marker):] for line in proc.stdout.splitlines() if line.startswith(marker)]
    assert reports, f"no report (exit {proc.returncode}); stderr tail:\n{proc.stderr[-2000:]}"
    report = json.loads(reports[-1])
    assert report["ok"], report["message"]


def test_package_structure():
    package = CANDIDATE_DIR / "queue"
    missing = [name for name in PACKAGE_FILES if not (package / name).is_file()]
    assert not missing, f"missing in queue/: {missing}"


def test_imports_as_queue():
    _run_in_fresh_interpreter("import")


def test_core_holds_the_base_class():
    _run_in_fresh_interpreter("core")


def test_retry_and_priority_in_own_modules():
    _run_in_fresh_interpreter("own_modules")


def test_keeps_l1_behaviour():
    _run_in_fresh_interpreter("l1")


def test_keeps_l2_behaviour():
    _run_in_fresh_interpreter("l2")


def test_keeps_l3_behaviour():
    _run_in_fresh_interpreter("l3")
