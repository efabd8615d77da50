"""Shared machinery of the strict suites (strict_l1.py ... strict_l5.py): data for the sandbox.

The bundle copies this file beside the strict suites; it uses the standard library only and
never imports the stdlib `queue` (the candidate host of an L5 test runs with the candidate's
`queue` package first on sys.path, and imports this module for its inside checks).

How the strict suites judge, in words (docs/scoring.md §4 and the README summarise it):

Waiting. Nothing sleeps a fixed time to let work finish: a test polls (every 10 ms) until the
condition holds or a generous deadline passes (10 s for plain jobs, 15 s for anything behind
the 1 + 2 + 4 s backoff, enough even for a queue that sleeps through backoffs on its only
worker). A correct queue therefore passes as soon as it is done, however busy the machine.
Fixed windows are used only to show that something does NOT happen: no 5th attempt within
9 s of the 4th (a 5th comes at once, after 4 s, or after 8 s if the doubling goes on), no
re-run within 3 s of a success (a spurious re-run comes at once or after 1 or 2 s), no start
of a blocker within 1 s (all workers are busy; see below). Each window ends far from the
times at which a plausible wrong queue acts, so the verdict does not depend on load either.

Order, with one or several worker threads. A queue may run jobs on several threads; then
"FIFO" or "by priority" can only mean the order in which jobs are *taken* from the queue, and
the start of a job's function is the only part of that the test can see. So every job whose
order is judged is *held*: it notes that it started and then waits until the test releases
it. The test releases the started jobs one at a time, always the one that should come
first, and applies one rule: when a job has started, every job that should come before it
must have started too, or start within 5 s while that job is held. With one worker this
means the start order must equal the expected order exactly (the held job occupies the
worker, so a job that overtook another is caught). With k workers up to k jobs may start
together, in any order among themselves (their starts race), but no job may overtake a job
that was still waiting in the queue: a LIFO or priority-ignoring queue fails as soon as jobs
wait, however many workers it has, and a correct one passes whatever its thread scheduling.
Priority can only show when jobs wait, so the priority tests first fill every worker with
"blockers" (priority 10, held until the jobs under test have all been added): blockers are
added one at a time until one does not start within 1 s (then all workers are busy; one
more blocker is added so that a worker that was merely slow takes a blocker, not a judged
job). A queue that starts 8 blockers at once holds nothing back and fails the priority tests.
A job that runs in the thread that called add_job (a synchronous queue) fails them all.

L4 (the unguarded results write). The candidate is imported, built and run while
threading.Lock, RLock, Semaphore and BoundedSemaphore are replaced by recording versions, so
every lock the candidate creates (also inside a Condition, a queue.Queue or a module-level
lock) records which thread holds it; a Semaphore counts as a lock only when created with
value 1. Each dict, defaultdict or OrderedDict the queue keeps in an attribute is replaced
by a copy that records every write (key, thread, whether that thread then held any recorded
lock) and every thread that reads it: while JobQueue() runs, at the moment the candidate's
own classes assign it (so a worker started in __init__, or given the dict as an argument,
already uses the copy); after that, for those of the instance, of objects of the candidate's
classes it holds, and class-level dicts, that are still plain. A mapping that receives a job id
returned by add_job is a job mapping. Rule: every write of a job id (and every clear) to a
job mapping must be made while the writing thread holds a lock - unless that mapping is
touched by one thread only (a queue.Queue hand-off that the reader drains into its own
dict: results cross threads through the thread-safe queue, and the dict is never shared).
The source text is never read. A queue that keeps its results in no dict attribute is judged
by the 100-job check alone.

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

Which prompt sentence each check covers, and which none does and why: docs/requirements.md.
"""

import _thread
import collections
import itertools
import os
import sys
import threading
import time
import traceback

