"""Legacy L5 suite (docs/challenge.md §3): the refactored `queue` package.

Data for the sandbox, not part of jqbench's own tests. The candidate package is
`candidate/queue/` beside this file, never on this process's sys.path: a package named
`queue` would shadow the standard library's and crash pytest (it did in the original). The
import test therefore runs in a fresh interpreter and reads its result from a marker line.
"""

import subprocess
import sys
import uuid
from pathlib import Path

CANDIDATE_DIR = Path(__file__).resolve().parent / "candidate"
PACKAGE_FILES = ("__init__.py", "core.py", "retry.py", "priority.py")
CHILD_TIMEOUT_S = 30

# The child (isolated mode, no bytecode written) exits with os._exit so that stray
# non-daemon threads cannot keep it alive.
CHILD_SCRIPT = """\
import os, sys, time
sys.path.insert(0, {candidate_dir!r})
from queue import JobQueue
q = JobQueue()
job_id = q.add_job(lambda: 123)
time.sleep(0.2)
result = q.get_result(job_id)
try:
    equal = bool(result == 123)
except Exception:
    equal = False
sys.stdout.write("\\n" + {marker!r} + repr(equal) + " " + repr(result)[:200] + "\\n")
sys.stdout.flush()
os._exit(0)
"""


def test_package_structure():
    package = CANDIDATE_DIR / "queue"
    missing = [name for name in PACKAGE_FILES if not (package / name).is_file()]
    assert not missing, f"missing in queue/: {missing}"


def test_import_and_run():
    marker = f"JQBENCH-L5-RESULT-{uuid.uuid4().hex}: "
    script = CHILD_SCRIPT.format(candidate_dir=str(CANDIDATE_DIR), marker=marker)
    proc = subprocess.run(
        [sys.executable, "-I", "-B", "-c", script],
        cwd=CANDIDATE_DIR,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=CHILD_TIMEOUT_S,
    )
    reports = [line[len(marker):] for line in proc.stdout.splitlines() if line.startswith(marker)]
    assert reports, f"no result (exit {proc.returncode}); stderr tail:\n{proc.stderr[-2000:]}"
    assert reports[-1].startswith("True "), f"get_result(job_id) == 123 is false: {reports[-1]}"
