"""Strict L4 suite: no lost results, and the results write is guarded (judged at run time).

Data for the sandbox, not part of jqbench's own tests. The candidate is `candidate/job_queue.py`
beside this file, served by its own process (the candidate host). no_lost_results drives it
through the proxy, as the other suites do. The guarded tests must look inside the candidate's
process (which locks its threads hold while they write): they run there, as inside checks
(strict_inside.run_inside_check, docs/trust-boundary.md says what they trust), and import the
candidate while every lock it creates records its holders. The rule for "guarded" is in
strict_locks' docstring; the source text is never read. The unmodified code of
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

from job_queue import JobQueue
from sandbox_link import inside
from strict_support import DEADLINE_S, wait_for_results

JOBS = 100


def _work(n):
    time.sleep(0.01)
    return n * 2


def test_no_lost_results():
    q = JobQueue()
    expected = {q.add_job(_work, n): n * 2 for n in range(JOBS)}
    problem = wait_for_results(q, expected, DEADLINE_S)
    assert problem is None, problem
    results = [q.get_result(job_id) for job_id in expected]
    assert set(results) == set(range(0, 2 * JOBS, 2))


def test_results_write_is_guarded():
    problem = inside("l4_results_write_is_guarded")
    assert problem is None, problem


def test_failed_job_write_is_guarded():
    problem = inside("l4_failed_job_write_is_guarded")
    assert problem is None, problem