POLL_S = 0.01
"""Pause between two looks at a condition."""
QUEUE_POLL_S = 0.05
"""Pause between two looks at the queue's results: each look is a round trip to the
candidate's process (docs/trust-boundary.md), and a result seen 50 ms later changes no
verdict (every time a strict test judges is taken when a job starts, on the test's side)."""
DEADLINE_S = 10.0
"""How long a plain job (no failure, no backoff) may take to be started or finished."""
RETRY_DEADLINE_S = 15.0
"""How long anything behind the 1 + 2 + 4 s backoff may take (7 s for a correct queue, even
one that sleeps through the backoff on its only worker while other jobs wait)."""
SATURATION_WINDOW_S = 1.0
"""A blocker that has not started this long after being added means every worker is busy."""
PATIENCE_S = 5.0
"""How long jobs that should start earlier get to start while a later one is held."""
HOLD_LIMIT_S = 40.0
"""A held job gives up waiting after this (only when the test itself failed or hung)."""
MAX_BLOCKERS = 8
"""A queue that starts this many held jobs at once holds nothing back."""
NO_FIFTH_ATTEMPT_WINDOW_S = 9.0
"""After the 4th attempt: long enough for a 5th after a further 8 s backoff (the doubling
continued), an immediate one, or one after 4 s; short of nothing a correct queue does."""
NO_RETRY_WINDOW_S = 3.0
"""After a job succeeded: long enough for a spurious re-run at once or after 1 or 2 s."""
FAILURE_REPORT_WINDOW_S = 2.0
"""After the 4th attempt, how long the queue gets to record the failure."""
BACKOFF_S = (1.0, 2.0, 4.0)
"""The prompt's waits before the 1st, 2nd and 3rd retry."""


def backoff_bounds(expected: float) -> tuple[float, float]:
    """The accepted range of a measured backoff gap: [0.8 x, 1.6 x + 0.3 s]."""
    return 0.8 * expected, 1.6 * expected + 0.3


# --- waiting --------------------------------------------------------------------------------

def wait_until(condition, timeout: float, poll: float = POLL_S) -> bool:
    """Poll `condition()` until it is true (True) or `timeout` seconds passed (False).

    An exception raised by the condition counts as "not yet": a queue may raise while a job
    is pending, and the test decides what a final exception means.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return True
        except Exception:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)


def read_result(q, job_id):
    """("value", v) for what get_result returned, or ("raised", exc) for what it raised."""
    try:
        return "value", q.get_result(job_id)
    except Exception as exc:
        return "raised", exc


def result_is(q, job_id, expected) -> bool:
    """True when get_result(job_id) returns `expected` (an exception counts as not yet)."""
    kind, value = read_result(q, job_id)
    return kind == "value" and _equal(value, expected)


def _equal(value, expected) -> bool:
    try:
        return bool(value == expected)
    except Exception:
        return False


def wait_for_results(q, expected: dict, timeout: float) -> str | None:
    """None once get_result(id) == value for every id -> value of `expected`, else why not."""
    if wait_until(lambda: all(result_is(q, i, v) for i, v in expected.items()), timeout,
                  QUEUE_POLL_S):
        return None
    seen = {repr(i)[:60]: _describe(read_result(q, i)) for i in expected}
    return f"results after {timeout:g} s: {seen}; expected {list(expected.values())!r}"


def _describe(outcome) -> str:
    kind, value = outcome
    if kind == "raised":
        return f"raised {type(value).__name__}: {str(value)[:80]}"
    return repr(value)[:120]


def is_allowed_failure_report(outcome) -> bool:
    """What the L2 prompt allows for a failed job: None, an exception (returned or raised), or
    "failed" (the string the original tests also accepted)."""
    kind, value = outcome
    if kind == "raised":
        return True
    return value is None or isinstance(value, Exception) or (
        isinstance(value, str) and value == "failed")


class PlannedJobError(Exception):
    """An exception type of the tests' own: only a queue that retries any Exception retries it."""


RETRIED_ERRORS: tuple[type[Exception], ...] = (
    TypeError, KeyError, ZeroDivisionError, OSError, PlannedJobError)
"""Exception types a job raises in the "any exception" retry check (the original's tests
raise only ValueError, the other strict L2 tests RuntimeError)."""


