"""Legacy L5 suite (docs/challenge.md §3): the refactored `queue` package.

Data for the sandbox, not part of jqbench's own tests. The candidate package is
`candidate/queue/` beside this file. On this (the test's) side the name `queue` belongs to the
standard library, already imported by pytest: a package of that name shadowed it for the
whole pytest process in the original and crashed it. So the candidate's `queue` is imported
by its own process (the candidate host, with the candidate directory first on sys.path), and
this suite reaches its JobQueue through the proxy installed as `candidate_queue`.
"""

import time
from pathlib import Path

CANDIDATE_DIR = Path(__file__).resolve().parent / "candidate"
PACKAGE_FILES = ("__init__.py", "core.py", "retry.py", "priority.py")


def test_package_structure():
    package = CANDIDATE_DIR / "queue"
    missing = [name for name in PACKAGE_FILES if not (package / name).is_file()]
    assert not missing, f"missing in queue/: {missing}"


def test_import_and_run():
    from candidate_queue import JobQueue  # the candidate's `from queue import JobQueue`

    q = JobQueue()
    job_id = q.add_job(lambda: 123)
    time.sleep(0.2)
    assert q.get_result(job_id) == 123
