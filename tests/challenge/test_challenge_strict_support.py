"""The strict suites' machinery (challenge/suites/strict_support.py and strict_locks.py), on
tiny in-test queues.

They are sandbox data, not package modules; they use the stdlib only, so they are loaded
here from their files. The order judge and the L4 recorder are checked on queues whose
behaviour is known by construction (FIFO, LIFO, a pool, synchronous; guarded, unguarded,
confined writes). Waits that only a failing queue reaches are shortened.
"""

import importlib.util
import threading
import time
import uuid
from collections import deque
from types import ModuleType

import pytest

from challenge._resources import resource


def _load(file: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"{file.removesuffix('.py')}_under_test", str(resource(f"suites/{file}")))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def support() -> ModuleType:
    return _load("strict_support.py")


@pytest.fixture(scope="module")
def locks() -> ModuleType:
    """L4's recorder (strict_locks.py); it imports no other support module."""
    return _load("strict_locks.py")


@pytest.fixture
def quick(support: ModuleType, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """strict_support with the failing-path waits shortened."""
    monkeypatch.setattr(support, "PATIENCE_S", 0.3)
    monkeypatch.setattr(support, "SATURATION_WINDOW_S", 0.3)
    return support


class TinyQueue:
    """A queue with `workers` threads taking jobs FIFO, LIFO or by priority (10 first)."""

    def __init__(self, workers: int = 1, order: str = "fifo") -> None:
        self.order = order
        self.jobs: deque = deque()
        self.results: dict = {}
        self.cond = threading.Condition()
        self.seq = 0
        for _ in range(workers):
            threading.Thread(target=self._work, daemon=True).start()

    def add_job(self, fn, *args, priority: int = 5, **kwargs):
        job_id = uuid.uuid4().hex
        with self.cond:
            self.seq += 1
            self.jobs.append((priority, self.seq, job_id, fn, args, kwargs))
            self.cond.notify()
        return job_id

    def get_result(self, job_id):
        with self.cond:
            return self.results.get(job_id)

    def _take(self):
        if self.order == "lifo":
            return self.jobs.pop()
        if self.order == "priority":
            best = min(self.jobs, key=lambda job: (-job[0], job[1]))
            self.jobs.remove(best)
            return best
        return self.jobs.popleft()

    def _work(self) -> None:
        while True:
            with self.cond:
                while not self.jobs:
                    self.cond.wait()
                _, _, job_id, fn, args, kwargs = self._take()
            result = fn(*args, **kwargs)
            with self.cond:
                self.results[job_id] = result


class SyncQueue:
    def __init__(self) -> None:
        self.results: dict = {}

    def add_job(self, fn, *args, priority: int = 5, **kwargs):
        job_id = uuid.uuid4().hex
        self.results[job_id] = fn(*args, **kwargs)
        return job_id

    def get_result(self, job_id):
        return self.results.get(job_id)


# --- order ----------------------------------------------------------------------------------

@pytest.mark.parametrize("workers", [1, 3, 8])
def test_fifo_queues_pass_with_any_number_of_workers(quick, workers):
    assert quick.check_fifo(TinyQueue(workers)) is None


def test_lifo_fails_fifo(quick):
    problem = quick.check_fifo(TinyQueue(1, "lifo"))
    assert problem and "still waited in the queue" in problem


def test_a_synchronous_queue_is_not_asynchronous(quick):
    assert "thread that called add_job" in quick.check_fifo(SyncQueue())
    assert "asynchronously" in quick.check_result(SyncQueue())


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_priority_queues_pass_with_blockers_on_every_worker(quick, workers):
    assert quick.check_priority_order(TinyQueue(workers, "priority")) is None


@pytest.mark.parametrize("workers", [1, 3])
def test_ignoring_priority_fails_however_many_workers(quick, workers):
    problem = quick.check_priority_order(TinyQueue(workers, "fifo"))
    assert problem and "still waited in the queue" in problem


def test_a_queue_that_holds_nothing_back_fails_priority(quick):
    problem = quick.check_priority_order(TinyQueue(quick.MAX_BLOCKERS + 2, "priority"))
    assert problem and "holds no job back" in problem


# --- arguments ------------------------------------------------------------------------------

class ArgumentDroppingQueue(TinyQueue):
    """Keeps only fn: every job is called without its arguments (and a job that raises
    gets its exception as its result)."""

    def add_job(self, fn, *args, priority: int = 5, **kwargs):
        def without_arguments():
            try:
                return fn()
            except Exception as exc:
                return exc

        return super().add_job(without_arguments, priority=priority)


@pytest.mark.parametrize("workers", [1, 3])
def test_arguments_reach_the_job(support, workers):
    assert support.check_arguments(TinyQueue(workers)) is None
    assert support.check_arguments(SyncQueue()) is None  # asynchrony is judged elsewhere


def test_a_queue_that_drops_arguments_fails(support, monkeypatch):
    monkeypatch.setattr(support, "DEADLINE_S", 0.3)
    problem = support.check_arguments(ArgumentDroppingQueue())
    assert problem and "did not get the arguments" in problem


# --- L2 helpers -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("gaps", "ok"),
    [
        ([1.0, 2.0, 4.0], True),
        ([0.8, 1.6, 3.2], True),
        ([1.9, 3.5, 6.7], True),
        ([0.79, 2.0, 4.0], False),
        ([1.0, 2.0, 6.71], False),
        ([0.0, 0.0, 0.0], False),
        ([1.0, 2.0], False),
    ],
)
def test_backoff_tolerance(support, gaps, ok):
    assert (support.backoff_problem(gaps) is None) is ok