class Attempts:
    """A job function that records the monotonic time and the arguments of each call, and
    fails as told."""

    def __init__(self, failures: int | None, result=None,
                 error: type[Exception] = RuntimeError) -> None:
        self.failures = failures
        """Calls that raise before one returns `result`; None: every call raises."""
        self.result = result
        self.error = error
        """The exception type the failing calls raise."""
        self.calls: list[float] = []
        self.arguments: list[tuple] = []
        """(args, kwargs) of each call."""

    def __call__(self, *args, **kwargs):
        self.calls.append(time.monotonic())
        self.arguments.append((args, kwargs))
        if self.failures is None or len(self.calls) <= self.failures:
            raise self.error(f"planned failure of attempt {len(self.calls)}")
        return self.result

    def gaps(self) -> list[float]:
        return [later - earlier for earlier, later in zip(self.calls, self.calls[1:], strict=False)]


def backoff_problem(gaps: list[float]) -> str | None:
    """None when the first three gaps match 1, 2 and 4 s within `backoff_bounds`."""
    if len(gaps) < len(BACKOFF_S):
        return f"only {len(gaps) + 1} attempts were made"
    for number, (gap, expected) in enumerate(zip(gaps, BACKOFF_S, strict=False), start=1):
        low, high = backoff_bounds(expected)
        if not low <= gap <= high:
            shown = ", ".join(f"{g:.2f}" for g in gaps[:3])
            return (f"wait before retry {number} was {gap:.2f} s, expected {expected:g} s "
                    f"(accepted {low:.2f}-{high:.2f} s); waits: {shown} s")
    return None


# --- start order ----------------------------------------------------------------------------

class StartLog:
    """Jobs note here when they start; a held job then waits until the test releases it.

    Built in the test's thread, which is the thread that calls add_job: a job that starts in
    that very thread ran synchronously inside add_job, and is noted instead of held (holding
    it would block the test).
    """

    def __init__(self) -> None:
        self._guard = _thread.allocate_lock()
        self._caller = threading.get_ident()
        self._releases: dict[str, threading.Event] = {}
        self.started: list[str] = []
        self.in_caller: list[str] = []
        self.expired: list[str] = []

    def job(self, label: str, *, gate: threading.Event | None = None, result=None):
        """A job function that starts, is held (on `gate`, else on its own release), returns.

        Arguments given to it are ignored, so a queue may pass the job anything.
        """
        release = gate if gate is not None else self._releases.setdefault(label, threading.Event())

        def held_job(*args, **kwargs):
            with self._guard:
                self.started.append(label)
            if threading.get_ident() == self._caller:
                self.in_caller.append(label)
            elif not release.wait(HOLD_LIMIT_S):
                self.expired.append(label)
            return result

        return held_job

    def snapshot(self) -> list[str]:
        with self._guard:
            return list(self.started)

    def release(self, label: str) -> None:
        self._releases.setdefault(label, threading.Event()).set()

    def release_all(self) -> None:
        for event in list(self._releases.values()):
            event.set()


def synchronous_problem(log: StartLog) -> str | None:
    if log.in_caller:
        return (f"job {log.in_caller[0]!r} ran in the thread that called add_job: jobs do not "
                "run asynchronously")
    return None


def judge_start_order(log: StartLog, expected: list[str]) -> str | None:
    """None when the held jobs `expected` start in an order the prompt allows, else why not.

    The rule (module docstring): release started jobs one at a time, the first in `expected`
    order; when the first started-but-unreleased job is J, every job before J in `expected`
    must have started, or start within PATIENCE_S while J is held.
    """
    rank = {label: index for index, label in enumerate(expected)}
    released: list[str] = []

    def waiting() -> list[str]:
        started = set(log.snapshot())
        return sorted((x for x in started if x in rank and x not in released), key=rank.get)

    while len(released) < len(expected):
        if not wait_until(waiting, DEADLINE_S):
            missing = [x for x in expected if x not in log.snapshot()]
            return (synchronous_problem(log)
                    or f"jobs {missing} never started; start order: {_judged(log, rank)}")
        first = waiting()[0]
        before = expected[:rank[first]]
        if not wait_until(lambda before=before: set(before) <= set(log.snapshot()), PATIENCE_S):
            late = [x for x in before if x not in log.snapshot()]
            return (synchronous_problem(log)
                    or f"{first!r} started while {late} still waited in the queue "
                       f"(start order: {_judged(log, rank)}; expected {expected})")
        log.release(first)
        released.append(first)
    return synchronous_problem(log)


