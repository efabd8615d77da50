"""The audit hook of a candidate host (PEP 578), stdlib only: what stays inside the candidate's
process is tamper-evident.

Installed before the answer is imported, it cannot be removed. Events that no honest queue
triggers void the test (`VOIDING`); they are reported to the trusted side at once, from
inside the hook, before the action they announce runs, so code that goes on to tamper
with this process has already been seen. Other events of interest are counted, never held
against the answer (`sys._getframe` is raised by logging, traceback, namedtuple, Enum and
dataclasses). Measured on honest code (logging, traceback, dataclasses, Enum,
ThreadPoolExecutor, asyncio, heapq, queue.PriorityQueue, uuid, threading): none of the
voiding events occurs.
"""

import contextlib
import re
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

VOIDING_EVENTS = frozenset({
    "ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.addressof",
    "ctypes.cdata", "ctypes.cdata/buffer", "ctypes.call_function", "ctypes.string_at",
    "ctypes.wstring_at", "ctypes.create_string_buffer", "ctypes.create_unicode_buffer",
    "ctypes.get_errno", "ctypes.set_errno", "ctypes.seh_exception",
    "gc.get_objects", "gc.get_referrers", "gc.get_referents",
    "sys._current_frames", "sys.settrace", "sys.setprofile",
    "sys.addaudithook",  # a second hook could watch ours
})
"""Events that void: reading other threads' frames or arbitrary objects, raw memory,
tracing other code."""
TRACE_EVENTS = frozenset({"sys.settrace", "sys.setprofile"})
"""Tracing events: voiding, except while an inside check that profiles the candidate runs."""
PROC_SECRETS = re.compile(r"^/proc/(?:self|thread-self|\d+)(?:/task/\d+)?/(?:mem|fd|environ)\b")
"""Paths whose opening or listing voids: another process's (or our own) memory, fds,
environment."""
PATH_EVENTS = frozenset({"open", "os.listdir", "os.scandir", "os.open"})
COUNTED_EVENTS = frozenset({"sys._getframe", "object.__setattr__", "object.__delattr__",
                            "os.fork", "os.kill", "os.killpg", "subprocess.Popen",
                            "socket.connect", "socket.bind"})

Report = Callable[[str], None]


def judge(event: str, args: tuple[Any, ...]) -> str | None:
    """"void", "count" or None for one audit event."""
    if event in VOIDING_EVENTS:
        return "void"
    if event in PATH_EVENTS and args:
        path = args[0]
        if isinstance(path, bytes):
            path = path.decode(errors="replace")
        if isinstance(path, str) and PROC_SECRETS.match(path):
            return "void"
        return None
    if event in COUNTED_EVENTS:
        return "count"
    return None


class Auditor:
    """Counts events and reports each voiding one through `report` (once per event kind)."""

    def __init__(self, report: Report) -> None:
        self._report = report
        self._busy = threading.local()
        self.counts: dict[str, int] = {}
        self.voided: list[str] = []
        self._tolerated: frozenset[str] = frozenset()

    @contextlib.contextmanager
    def tolerating(self, events: frozenset[str]) -> Iterator[None]:
        """Count instead of void `events` while the block runs (an inside check's own
        profiler; whatever else runs meanwhile is inside code too)."""
        saved, self._tolerated = self._tolerated, self._tolerated | events
        try:
            yield
        finally:
            self._tolerated = saved

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        verdict = judge(event, args)
        if verdict is None:
            return
        if verdict == "count" or event in self._tolerated:
            self.counts[event] = self.counts.get(event, 0) + 1
            return
        if getattr(self._busy, "on", False):
            return  # raised by our own reporting
        detail = f"{event} {_short(args)}"
        self.voided.append(detail)
        self._busy.on = True
        try:
            self._report(detail)
        finally:
            self._busy.on = False


def _short(args: tuple[Any, ...]) -> str:
    try:
        return repr(args)[:200]
    except Exception:
        return "(args)"


def install(report: Report) -> Auditor:
    """Add the hook to this interpreter (for good) and return it."""
    auditor = Auditor(report)
    sys.addaudithook(auditor)
    return auditor
