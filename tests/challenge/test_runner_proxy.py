"""The proxy across the trust boundary (challenge/runner/proxy.py, candidate_host.py): a test's
calls reach a queue in another process, its jobs run back on the test's side, and only plain
data comes back. Candidate hosts run here as plain subprocesses (same uid); the uids are the
launcher's job."""

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from challenge.answers import canned_answer
from challenge.extraction import extract_code_legacy
from challenge.levels import Level
from challenge.runner import proxy
from challenge.runner.channel import ChannelClosed
from challenge.runner.proxy import Session, queue_class
from challenge.runner.wire import Handle

HOST = Path(proxy.__file__).with_name("candidate_host.py")


class Box:
    """A candidate host on one answer, and the test's session with it."""

    def __init__(self, folder: Path, code: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "job_queue.py").write_text(code)
        ours, theirs = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, "-I", str(HOST), str(theirs.fileno()), str(folder)],
            pass_fds=(theirs.fileno(),), stderr=subprocess.PIPE)
        theirs.close()
        self.session = Session(ours)
        self.JobQueue = queue_class(self.session)

    def close(self) -> None:
        self.session.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        if self.process.stderr:
            self.process.stderr.close()


@pytest.fixture
def boxes(tmp_path: Path) -> Iterator[list[Box]]:
    opened: list[Box] = []
    yield opened
    for box in opened:
        box.close()


Start = Callable[[str], Box]


@pytest.fixture
def start(tmp_path: Path, boxes: list[Box]) -> Start:
    def starter(code: str) -> Box:
        box = Box(tmp_path / f"c{len(boxes)}", code)
        boxes.append(box)
        return box
    return starter


def reference(level: Level) -> str:
    return extract_code_legacy(canned_answer(level, "reference"))


def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_the_original_l1_calls_through_the_proxy(start: Start) -> None:
    q = start(reference(Level.L1)).JobQueue()
    executed: list[int] = []

    def record(n: int) -> int:
        executed.append(n)
        return n

    for i in range(5):
        q.add_job(record, i)
    job_id = q.add_job(lambda: 42)
    assert job_id is not None and isinstance(job_id, (str, int))  # resolves the batch
    assert wait_until(lambda: q.get_result(job_id) == 42)
    assert executed == [0, 1, 2, 3, 4]  # observed here, where the jobs ran
    ids = [q.add_job(lambda x=i: x) for i in range(1, 6)]
    assert wait_until(lambda: [q.get_result(i) for i in ids] == [1, 2, 3, 4, 5])
    assert q.get_result("nonexistent-job-id-12345") is None


def test_jobs_run_on_the_test_side_concurrently(start: Start) -> None:
    q = start(reference(Level.L4)).JobQueue()

    def quick_job(n: int) -> int:
        time.sleep(0.01)
        return n * 2

    ids = [q.add_job(quick_job, i) for i in range(100)]
    assert wait_until(lambda: {q.get_result(i) for i in ids} == set(range(0, 200, 2)), 10)


def test_a_job_exception_reaches_the_candidate_as_its_builtin_class(start: Start) -> None:
    q = start(reference(Level.L2)).JobQueue()
    calls: list[float] = []

    def flaky_job() -> str:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise ValueError("not yet")
        return "success"

    job_id = q.add_job(flaky_job)
    assert wait_until(lambda: q.get_result(job_id) == "success", 10)
    assert len(calls) == 3 and calls[1] - calls[0] >= 0.5  # backed off, by our clock


ALWAYS_EQUAL = '''
import uuid

class Liar:
    def __eq__(self, other):
        return True
    __hash__ = object.__hash__

class JobQueue:
    def add_job(self, fn, *args, **kwargs):
        return uuid.uuid4()
    def get_result(self, job_id):
        return Liar()
'''


def test_a_value_that_lies_about_equality_comes_back_as_a_handle(start: Start) -> None:
    q = start(ALWAYS_EQUAL).JobQueue()
    job_id = q.add_job(lambda: 42)
    result = q.get_result(job_id)
    assert isinstance(result, Handle) and result != 42
    assert isinstance(proxy.resolved(job_id), Handle)  # a UUID id stays on its side


ECHO = '''
import inspect

class JobQueue:
    def __init__(self, name="q"):
        self.name = name
        self.ids = {}
    def add_job(self, fn, *args, **kwargs):
        job_id = len(self.ids) + 1
        self.ids[job_id] = (fn.__name__, fn.__qualname__, str(inspect.signature(fn)),
                            args, kwargs, self.name)
        return job_id
    def get_result(self, job_id):
        return self.ids.get(job_id)
'''


