"""A two-way call channel over one connected stream socket (a socketpair end), stdlib only.

Either side may call the other while calls of the other side are in flight: the candidate's
queue calls a job stub while the test waits in `get_result`, and 100 jobs may call back at
once. Frames are a 4-byte big-endian length and a JSON object:

    {"id": 7, "op": "batch", "body": ...}       a call; the other side answers it
    {"id": 7, "ok": ...} / {"id": 7, "error": "..."}   the answer to call 7

A reader thread takes every frame; answers wake their caller, calls run each in a thread of
their own through `handler(op, body) -> answer body` (threads are kept a while and reused: a
strict test's polling makes thousands of calls, and starting a thread for each cost more
CPU than the call itself). A frame that breaks the rules (too
large, not JSON, an answer to no call) closes the channel: every waiting caller then gets
`ChannelClosed`, as when the other process is gone.
"""

import collections
import contextlib
import json
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

MAX_FRAME = 16 * 1024 * 1024
"""Bytes of one frame at most: a hostile side cannot make the other buffer without end."""

Handler = Callable[[str, Any], Any]


class ChannelClosed(ConnectionError):
    """The other side is gone, or broke the protocol."""


class CallFailed(RuntimeError):
    """The other side's handler raised; the message says what."""


class Waiter:
    """One call in flight: `done` is set when its answer came or the channel closed;
    `on_done` (if given) is called then, from the thread that set it."""

    __slots__ = ("answer", "call_id", "done", "on_done", "op")

    def __init__(self, op: str, on_done: Callable[[], None] | None = None) -> None:
        self.op = op
        self.call_id = 0
        self.done = threading.Event()
        self.answer: dict[str, Any] | None = None
        self.on_done = on_done

    def settle(self, answer: dict[str, Any] | None) -> None:
        self.answer = answer
        self.done.set()
        if self.on_done is not None:
            self.on_done()


class _Workers:
    """Runs each submitted task at once in a thread of its own, reusing threads that have
    been idle less than IDLE_S (never a queue: a held job must not delay the next call).
    Without the stdlib `queue` module: an L5 candidate's package takes that name."""

    IDLE_S = 5.0

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Condition()
        self._tasks: collections.deque[Callable[[], None]] = collections.deque()
        self._idle = 0
        self._count = 0

    def submit(self, task: Callable[[], None]) -> None:
        with self._lock:
            self._tasks.append(task)
            if self._idle > len(self._tasks) - 1:
                self._lock.notify()
                return
            self._count += 1
            number = self._count
        threading.Thread(target=self._work, daemon=True,
                         name=f"{self._name}-worker-{number}").start()

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._tasks:
                    self._idle += 1
                    self._lock.wait_for(lambda: bool(self._tasks), self.IDLE_S)
                    self._idle -= 1
                    if not self._tasks:
                        return
                task = self._tasks.popleft()
            task()


class Channel:
    def __init__(self, sock: socket.socket, handler: Handler, name: str = "channel") -> None:
        self._sock = sock
        self._handler = handler
        self._name = name
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self._waiters: dict[int, Waiter] = {}
        self._next_id = 0
        self._closed = threading.Event()
        self.close_reason = ""
        self._reader = threading.Thread(target=self._read_loop, name=f"{name}-reader",
                                        daemon=True)
        self._workers = _Workers(name)

    def start(self) -> "Channel":
        self._reader.start()
        return self

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def call(self, op: str, body: Any, timeout: float | None = None) -> Any:
        """Call the other side and wait for its answer (ChannelClosed, CallFailed,
        TimeoutError)."""
        waiter = self.begin(op, body)
        try:
            if not waiter.done.wait(timeout):
                raise TimeoutError(f"{op}: no answer in {timeout} s")
        finally:
            self.forget(waiter)
        return self.result(waiter)

    def begin(self, op: str, body: Any,
              on_done: Callable[[], None] | None = None) -> Waiter:
        """Send a call and return at once; wait on the waiter, then `result(waiter)`."""
        waiter = Waiter(op, on_done)
        with self._lock:
            if self._closed.is_set():
                raise ChannelClosed(self.close_reason or "closed")
            self._next_id += 1
            waiter.call_id = self._next_id
            self._waiters[waiter.call_id] = waiter
        try:
            self._send({"id": waiter.call_id, "op": op, "body": body})
        except BaseException:
            self.forget(waiter)
            raise
        return waiter

    def forget(self, waiter: Waiter) -> None:
        """Stop waiting for a call's answer (a late one is then dropped)."""
        with self._lock:
            self._waiters.pop(waiter.call_id, None)

    def result(self, waiter: Waiter) -> Any:
        """The answer of a settled call (ChannelClosed, CallFailed)."""
        answer = waiter.answer
        if answer is None:
            raise ChannelClosed(self.close_reason or "closed")
        if "error" in answer:
            raise CallFailed(str(answer["error"]))
        return answer.get("ok")

    def close(self, reason: str = "closed") -> None:
        with self._lock:
            if self._closed.is_set():
                return
            self.close_reason = reason
            self._closed.set()
            waiters = list(self._waiters.values())
        for waiter in waiters:
            waiter.settle(None)  # answer None: ChannelClosed
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def _send(self, frame: dict[str, Any]) -> None:
        data = json.dumps(frame, separators=(",", ":")).encode()
        if len(data) > MAX_FRAME:
            raise CallFailed(f"a frame of {len(data)} bytes is too large")
        try:
            with self._send_lock:
                self._sock.sendall(struct.pack(">I", len(data)) + data)
        except OSError as exc:
            self.close(f"send failed: {exc}")
            raise ChannelClosed(self.close_reason) from None

    def _read_exact(self, size: int) -> bytes | None:
        chunks, left = [], size
        while left:
            try:
                chunk = self._sock.recv(min(left, 1 << 20))
            except OSError:
                return None
            if not chunk:
                return None
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _read_loop(self) -> None:
        while True:
            head = self._read_exact(4)
            if head is None:
                self.close("the other side closed the channel")
                return
            (size,) = struct.unpack(">I", head)
            if size > MAX_FRAME:
                self.close(f"a frame of {size} bytes is too large")
                return
            data = self._read_exact(size)
            if data is None:
                self.close("the other side closed the channel mid-frame")
                return
            try:
                frame = json.loads(data)
                call_id = frame["id"]
                if type(call_id) is not int:
                    raise TypeError("id")
            except (ValueError, KeyError, TypeError):
                self.close("a malformed frame")
                return
            if "op" in frame:
                self._workers.submit(lambda c=call_id, f=frame: self._serve(c, f))
                continue
            with self._lock:
                waiter = self._waiters.pop(call_id, None)
            if waiter is None:
                continue  # an answer that came after its caller gave up
            waiter.settle(frame)

    def _serve(self, call_id: int, frame: dict[str, Any]) -> None:
        try:
            answer: dict[str, Any] = {"id": call_id,
                                      "ok": self._handler(str(frame["op"]), frame.get("body"))}
        except Exception as exc:  # the handler's failure is the caller's error
            answer = {"id": call_id, "error": f"{type(exc).__name__}: {exc}"}
        try:
            self._send(answer)
        except CallFailed as exc:  # the answer is too large: say so instead
            with contextlib.suppress(ChannelClosed, CallFailed):
                self._send({"id": call_id, "error": str(exc)})
        except ChannelClosed:
            pass
