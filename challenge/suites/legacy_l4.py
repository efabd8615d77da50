"""Legacy L4 suite (docs/challenge.md §3): no result may be lost when many jobs finish together.

Data for the sandbox, not part of jqbench's own tests. The candidate is `job_queue.py` in
this directory (the test's cwd and sys.path[0]). The prompt's unfixed code passes it too.
The job and its positional argument are the original's.
"""

import time

from job_queue import JobQueue


def test_no_lost_results():
    q = JobQueue()

    def quick_job(n):
        time.sleep(0.01)
        return n * 2

    job_ids = [q.add_job(quick_job, i) for i in range(100)]
    time.sleep(5)
    results = [q.get_result(job_id) for job_id in job_ids]
    assert all(result is not None for result in results)
    assert set(results) == set(range(0, 200, 2))
