"""Strict L3 suite: priority scheduling (10 = highest, default 5, FIFO on ties), without races.

Data for the sandbox, not part of jqbench's own tests. The candidate is `job_queue.py` in
this directory. Order tests first fill every worker with held priority-10 blockers, add the
jobs under test while nothing can start, then release the blockers and judge the start order
of the held jobs (strict_support's docstring: the rule holds for one worker or several).
So the legacy race (a worker picking "low" before "high" was even added) cannot decide a
verdict, and a queue that ignores priority fails however fast it is.

- high_priority_runs_first: low (1) then high (10) are added: high starts first.
- same_priority_is_fifo: eight jobs of priority 5 start in the order added.
- mixed_priorities_in_order: 3, 7, 1, 10, 5 start as 10, 7, 5, 3, 1.
- default_priority_is_five: 4, no priority, 6 start as 6, default, 4.
- priority_with_arguments: positional and keyword arguments reach the function with
  priority=, and priority itself is not passed on to it.
"""

from job_queue import JobQueue
from strict_support import check_held_order, check_priority_arguments


def _check(submissions, expected):
    problem = check_held_order(JobQueue(), submissions, expected, blockers=True)
    assert problem is None, problem


def test_high_priority_runs_first():
    _check([("low", 1), ("high", 10)], ["high", "low"])


def test_same_priority_is_fifo():
    labels = [f"job-{n}" for n in range(8)]
    _check([(label, 5) for label in labels], labels)


def test_mixed_priorities_in_order():
    _check([(f"p{p}", p) for p in (3, 7, 1, 10, 5)], ["p10", "p7", "p5", "p3", "p1"])


def test_default_priority_is_five():
    _check([("p4", 4), ("default", None), ("p6", 6)], ["p6", "default", "p4"])


def test_priority_with_arguments():
    problem = check_priority_arguments(JobQueue())
    assert problem is None, problem
