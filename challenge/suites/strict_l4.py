"""Strict L4 suite: no lost results, and the results write is guarded (judged at run time).

Data for the sandbox, not part of jqbench's own tests. The candidate is `job_queue.py` in
this directory; it is imported inside each test (never at collection), so that the guarded
tests can import it while every lock it creates records its holders. The rule for "guarded"
is in strict_support's docstring (L4); the source text is never read. The unmodified code of
the prompt passes no_lost_results (the GIL keeps a lone dict write whole) and fails both
guarded tests: its worker writes results without holding a lock while the test reads them.
L4 is all or nothing: 15 points only when all three pass.

- no_lost_results: the original check (100 jobs sleeping 0.01 s, results n * 2), polled.
- results_write_is_guarded: the same 100 jobs, with locks and mappings recorded.
- failed_job_write_is_guarded: a job that always fails; whatever the queue stores for it
  after its last attempt is stored under a lock too (the prompt's code has a second
  unguarded write in its except branch).
"""

import time

from strict_support import (
    DEADLINE_S,
    RETRY_DEADLINE_S,
    Attempts,
    RecordedLocks,
    build_watched,
    load_candidate,
    read_result,
    unguarded_job_writes,
    wait_for_results,
    wait_until,
    written_since,
)

JOBS = 100
#: After the failing job's last attempt, how long the queue gets to store its failure.
FAILURE_STORE_WINDOW_S = 3.0


def _work(n):
    time.sleep(0.01)
    return n * 2


def _hundred_jobs(q) -> dict:
    """Add the 100 jobs; job id -> expected result."""
    return {q.add_job(_work, n): n * 2 for n in range(JOBS)}


def test_no_lost_results():
    q = load_candidate().JobQueue()
    expected = _hundred_jobs(q)
    problem = wait_for_results(q, expected, DEADLINE_S)
    assert problem is None, problem
    results = [q.get_result(job_id) for job_id in expected]
    assert set(results) == set(range(0, 2 * JOBS, 2))


def test_results_write_is_guarded():
    with RecordedLocks():
        q, logs = build_watched(load_candidate().JobQueue)
        expected = _hundred_jobs(q)
        problem = wait_for_results(q, expected, DEADLINE_S)
        assert problem is None, problem
        problems = unguarded_job_writes(logs, expected)
    assert not problems, "; ".join(problems)


def test_failed_job_write_is_guarded():
    with RecordedLocks():
        q, logs = build_watched(load_candidate().JobQueue)
        plain = q.add_job(_work, 21)
        failing_job = Attempts(failures=None)
        failing = q.add_job(failing_job)
        problem = wait_for_results(q, {plain: 42}, DEADLINE_S)
        assert problem is None, problem
        wait_until(lambda: len(failing_job.calls) >= 4, RETRY_DEADLINE_S)
        assert failing_job.calls, "the failing job never ran"
        # Wait for what the queue stores after the last attempt (it may store nothing),
        # reading the result as a user would (a queue may store results when they are read).
        wait_until(lambda: read_result(q, failing) and written_since(
            logs, failing, failing_job.calls[-1]), FAILURE_STORE_WINDOW_S)
        problems = unguarded_job_writes(logs, {plain, failing})
    assert not problems, "; ".join(problems)
