"""The strict checks that must run inside the candidate's own process (candidate_host.py
runs them on "inside" calls; data for the sandbox; stdlib only, never the stdlib `queue`).

L5 (retry and priority in their own modules). In the candidate's process, Python's profiler hook
(sys.setprofile and threading.setprofile, installed before JobQueue() is built) records the
module of every Python function called while the package's JobQueue is built and runs jobs
with priorities, one of which fails once and is retried. The module of a function is the
one whose globals it runs in, so methods, decorators' wrappers and dataclass-generated
methods count where they were defined; module-level code run at import does not count.
Rule: some function of `queue.retry` and some function of `queue.priority` must run. A
retry.py or priority.py that only holds constants or an empty mixin fails. Separately,
`queue.JobQueue` or a class it derives from must be defined in `queue.core` ("core.py  # Base
JobQueue class").
"""

import os
import sys
import threading
import time
import traceback

from strict_locks import RecordedLocks, build_watched, unguarded_job_writes, written_since
from strict_support import (
    DEADLINE_S,
    RETRY_DEADLINE_S,
    Attempts,
    read_result,
    wait_for_results,
    wait_until,
)


def load_candidate(name: str = "job_queue"):
    """Import the candidate module afresh (its locks then come from the current factories)."""
    sys.modules.pop(name, None)
    return __import__(name)


# --- inside checks: run in the candidate's own process (candidate_host.py, "inside") ------------
# What they trust (docs/trust-boundary.md): they run beside the candidate's code, so an answer
# written against them could forge them; the audit hook makes the known ways to do so void the
# test. They decide 5 strict tests: L4's two guarded-write tests (L4 is all or nothing, and its
# third test, no_lost_results, is judged across the boundary) and L5's import, core and
# own-modules tests (3 of its 7).

L4_JOBS = 100
#: After the failing job's last attempt, how long the queue gets to store its failure.
FAILURE_STORE_WINDOW_S = 3.0


def run_inside_check(check: str, module: str, candidate_dir: str) -> dict:
    """Run one inside check here, beside the candidate; {"ok": bool, "message": str}."""
    try:
        problem = INSIDE_CHECKS[check](module, candidate_dir)
    except BaseException as exc:
        tail = traceback.format_exc().strip().splitlines()[-6:]
        problem = f"{type(exc).__name__}: {exc} | " + " | ".join(tail)
    return {"ok": problem is None, "message": problem or ""}


def _l4_work(n):
    time.sleep(0.01)
    return n * 2


def _l4_results_write_is_guarded(module: str, _candidate_dir: str) -> str | None:
    with RecordedLocks():
        q, logs = build_watched(load_candidate(module).JobQueue)
        expected = {q.add_job(_l4_work, n): n * 2 for n in range(L4_JOBS)}
        problem = wait_for_results(q, expected, DEADLINE_S)
        if problem is not None:
            return problem
        problems = unguarded_job_writes(logs, expected)
    return "; ".join(problems) or None


def _l4_failed_job_write_is_guarded(module: str, _candidate_dir: str) -> str | None:
    with RecordedLocks():
        q, logs = build_watched(load_candidate(module).JobQueue)
        plain = q.add_job(_l4_work, 21)
        failing_job = Attempts(failures=None)
        failing = q.add_job(failing_job)
        problem = wait_for_results(q, {plain: 42}, DEADLINE_S)
        if problem is not None:
            return problem
        wait_until(lambda: len(failing_job.calls) >= 4, RETRY_DEADLINE_S)
        if not failing_job.calls:
            return "the failing job never ran"
        # Wait for what the queue stores after the last attempt (it may store nothing),
        # reading the result as a user would (a queue may store results when they are read).
        wait_until(lambda: read_result(q, failing) and written_since(
            logs, failing, failing_job.calls[-1]), FAILURE_STORE_WINDOW_S)
        problems = unguarded_job_writes(logs, {plain, failing})
    return "; ".join(problems) or None


def _import_package(candidate_dir: str):
    if "queue" in sys.modules:
        del sys.modules["queue"]
    import queue as package  # the candidate's, first on sys.path

    where = os.path.realpath(getattr(package, "__file__", "") or "")
    if not where.startswith(os.path.realpath(candidate_dir) + os.sep):
        raise ImportError(f"`import queue` found {where or package!r}, not the candidate")
    return package


def _l5_import(_module: str, candidate_dir: str) -> str | None:
    package = _import_package(candidate_dir)
    job_queue = getattr(package, "JobQueue", None)
    if not isinstance(job_queue, type):
        return f"queue.JobQueue is {job_queue!r}, not a class"
    job_queue()
    return None


def _l5_core(_module: str, candidate_dir: str) -> str | None:
    job_queue = getattr(_import_package(candidate_dir), "JobQueue", None)
    if not isinstance(job_queue, type):
        return f"queue.JobQueue is {job_queue!r}, not a class"
    modules = [getattr(cls, "__module__", "") for cls in job_queue.__mro__]
    if "queue.core" not in modules:
        shown = sorted(set(modules) - {"builtins"})
        return ("neither queue.JobQueue nor any class it derives from is defined in "
                f"queue/core.py (they come from {shown})")
    return None


def _l5_own_modules(_module: str, candidate_dir: str) -> str | None:
    seen: set[str] = set()

    def profile(frame, event, arg):
        if event == "call" and frame.f_code.co_name != "<module>":
            seen.add(frame.f_globals.get("__name__", ""))

    package = _import_package(candidate_dir)
    threading.setprofile(profile)
    sys.setprofile(profile)
    try:
        q = package.JobQueue()
        flaky = Attempts(failures=1, result="retried")
        ids = {q.add_job(flaky, priority=7): "retried", q.add_job(lambda: "plain", priority=3):
               "plain"}
        problem = wait_for_results(q, ids, RETRY_DEADLINE_S)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    if problem:
        return f"the package's JobQueue did not run jobs with priorities and a retry: {problem}"
    missing = [name for name in ("queue.retry", "queue.priority") if name not in seen]
    if missing:
        ran = sorted(name for name in seen if name == "queue" or name.startswith("queue."))
        return (f"no function of {' or '.join(missing)} ran while JobQueue retried a job and "
                f"scheduled by priority (candidate modules whose code ran: {ran})")
    return None


INSIDE_CHECKS = {
    "l4_results_write_is_guarded": _l4_results_write_is_guarded,
    "l4_failed_job_write_is_guarded": _l4_failed_job_write_is_guarded,
    "l5_import": _l5_import,
    "l5_core": _l5_core,
    "l5_own_modules": _l5_own_modules,
}
"""The checks that must look inside the candidate's process, by name."""