@pytest.mark.parametrize(
    ("outcome", "allowed"),
    [
        (("value", None), True),
        (("value", RuntimeError("x")), True),
        (("raised", KeyError("x")), True),
        (("value", "failed"), True),
        (("value", "pending"), False),
        (("value", {"status": "failed"}), False),
        (("value", False), False),
    ],
)
def test_failure_reports_the_prompt_allows(support, outcome, allowed):
    assert support.is_allowed_failure_report(outcome) is allowed


class RetryingQueue:
    """One worker; a job that raises one of `retry_on` is retried up to 3 times after a tiny
    backoff, called again with its arguments or (`drop_arguments_on_retry`) without them."""

    def __init__(self, retry_on=(Exception,), drop_arguments_on_retry: bool = False) -> None:
        self.retry_on = retry_on
        self.drop = drop_arguments_on_retry
        self.jobs: deque = deque()
        self.results: dict = {}
        self.cond = threading.Condition()
        threading.Thread(target=self._work, daemon=True).start()

    def add_job(self, fn, *args, **kwargs):
        job_id = uuid.uuid4().hex
        with self.cond:
            self.jobs.append((job_id, fn, args, kwargs))
            self.cond.notify()
        return job_id

    def get_result(self, job_id):
        with self.cond:
            return self.results.get(job_id)

    def _work(self) -> None:
        while True:
            with self.cond:
                while not self.jobs:
                    self.cond.wait()
                job_id, fn, args, kwargs = self.jobs.popleft()
            result = None
            for _attempt in range(4):
                try:
                    result = fn(*args, **kwargs)
                    break
                except self.retry_on:
                    if self.drop:
                        args, kwargs = (), {}
                    time.sleep(0.01)
                except Exception:
                    break
            with self.cond:
                self.results[job_id] = result


def test_any_exception_is_retried_with_its_arguments(support):
    assert support.check_retries_any_exception(RetryingQueue()) is None


@pytest.mark.parametrize(
    ("queue", "expected"),
    [
        (lambda: RetryingQueue(retry_on=(ValueError, RuntimeError, ConnectionError)),
         "TypeError: 1 attempts, get_result None"),
        (lambda: RetryingQueue(drop_arguments_on_retry=True), "got (args, kwargs) ((), {})"),
        (lambda: RetryingQueue(retry_on=()), "PlannedJobError: 1 attempts"),
    ],
    ids=["listed-exceptions-only", "arguments-dropped-on-retry", "no-retry"],
)
def test_narrow_retries_fail_the_any_exception_check(support, monkeypatch, queue, expected):
    monkeypatch.setattr(support, "RETRY_DEADLINE_S", 0.5)
    problem = support.check_retries_any_exception(queue())
    assert problem and expected in problem, problem


# --- L4 recording ---------------------------------------------------------------------------

class Results:
    """A queue whose worker stores results guarded, unguarded, or hands them over (`mode`)."""

    mode = "guarded"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.results: dict = {}
        self.inbox: list = []
        self.done: list = []

    def add_job(self, fn, *args):
        job_id = uuid.uuid4().hex
        thread = threading.Thread(target=self._run, args=(job_id, fn, args))
        thread.start()
        thread.join()
        return job_id

    def _run(self, job_id, fn, args):
        result = fn(*args)
        if self.mode == "guarded":
            with self.lock:
                self.results[job_id] = result
        elif self.mode == "unguarded":
            self.results[job_id] = result
        else:  # hand-off: only the reader's thread touches the dict
            with self.lock:
                self.done.append((job_id, result))

    def get_result(self, job_id):
        if self.mode == "handoff":
            with self.lock:
                finished, self.done = self.done, []
            for key, value in finished:
                self.results[key] = value
            return self.results.get(job_id)
        return self.results.get(job_id)


def _recorded_run(locks: ModuleType, mode: str) -> list[str]:
    queue_class = type(f"{mode.title()}Results", (Results,), {"mode": mode})
    with locks.RecordedLocks():
        q, logs = locks.build_watched(queue_class)
        ids = [q.add_job(lambda n=n: n * 2, n) for n in range(5)]
        assert [q.get_result(i) for i in ids] == [0, 2, 4, 6, 8]
    return locks.unguarded_job_writes(logs, ids)


@pytest.mark.parametrize(("mode", "flagged"),
                         [("guarded", False), ("unguarded", True), ("handoff", False)])
def test_unguarded_writes_are_found_by_behaviour(locks, mode, flagged):
    problems = _recorded_run(locks, mode)
    assert bool(problems) is flagged, problems
    if flagged:
        assert "5 of 5 writes" in problems[0]


def test_recorded_locks_are_restored_and_behave_as_locks(locks):
    originals = (threading.Lock, threading.RLock, threading.Semaphore)
    with locks.RecordedLocks():
        lock, rlock = threading.Lock(), threading.RLock()
        condition = threading.Condition()
        with lock, rlock, rlock:
            assert locks.HOLDERS.holds(threading.get_ident())
            assert lock.locked() and not lock.acquire(blocking=False)
        with condition:
            assert not condition.wait(timeout=0.01)
            assert locks.HOLDERS.holds(threading.get_ident())
        counting = threading.Semaphore(0)
        counting.release()
        assert counting.acquire(timeout=1)
        assert not locks.HOLDERS.holds(threading.get_ident())
    assert (threading.Lock, threading.RLock, threading.Semaphore) == originals