def _judged(log: StartLog, rank: dict) -> list[str]:
    return [x for x in log.snapshot() if x in rank]


def occupy_workers(add_blocker, log: StartLog, gate: threading.Event) -> str | None:
    """Fill every worker with a blocker held on `gate` (module docstring); None when done.

    `add_blocker(fn)` submits one blocker job (e.g. with priority 10).
    """
    for number in range(MAX_BLOCKERS):
        label = f"blocker-{number}"
        add_blocker(log.job(label, gate=gate))
        if synchronous_problem(log):
            return synchronous_problem(log)
        window = DEADLINE_S if number == 0 else SATURATION_WINDOW_S
        if not wait_until(lambda label=label: label in log.snapshot(), window):
            if number == 0:
                return f"the first job added did not start within {DEADLINE_S:g} s"
            add_blocker(log.job("blocker-extra", gate=gate))
            return None
    return (f"{MAX_BLOCKERS} held jobs ran at once: the queue holds no job back, so it "
            "cannot run higher priorities first")


def check_held_order(q, submissions, expected, *, blockers: bool) -> str | None:
    """Submit held jobs and judge their start order; None when it is allowed.

    `submissions` is a list of (label, priority or None); None means add_job without a
    priority argument. With `blockers`, every worker is first filled with priority-10
    blockers that are released once all jobs are added.
    """
    log = StartLog()
    gate = threading.Event()
    try:
        if blockers:
            problem = occupy_workers(lambda fn: q.add_job(fn, priority=10), log, gate)
            if problem:
                return problem
        for label, priority in submissions:
            if priority is None:
                q.add_job(log.job(label))
            else:
                q.add_job(log.job(label), priority=priority)
        gate.set()
        return judge_start_order(log, list(expected))
    finally:
        gate.set()
        log.release_all()


# --- L1 / L2 / L3 checks shared by the suites (L5 runs them too) ---------------------------------

def check_job_ids(q) -> str | None:
    first = q.add_job(lambda: 42)
    second = q.add_job(lambda: 43)
    if first is None or second is None:
        return f"add_job returned {first!r} and {second!r}: a job id may not be None"
    try:
        hash(first), hash(second)
    except TypeError:
        return f"add_job returned an unhashable id: {first!r}"
    if _equal(first, second):
        return f"two jobs got the same id {first!r}"
    return None


def check_result(q) -> str | None:
    where: list[int] = []

    def answer():
        where.append(threading.get_ident())
        return 42

    job_id = q.add_job(answer)
    problem = wait_for_results(q, {job_id: 42}, DEADLINE_S)
    if problem is None and where and where[0] == threading.get_ident():
        return "the job ran in the thread that called add_job: jobs do not run asynchronously"
    return problem


def check_five_results(q) -> str | None:
    ids = [q.add_job(lambda n=n: n) for n in range(1, 6)]
    return wait_for_results(q, dict(zip(ids, range(1, 6), strict=True)), DEADLINE_S)


def check_fifo(q, count: int = 6) -> str | None:
    labels = [f"job-{n}" for n in range(count)]
    return check_held_order(q, [(x, None) for x in labels], labels, blockers=False)


def check_unknown_id(q) -> str | None:
    job_id = q.add_job(lambda: "known")
    problem = wait_for_results(q, {job_id: "known"}, DEADLINE_S)
    if problem:
        return problem
    kind, value = read_result(q, "nonexistent-job-id-12345")
    if kind == "raised":
        return f"get_result of an unknown id raised {type(value).__name__}: {value}"
    if value is not None and not isinstance(value, Exception):
        return f"get_result of an unknown id returned {value!r}, expected None"
    return None


