"""Strict L1 suite: the legacy L1 behaviours, judged without fixed sleeps.

Data for the sandbox, not part of jqbench's own tests. The candidate is `job_queue.py` in
this directory (the test's cwd and sys.path[0]); `strict_support.py` beside it holds the
waiting and order machinery, and its docstring states how order is judged when a queue runs
jobs on several threads. Every test builds its own JobQueue() and polls with a deadline.

What is stricter than legacy, and why (the L1 prompt):
- a job id may be any hashable value other than None, but two jobs must get different ids
  ("Returns a unique job_id"); legacy demanded str or int;
- the job must not run in the thread that called add_job ("asynchronously");
- FIFO is judged on held jobs (strict_support), so a LIFO queue fails however fast it is;
- an unknown id is asked for after a job finished, so an empty-dict special case cannot pass;
- positional and keyword arguments must reach the job ("add_job(fn, *args, **kwargs)"): the
  legacy suite passes an argument in one test only, and a queue that drops them loses only
  that test there.
"""

from job_queue import JobQueue
from strict_support import (
    check_arguments,
    check_fifo,
    check_five_results,
    check_job_ids,
    check_result,
    check_unknown_id,
)


def test_add_job_returns_job_id():
    problem = check_job_ids(JobQueue())
    assert problem is None, problem


def test_get_result_after_completion():
    problem = check_result(JobQueue())
    assert problem is None, problem


def test_results_of_five_jobs():
    problem = check_five_results(JobQueue())
    assert problem is None, problem


def test_fifo_order():
    problem = check_fifo(JobQueue())
    assert problem is None, problem


def test_unknown_job_result():
    problem = check_unknown_id(JobQueue())
    assert problem is None, problem


def test_arguments_reach_the_job():
    problem = check_arguments(JobQueue())
    assert problem is None, problem
