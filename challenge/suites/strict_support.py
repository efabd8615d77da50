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

L4's lock recorder is in strict_locks.py, the checks that run inside the candidate's
process (L4's guarded writes, L5's modules) in strict_inside.py.

Which prompt sentence each check covers, and which none does and why: docs/requirements.md.
"""

import _thread
import threading
import time

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