def check_arguments(q) -> str | None:
    """add_job(fn, *args, **kwargs): the job is called with exactly the arguments given."""

    def add(a, b):
        return a + b

    def scale(value, *, factor):
        return value * factor

    def echo(*args, **kwargs):
        return args, kwargs

    expected = {
        q.add_job(add, 40, 2): 42,
        q.add_job(scale, value=7, factor=6): 42,
        q.add_job(echo, "x", None, flag=True, unit="ms"): (("x", None),
                                                             {"flag": True, "unit": "ms"}),
        q.add_job(echo): ((), {}),
    }
    problem = wait_for_results(q, expected, DEADLINE_S)
    return f"jobs did not get the arguments given to add_job: {problem}" if problem else None


def check_retry_then_success(q, *, timing: bool) -> str | None:
    flaky = Attempts(failures=2, result="success")
    job_id = q.add_job(flaky)
    problem = wait_for_results(q, {job_id: "success"}, RETRY_DEADLINE_S)
    if problem:
        return f"{problem}; attempts made: {len(flaky.calls)}"
    if len(flaky.calls) != 3:
        return f"{len(flaky.calls)} attempts were made, expected 3 (2 failures, 1 success)"
    if timing:
        pairs = zip(flaky.gaps(), BACKOFF_S, strict=False)
        for number, (gap, expected) in enumerate(pairs, start=1):
            low, high = backoff_bounds(expected)
            if not low <= gap <= high:
                return f"wait before retry {number} was {gap:.2f} s, expected {expected:g} s"
    return None


def check_retry_then_success_timed(q) -> str | None:
    return check_retry_then_success(q, timing=True)


def check_retries_any_exception(q) -> str | None:
    """Jobs that fail once, each with another exception type (`RETRIED_ERRORS`), are retried,
    and every attempt gets the job's arguments again."""
    jobs = []
    for number, error in enumerate(RETRIED_ERRORS):
        job = Attempts(failures=1, result=f"{error.__name__} retried", error=error)
        call = ((error.__name__, number), {"tag": "retry"})
        jobs.append((q.add_job(job, *call[0], **call[1]), job, call))
    expected = {job_id: job.result for job_id, job, _ in jobs}
    if not wait_until(lambda: all(result_is(q, i, v) for i, v in expected.items()),
                      RETRY_DEADLINE_S, QUEUE_POLL_S):
        seen = "; ".join(f"{job.error.__name__}: {len(job.calls)} attempts, get_result "
                         f"{_describe(read_result(q, job_id))}"
                         for job_id, job, _ in jobs if not result_is(q, job_id, job.result))
        return (f"jobs that raised once were not retried to success within "
                f"{RETRY_DEADLINE_S:g} s: {seen}")
    for _, job, call in jobs:
        wrong = [arguments for arguments in job.arguments if arguments != call]
        if wrong:
            return (f"the job failing with {job.error.__name__} got (args, kwargs) "
                    f"{wrong[0]!r} on one of its {len(job.arguments)} attempts, expected "
                    f"{call!r} on every attempt")
    return None


def check_priority_order(q) -> str | None:
    """Priorities, FIFO on ties and the default of 5, in one held run (L5's compact check)."""
    submissions = [("p3a", 3), ("p7", 7), ("p3b", 3), ("p10", 10), ("default", None),
                   ("p3c", 3), ("p6", 6), ("p4", 4)]
    expected = ["p10", "p7", "p6", "default", "p4", "p3a", "p3b", "p3c"]
    return check_held_order(q, submissions, expected, blockers=True)


def check_priority_arguments(q) -> str | None:
    def compute(a, b, multiplier=1):
        return (a + b) * multiplier

    def echo(*args, **kwargs):
        return args, kwargs

    first = q.add_job(compute, 1, 2, multiplier=3, priority=5)
    second = q.add_job(compute, 10, 20, priority=10)
    third = q.add_job(echo, "x", 7, flag=True, priority=7)
    expected = {first: 9, second: 30, third: (("x", 7), {"flag": True})}
    return wait_for_results(q, expected, DEADLINE_S)


