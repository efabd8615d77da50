"""Strict L5 suite: the `queue` package, its own modules, and L1-L3 behaviour kept.

Data for the sandbox, not part of jqbench's own tests. The candidate package is
`candidate/queue/` beside this file, never on this process's sys.path: a package named
`queue` shadows the standard library's (already imported by pytest here).

- package_structure: queue/ holds __init__.py, core.py, retry.py and priority.py.
- imports_as_queue: `import queue` is the candidate's package and queue.JobQueue() builds.
- core_holds_the_base_class: queue.JobQueue, or a class it derives from, is defined in
  queue/core.py ("core.py  # Base JobQueue class").
- retry_and_priority_in_own_modules: functions of queue.retry and of queue.priority run
  while JobQueue retries a job and schedules by priority (rule in strict_inside).
- keeps_l1_behaviour: ids, a result, five results, FIFO (held jobs), unknown id, arguments.
- keeps_l2_behaviour: fails twice then succeeds: 3 attempts, waits of 1 and 2 s; any
  exception type is retried, with the job's arguments.
- keeps_l3_behaviour: priorities, FIFO on ties and default 5 in one held run (blockers
  first), and arguments with priority=.

The candidate's `queue` is imported by its own process (the candidate host), where the name
is free; the behaviour tests drive its JobQueue through the proxy installed as
`candidate_queue`, and the three checks that must look inside that process (import, core,
own modules) run there as inside checks (docs/trust-boundary.md says what they trust).
"""

from pathlib import Path

from sandbox_link import inside
from strict_support import (
    check_arguments,
    check_fifo,
    check_five_results,
    check_job_ids,
    check_priority_arguments,
    check_priority_order,
    check_result,
    check_retries_any_exception,
    check_retry_then_success_timed,
    check_unknown_id,
)

CANDIDATE_DIR = Path(__file__).resolve().parent / "candidate"
PACKAGE_FILES = ("__init__.py", "core.py", "retry.py", "priority.py")


def _keeps(checks) -> None:
    from candidate_queue import JobQueue  # the candidate's `queue.JobQueue`

    for check in checks:
        problem = check(JobQueue())
        assert problem is None, f"{check.__name__}: {problem}"


def test_package_structure():
    package = CANDIDATE_DIR / "queue"
    missing = [name for name in PACKAGE_FILES if not (package / name).is_file()]
    assert not missing, f"missing in queue/: {missing}"


def test_imports_as_queue():
    problem = inside("l5_import")
    assert problem is None, problem


def test_core_holds_the_base_class():
    problem = inside("l5_core")
    assert problem is None, problem


def test_retry_and_priority_in_own_modules():
    problem = inside("l5_own_modules")
    assert problem is None, problem


def test_keeps_l1_behaviour():
    _keeps([check_job_ids, check_result, check_five_results, check_fifo, check_unknown_id,
            check_arguments])


def test_keeps_l2_behaviour():
    _keeps([check_retry_then_success_timed, check_retries_any_exception])


def test_keeps_l3_behaviour():
    _keeps([check_priority_order, check_priority_arguments])
