"""The candidate host's audit hook (challenge/runner/audit.py): events no honest queue
triggers void, honest code never does, and a void reaches the test's side through the
proxy before the action runs."""

import subprocess
import sys
from pathlib import Path

import pytest

from challenge.runner import audit

SANDBOX = Path(audit.__file__).parent

HONEST = r'''
import asyncio, collections, concurrent.futures, dataclasses, enum, heapq, logging, queue
import threading, traceback, uuid

logging.getLogger("q").warning("logged")
try:
    raise ValueError("x")
except ValueError:
    traceback.format_exc()

@dataclasses.dataclass
class Job:
    priority: int
    name: str = dataclasses.field(compare=False, default="")

class Level(enum.Enum):
    LOW = 1

class Slotted:
    __slots__ = ("a",)

with concurrent.futures.ThreadPoolExecutor(4) as pool:
    assert list(pool.map(lambda x: x * 2, range(5))) == [0, 2, 4, 6, 8]

async def main():
    await asyncio.gather(asyncio.sleep(0), asyncio.sleep(0))
asyncio.run(main())

heap = []
heapq.heappush(heap, Job(2, "b"))
pq = queue.PriorityQueue()
pq.put((1, "a")); pq.get()
uuid.uuid4(); uuid.uuid1()
collections.namedtuple("Point", "x y")(1, 2)
lock, cond = threading.Lock(), threading.Condition()
t = threading.Thread(target=lambda: None, daemon=True); t.start(); t.join()
'''

ATTACKS = {
    "ctypes": "import ctypes; ctypes.CDLL(None)",
    "gc.get_objects": "import gc; gc.get_objects()",
    "gc.get_referrers": "import gc; gc.get_referrers(object())",
    "sys._current_frames": "import sys; sys._current_frames()",
    "sys.settrace": "import sys; sys.settrace(lambda *a: None)",
    "sys.setprofile": "import sys; sys.setprofile(lambda *a: None)",
    "/proc/self/mem": "open('/proc/self/mem', 'rb')",
    "/proc/1/environ": "open('/proc/1/environ', 'rb')",
    "/proc/self/fd": "import os; os.listdir('/proc/self/fd')",
    "a second hook": "import sys; sys.addaudithook(lambda e, a: None)",
}

HARNESS = r'''
import sys
sys.path.insert(0, sys.argv[1])
import audit
seen = []
audit.install(seen.append)
try:
    exec(sys.argv[2])
except Exception:
    pass
print("VOIDED", len(seen), seen[:1])
'''


def voided_by(code: str) -> str:
    done = subprocess.run([sys.executable, "-I", "-c", HARNESS, str(SANDBOX), code],
                          capture_output=True, text=True, timeout=60)
    line = [text for text in done.stdout.splitlines() if text.startswith("VOIDED")]
    assert line, done.stderr
    return line[0]


def test_honest_code_is_never_voided() -> None:
    assert voided_by(HONEST).startswith("VOIDED 0 ")


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_each_attack_is_voided(name: str) -> None:
    assert not voided_by(ATTACKS[name]).startswith("VOIDED 0 ")


@pytest.mark.parametrize(("event", "args", "verdict"), [
    ("ctypes.dlopen", ("libc.so.6",), "void"),
    ("open", ("/proc/12/task/13/mem", "r", 0), "void"),
    ("open", (b"/proc/thread-self/environ", "r", 0), "void"),
    ("open", ("/proc/self/status", "r", 0), None),
    ("open", ("/work/job_queue.py", "r", 0), None),
    ("sys._getframe", (None,), "count"),
    ("import", ("json",), None),
])
def test_judge(event: str, args: tuple, verdict: str | None) -> None:
    assert audit.judge(event, args) == verdict


SNOOPS = '''
import gc

class JobQueue:
    def add_job(self, fn, *args, **kwargs):
        gc.get_objects()
        return 1
    def get_result(self, job_id):
        return 42
'''


def test_a_void_reaches_the_test_side_through_the_proxy(tmp_path: Path) -> None:
    import socket

    from challenge.runner.proxy import Session, queue_class

    (tmp_path / "job_queue.py").write_text(SNOOPS)
    ours, theirs = socket.socketpair()
    host = subprocess.Popen([sys.executable, "-I", str(SANDBOX / "candidate_host.py"),
                             str(theirs.fileno()), str(tmp_path)], pass_fds=(theirs.fileno(),))
    theirs.close()
    session = Session(ours)
    try:
        q = queue_class(session)()
        assert session.audit_voids == []
        assert q.get_result(q.add_job(lambda: 1)) == 42
        assert session.audit_voids and session.audit_voids[0].startswith("gc.get_objects")
    finally:
        session.close()
        host.wait(5)