# --- L4: who holds a lock when a job id is written --------------------------------------------

_ORIGINALS = {name: getattr(threading, name)
              for name in ("Lock", "RLock", "Semaphore", "BoundedSemaphore")}
_SEQUENCE = itertools.count()


class _Holders:
    """Thread id -> number of recorded locks it holds right now."""

    def __init__(self) -> None:
        self._guard = _thread.allocate_lock()
        self._depth: dict[int, int] = {}

    def change(self, ident: int, step: int) -> None:
        with self._guard:
            depth = self._depth.get(ident, 0) + step
            if depth > 0:
                self._depth[ident] = depth
            else:
                self._depth.pop(ident, None)

    def holds(self, ident: int) -> bool:
        return self._depth.get(ident, 0) > 0


HOLDERS = _Holders()


def _note_acquired(owners: list) -> None:
    me = threading.get_ident()
    owners.append(me)
    HOLDERS.change(me, +1)


def _note_released(owners: list) -> None:
    """The releasing thread stops holding; a lock released by another thread than the one
    that took it (allowed for Lock) stops being held by its taker."""
    me = threading.get_ident()
    if me in owners:
        owners.reverse()
        owners.remove(me)
        owners.reverse()
        HOLDERS.change(me, -1)
    elif owners:
        HOLDERS.change(owners.pop(0), -1)


class RecordedLock:
    """Stands for a Lock or RLock and records which threads hold it; otherwise the same."""

    def __init__(self, target) -> None:
        self._target = target
        self._owners: list[int] = []

    def acquire(self, blocking=True, timeout=-1):
        got = self._target.acquire(blocking, timeout)
        if got:
            _note_acquired(self._owners)
        return got

    def release(self):
        _note_released(self._owners)
        self._target.release()

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()

    def locked(self):
        return self._target.locked()

    def __getattr__(self, name):  # _is_owned, _release_save, _at_fork_reinit, ...
        if name == "_target":  # not set yet (a copy being built): no recursion
            raise AttributeError(name)
        return getattr(self._target, name)

    def __repr__(self) -> str:
        return f"<recorded {self._target!r}>"


class _RecordedSemaphoreMixin:
    """A Semaphore created with value 1 (a mutex) records its holders; others do not."""

    def __init__(self, value=1):
        super().__init__(value)
        self._jq_owners = [] if value == 1 else None

    def acquire(self, blocking=True, timeout=None):
        got = super().acquire(blocking, timeout)
        if got and self._jq_owners is not None:
            _note_acquired(self._jq_owners)
        return got

    __enter__ = acquire

    def release(self, n=1):
        if self._jq_owners is not None:
            _note_released(self._jq_owners)
        super().release(n)

    def __exit__(self, *exc_info):
        self.release()


class _RecordedSemaphore(_RecordedSemaphoreMixin, _ORIGINALS["Semaphore"]):
    pass


class _RecordedBoundedSemaphore(_RecordedSemaphoreMixin, _ORIGINALS["BoundedSemaphore"]):
    pass


def _recorded_lock():
    return RecordedLock(_ORIGINALS["Lock"]())


def _recorded_rlock(*args, **kwargs):
    return RecordedLock(_ORIGINALS["RLock"](*args, **kwargs))


_REPLACEMENTS = {"Lock": _recorded_lock, "RLock": _recorded_rlock,
                 "Semaphore": _RecordedSemaphore, "BoundedSemaphore": _RecordedBoundedSemaphore}


class RecordedLocks:
    """While active, every Lock, RLock and Semaphore created anywhere records its holders."""

    def __enter__(self):
        for name, replacement in _REPLACEMENTS.items():
            setattr(threading, name, replacement)
        return self

    def __exit__(self, *exc_info):
        for name, original in _ORIGINALS.items():
            setattr(threading, name, original)


ANY_KEY = object()
"""The key noted for a write that touches every key (clear, popitem of an unknown key)."""


