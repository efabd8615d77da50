"""Legacy L2 suite (docs/challenge.md §3): retries with exponential backoff (1 s, 2 s, 4 s).

Data for the sandbox, not part of jqbench's own tests. The candidate is `job_queue.py` in
this directory (the test's cwd and sys.path[0]). Waits are the original's fixed sleeps.
Every call is the original's: the same jobs, and every failure they raise is a
ValueError, as there.
"""

import time

from job_queue import JobQueue


def test_retry_then_success():
    q = JobQueue()
    attempts = [0]

    def flaky_job():
        attempts[0] += 1
        if attempts[0] < 3:
            raise ValueError(f"transient failure {attempts[0]}")
        return "success"

    job_id = q.add_job(flaky_job)
    time.sleep(5)
    assert q.get_result(job_id) == "success"
    assert attempts[0] == 3


def test_gives_up_after_four_attempts():
    q = JobQueue()
    attempts = [0]

    def always_fails():
        attempts[0] += 1
        raise ValueError("permanent failure")

    job_id = q.add_job(always_fails)
    time.sleep(10)
    assert attempts[0] == 4
    result = q.get_result(job_id)
    assert result is None or isinstance(result, Exception) or result == "failed"


def test_exponential_backoff_timing():
    q = JobQueue()
    calls = []

    def record_time():
        calls.append(time.time())
        if len(calls) < 4:
            raise ValueError("not yet")
        return "finally"

    q.add_job(record_time)
    time.sleep(10)
    assert len(calls) >= 4
    gaps = [calls[i + 1] - calls[i] for i in range(3)]
    assert 0.5 <= gaps[0] <= 1.5
    assert 1.5 <= gaps[1] <= 2.5
    assert 3.5 <= gaps[2] <= 4.5


def test_success_needs_no_retry():
    q = JobQueue()
    attempts = [0]

    def succeeds():
        attempts[0] += 1
        return "done"

    job_id = q.add_job(succeeds)
    time.sleep(1)
    assert q.get_result(job_id) == "done"
    assert attempts[0] == 1


def test_failure_does_not_block_other_jobs():
    q = JobQueue()

    def job_a():
        return "a_ok"

    def job_b():
        raise ValueError("b_fails")

    def job_c():
        return "c_ok"

    id_a = q.add_job(job_a)
    id_b = q.add_job(job_b)
    id_c = q.add_job(job_c)
    time.sleep(10)
    assert q.get_result(id_a) == "a_ok"
    assert q.get_result(id_c) == "c_ok"
    result_b = q.get_result(id_b)
    assert result_b is None or isinstance(result_b, Exception)