def test_stubs_look_like_the_functions_and_values_keep_their_types(start: Start) -> None:
    q = start(ECHO).JobQueue(name="mine")

    def compute(a: int, b: object, multiplier: float = 1) -> object:
        return (a, b, multiplier)

    job_id = q.add_job(compute, 1, (2, b"x"), multiplier=3.0, flag=True)
    name, qualname, signature, args, kwargs, queue_name = q.get_result(job_id)
    assert (name, signature) == ("compute", "(a, b, multiplier=1)")  # names, kinds, defaults
    assert qualname.endswith("compute") and queue_name == "mine"
    assert args == (1, (2, b"x")) and type(args[1]) is tuple
    assert kwargs == {"multiplier": 3.0, "flag": True} and type(kwargs["flag"]) is bool


def test_an_answer_that_does_not_import_fails_the_queue(start: Start) -> None:
    box = start("class JobQueue(:\n")
    with pytest.raises(ImportError, match="SyntaxError"):
        box.JobQueue()


EXITS = '''
import os

class JobQueue:
    def add_job(self, fn, *args, **kwargs):
        os._exit(0)
    def get_result(self, job_id):
        return 42
'''


def test_a_candidate_that_dies_mid_call_cannot_answer_for_it(start: Start) -> None:
    q = start(EXITS).JobQueue()
    q.add_job(lambda: 1)
    with pytest.raises(ChannelClosed):
        q.get_result(1)


FORKS = '''
import os

class JobQueue:
    def add_job(self, fn, *args, **kwargs):
        pid = os.fork()
        if pid == 0:
            try:
                fn()
                os._exit(0)
            except RuntimeError:
                os._exit(7)
        return os.waitpid(pid, 0)[1] >> 8
    def get_result(self, job_id):
        return job_id
'''


def test_a_forked_child_cannot_use_its_parents_channel(start: Start) -> None:
    q = start(FORKS).JobQueue()
    ran: list[int] = []
    assert q.get_result(q.add_job(lambda: ran.append(1))) == 7 and ran == []


SYNCHRONOUS_QUEUE = """
class JobQueue:
    def __init__(self):
        self.results = {}
    def add_job(self, fn, *args, **kwargs):
        job_id = len(self.results) + 1
        self.results[job_id] = fn(*args, **kwargs)
        return job_id
    def get_result(self, job_id):
        return self.results.get(job_id)
"""


def test_a_job_run_inside_add_job_runs_in_the_thread_that_called_it(start: Start) -> None:
    """A synchronous queue cannot pass for an asynchronous one: its job runs in the caller's
    thread on the test's side too, as in one process."""


    box = start(SYNCHRONOUS_QUEUE)
    q = box.JobQueue()
    where: list[int] = []
    job_id = q.add_job(lambda: where.append(threading.get_ident()) or 7)
    assert q.get_result(job_id) == 7
    assert where == [threading.get_ident()]


def test_a_job_of_an_asynchronous_queue_runs_in_another_thread(start: Start) -> None:


    box = start(reference(Level.L1))
    q = box.JobQueue()
    where: list[int] = []
    job_id = q.add_job(lambda: where.append(threading.get_ident()) or 7)
    assert wait_until(lambda: q.get_result(job_id) == 7)
    assert where and where[0] != threading.get_ident()


THREAD_PER_JOB_QUEUE = '''
import threading
import uuid


class JobQueue:
    def __init__(self):
        self.results = {}

    def add_job(self, fn, *args, **kwargs):
        job_id = str(uuid.uuid4())
        threading.Thread(target=self._run, args=(job_id, fn, args), daemon=True).start()
        return job_id

    def get_result(self, job_id):
        return self.results.get(job_id)

    def _run(self, job_id, fn, args):
        self.results[job_id] = fn(*args)
'''


def test_jobs_called_while_their_batch_is_answered_begin_in_the_order_called(
        start: Start) -> None:
    """A thread per job calls each job at once, during the batch of add_job calls: those
    jobs wait for the batch's answer and must then begin in the order the queue called
    them, as in one process (released together, they began in any order: legacy's FIFO
    test failed a queue the original passes)."""
    box = start(THREAD_PER_JOB_QUEUE)
    q = box.JobQueue()
    for _ in range(5):
        executed: list[int] = []

        def record(n: int, executed: list[int] = executed) -> int:
            executed.append(n)
            return n

        for i in range(5):
            q.add_job(record, i)
        box.session.flush()  # what legacy's time.sleep does before the test looks
        time.sleep(0.3)
        assert executed == [0, 1, 2, 3, 4]
