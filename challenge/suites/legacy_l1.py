"""Legacy L1 suite (docs/challenge.md §3): basic operations, FIFO, asynchronous execution.

Data for the sandbox, not part of jqbench's own tests. The candidate is `job_queue.py` in
this directory (the test's cwd and sys.path[0]). Waits are the original's fixed sleeps.
Every call is the original's: the same jobs, arguments passed positionally where it
passes them so.
"""

import time

from job_queue import JobQueue


def test_add_job_returns_job_id():
    q = JobQueue()
    job_id = q.add_job(lambda: 42)
    assert job_id is not None
    assert isinstance(job_id, (str, int))


def test_get_result_after_completion():
    q = JobQueue()
    job_id = q.add_job(lambda: 42)
    time.sleep(0.1)
    assert q.get_result(job_id) == 42


def test_results_of_five_jobs():
    q = JobQueue()
    job_ids = [q.add_job(lambda x=i: x) for i in range(1, 6)]
    time.sleep(0.5)
    assert [q.get_result(job_id) for job_id in job_ids] == [1, 2, 3, 4, 5]


def test_fifo_order():
    q = JobQueue()
    executed = []

    def record(n):
        executed.append(n)
        return n

    for i in range(5):
        q.add_job(record, i)
    time.sleep(0.5)
    assert executed == [0, 1, 2, 3, 4]


def test_unknown_job_result():
    q = JobQueue()
    result = q.get_result("nonexistent-job-id-12345")
    assert result is None or isinstance(result, Exception)