class WriteLog:
    """The writes to one watched mapping and the threads that touched it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.writes: list[tuple] = []
        """(sequence number, key, thread id, thread name, held a recorded lock, monotonic)"""
        self.threads: set[int] = set()

    def write(self, key) -> None:
        me = threading.get_ident()
        self.threads.add(me)
        self.writes.append((next(_SEQUENCE), key, me, threading.current_thread().name,
                            HOLDERS.holds(me), time.monotonic()))

    def read(self) -> None:
        self.threads.add(threading.get_ident())


def _log_of(mapping):
    return getattr(mapping, "_jq_log", None)


def _note_write(mapping, key) -> None:
    log = _log_of(mapping)
    if log is not None:
        log.write(key)


def _note_read(mapping) -> None:
    log = _log_of(mapping)
    if log is not None:
        log.read()


def _recording_class(base):
    """A subclass of `base` (dict, defaultdict or OrderedDict) noting writes and readers."""

    def __setitem__(self, key, value):
        _note_write(self, key)
        base.__setitem__(self, key, value)

    def __delitem__(self, key):
        _note_write(self, key)
        base.__delitem__(self, key)

    def pop(self, key, *default):
        _note_write(self, key)
        return base.pop(self, key, *default)

    def popitem(self, *args, **kwargs):
        item = base.popitem(self, *args, **kwargs)
        _note_write(self, item[0])
        return item

    def setdefault(self, key, default=None):
        if base.__contains__(self, key):
            _note_read(self)
        else:
            _note_write(self, key)
        return base.setdefault(self, key, default)

    def update(self, *args, **kwargs):
        items = dict(*args, **kwargs)
        for key in items:
            _note_write(self, key)
        base.update(self, items)

    def __ior__(self, other):
        self.update(other)
        return self

    def clear(self):
        _note_write(self, ANY_KEY)
        base.clear(self)

    namespace = {f.__name__: f for f in (__setitem__, __delitem__, pop, popitem, setdefault,
                                          update, __ior__, clear)}
    for name in ("__getitem__", "get", "__contains__", "keys", "values", "items", "__iter__",
                 "__len__", "copy", "__eq__", "__repr__"):
        namespace[name] = _reader(base, name)
    return type(f"Recorded{base.__name__}", (base,), namespace)


def _reader(base, name):
    method = getattr(base, name)

    def read(self, *args, **kwargs):
        _note_read(self)
        return method(self, *args, **kwargs)

    read.__name__ = name
    return read


_WATCHABLE = (dict, collections.defaultdict, collections.OrderedDict)
_RECORDING_CLASSES = {base: _recording_class(base) for base in _WATCHABLE}


def _recording_copy(mapping, name: str):
    base = type(mapping)
    cls = _RECORDING_CLASSES[base]
    if base is collections.defaultdict:
        copy = cls(mapping.default_factory, mapping)
    else:
        copy = cls(mapping)
    copy._jq_log = WriteLog(name)
    return copy


def _attributes(obj) -> dict:
    """The instance attributes of `obj` (its __dict__ and its slots)."""
    found = dict(getattr(obj, "__dict__", {}))
    for cls in type(obj).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:
            if slot not in ("__dict__", "__weakref__") and hasattr(obj, slot):
                found.setdefault(slot, getattr(obj, slot))
    return found


def _own_objects(q) -> list:
    """Objects of the candidate's own classes that the queue holds in attributes."""
    module = type(q).__module__
    return [value for value in _attributes(q).values()
            if type(value).__module__ == module and not isinstance(value, type)
            and not callable(value)]


class _Copies:
    """Recording copies of mappings, one per original, so a mapping shared by two attributes
    stays shared."""

    def __init__(self) -> None:
        self._by_id: dict[int, tuple] = {}
        self.logs: list[WriteLog] = []

    def of(self, value, name: str):
        """The recording copy of `value` if it is a watchable mapping, else `value` itself."""
        if type(value) not in _WATCHABLE:
            return value
        if id(value) not in self._by_id:
            copy = _recording_copy(value, name)
            self._by_id[id(value)] = (value, copy)  # the original is kept: ids stay unique
            self.logs.append(copy._jq_log)
        return self._by_id[id(value)][1]


