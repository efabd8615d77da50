"""Fixed sleeps that a busy machine cannot shorten (legacy tests), stdlib only.

The original's tests sleep a fixed time, then expect the queue to have done the work the
sleep waited for. In one process on an idle machine that work (a job of a few microseconds
handed from thread to thread) is done well within the sleep; across the proxy it takes
several wake-ups of two processes, and on a loaded machine each wake-up may wait tens of
milliseconds for a CPU, so a reference answer could miss a 0.1 s wait (about once in 30
L1-L3 scorings at 12 sandboxes on 2 cores). A settled sleep lasts its length and then, while
a thread of the candidate's processes or of the test's side of the proxy is still ready to
run (state R or D), a little longer: until nothing is (seen twice in a row), or the
candidate's processes have used as much CPU time since the sleep began as the sleep lasted
(the most one GIL-bound process had in the original), or SETTLE_MAX_S more have passed. A
queue waiting on its own timer is not ready to run, so its sleeps end on time as in the
original: a window that catches a slow or an extra attempt is not widened by it.
"""

import os
import threading
import time
from collections.abc import Callable

try:  # a module of the challenge.runner package on the host, a script's sibling in the box
    from .uids import live_tasks
except ImportError:
    from uids import live_tasks  # type: ignore[no-redef]

SETTLE_MAX_S = 2.0
"""How much longer than its length a settled sleep lasts at most."""
POLL_S = 0.005
BUSY_STATES = (b"R", b"D")
_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def _stat_fields(path: str) -> list[bytes]:
    """The fields of a /proc stat file after the command name (the state first)."""
    stat = _read(path)
    return stat[stat.rfind(b")") + 2:].split() if stat else []


def cpu_s(pids: list[int]) -> float:
    """CPU time (user + system) the processes have used so far."""
    total = 0
    for pid in pids:
        fields = _stat_fields(f"/proc/{pid}/stat")
        if len(fields) > 12:
            total += int(fields[11]) + int(fields[12])
    return total * _TICK_S


def _any_busy(task_dir: str, skip: int | None = None) -> bool:
    try:
        tasks = os.listdir(task_dir)
    except OSError:
        return False
    for tid in tasks:
        if skip is not None and tid == str(skip):
            continue
        fields = _stat_fields(f"{task_dir}/{tid}/stat")
        if fields and fields[0] in BUSY_STATES:
            return True
    return False


def busy(pids: list[int]) -> bool:
    """Whether a thread of these processes, or of this one other than the caller, is ready
    to run."""
    if _any_busy("/proc/self/task", skip=threading.get_native_id()):
        return True
    return any(_any_busy(f"/proc/{pid}/task") for pid in pids)


def settled_sleep(seconds: float, uid: int,
                  sleep: Callable[[float], None] = time.sleep) -> None:
    """Sleep `seconds`, then as long as the candidate (`uid`) or the proxy still has work
    ready to run and has not had `seconds` of CPU time: at most SETTLE_MAX_S more."""
    started = time.monotonic()
    cpu_before = cpu_s(live_tasks(uid))
    sleep(seconds)
    give_up = started + max(0.0, seconds) + SETTLE_MAX_S
    quiet = 0
    while quiet < 2 and time.monotonic() < give_up:
        pids = live_tasks(uid)
        if cpu_s(pids) - cpu_before >= seconds:
            return
        quiet = 0 if busy(pids) else quiet + 1
        if quiet < 2:
            sleep(POLL_S)
