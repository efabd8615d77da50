"""Legacy L3 suite (docs/challenge.md §3): priority scheduling (10 = highest, default 5, FIFO
on ties).

Data for the sandbox, not part of jqbench's own tests. The candidate is `job_queue.py` in
this directory (the test's cwd and sys.path[0]). Waits are the original's fixed sleeps.
Every call is the original's: `record` gets its argument positionally, as there.
The first test is racy by design (as in the original): a queue that starts "low" before
"high" has been added fails it.
"""

import time

from job_queue import JobQueue


def test_high_priority_runs_first():
    q = JobQueue()
    executed = []

    def record(name):
        executed.append(name)
        return name

    q.add_job(record, "low", priority=1)
    q.add_job(record, "high", priority=10)
    time.sleep(0.5)
    assert executed[:1] == ["high"]


def test_same_priority_is_fifo():
    q = JobQueue()
    executed = []

    def record(name):
        executed.append(name)
        return name

    for i in range(5):
        q.add_job(record, i, priority=5)
    time.sleep(0.5)
    assert executed == [0, 1, 2, 3, 4]


def test_mixed_priorities_in_order():
    q = JobQueue()
    executed = []

    def record(name):
        executed.append(name)
        return name

    q.add_job(record, "p3", priority=3)
    q.add_job(record, "p7", priority=7)
    q.add_job(record, "p1", priority=1)
    q.add_job(record, "p10", priority=10)
    q.add_job(record, "p5", priority=5)
    time.sleep(1)
    assert executed == ["p10", "p7", "p5", "p3", "p1"]


def test_default_priority_is_middle():
    q = JobQueue()
    executed = []

    def record(name):
        executed.append(name)
        return name

    q.add_job(record, "low", priority=1)
    q.add_job(record, "default")
    q.add_job(record, "high", priority=10)
    time.sleep(0.5)
    assert executed[:1] == ["high"]
    assert executed[-1:] == ["low"]


def test_priority_with_arguments():
    q = JobQueue()

    def compute(a, b, multiplier=1):
        return (a + b) * multiplier

    id_1 = q.add_job(compute, 1, 2, multiplier=3, priority=5)
    id_2 = q.add_job(compute, 10, 20, priority=10)
    time.sleep(0.5)
    assert q.get_result(id_1) == 9
    assert q.get_result(id_2) == 30