def _candidate_classes(cls) -> list[type]:
    """The classes defined in the candidate's module (JobQueue's own and its helpers')."""
    module = sys.modules.get(cls.__module__)
    found = [value for value in vars(module).values()
             if isinstance(value, type) and value.__module__ == cls.__module__] if module else []
    return [cls, *(c for c in found if c is not cls)]


def _patch_setattr(classes: list[type], copies: _Copies) -> list[tuple]:
    """Make attribute assignments of these classes store recording copies of mappings."""
    patched = []
    for cls in classes:
        own = cls.__dict__.get("__setattr__")
        inherited = cls.__setattr__

        def recording_setattr(self, name, value, _inherited=inherited):
            _inherited(self, name, copies.of(value, f"{type(self).__name__}.{name}"))

        try:
            cls.__setattr__ = recording_setattr
        except (TypeError, AttributeError):
            continue
        patched.append((cls, own))
    return patched


def _restore_setattr(patched: list[tuple]) -> None:
    for cls, own in reversed(patched):
        if own is None:
            delattr(cls, "__setattr__")
        else:
            cls.__setattr__ = own


def build_watched(job_queue_class):
    """JobQueue() with its mappings replaced by recording copies; (queue, write logs).

    While JobQueue() runs, every attribute assignment of a mapping by one of the candidate's
    classes stores a recording copy instead, so a worker thread started in __init__ (or a
    reference it was given) already sees the copy. Mappings that got in by other means
    (class attributes, __dict__ writes) are swapped right after. Not observed: a mapping that
    the candidate never stores in an attribute.
    """
    copies = _Copies()
    patched = _patch_setattr(_candidate_classes(job_queue_class), copies)
    try:
        q = job_queue_class()
    finally:
        _restore_setattr(patched)
    _swap_remaining(q, copies)
    return q, copies.logs


def _swap_remaining(q, copies: _Copies) -> None:
    """Swap the mappings still held as plain dicts (module docstring: which ones)."""
    module = type(q).__module__
    for owner, prefix in [(q, ""), *((obj, f"{type(obj).__name__}.") for obj in _own_objects(q))]:
        found = _attributes(owner)
        if owner is q:
            for cls in reversed(type(q).__mro__):
                if cls.__module__ == module:
                    found.update({name: value for name, value in vars(cls).items()
                                  if not name.startswith("__") and name not in found
                                  and type(value) in _WATCHABLE})
        for name, value in found.items():
            if type(value) in _WATCHABLE:
                try:
                    object.__setattr__(owner, name, copies.of(value, prefix + name))
                except Exception:
                    continue


def written_since(logs: list[WriteLog], key, since: float) -> bool:
    """True when some watched mapping got a write of `key` at or after monotonic `since`."""
    return any(write[1] is not ANY_KEY and _is_job_id(write[1], {key}) and write[5] >= since
               for log in logs for write in list(log.writes))


def unguarded_job_writes(logs: list[WriteLog], job_ids) -> list[str]:
    """Why the writes of job ids break the L4 rule (module docstring); empty when they do not."""
    ids = set(job_ids)
    problems = []
    for log in logs:
        keyed = [w for w in log.writes if w[1] is ANY_KEY or _is_job_id(w[1], ids)]
        if not any(w[1] is not ANY_KEY for w in keyed):
            continue  # no job id was ever written: not a mapping of jobs
        if len(log.threads) <= 1:
            continue  # touched by one thread only: nothing is shared
        bad = [w for w in keyed if not w[4]]
        if bad:
            problems.append(
                f"{log.name}: {len(bad)} of {len(keyed)} writes of job ids were made without "
                f"holding a lock (first by thread {bad[0][3]!r}), while {len(log.threads)} "
                "threads use this mapping")
    return problems


def _is_job_id(key, ids: set) -> bool:
    try:
        return key in ids
    except Exception:
        return False


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
