"""The server's processing slots: at most N requests run at once, the rest wait in order.

llama-server never rejects a request for lack of a slot: it defers it, unbounded, and
serves deferred requests first come, first served. A plain semaphore does not promise that
order, so this is a small ticket queue instead.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager


class SlotPool:
    """`slots` slots handed out in arrival order; `close()` wakes and refuses all waiters."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("slots must be >= 1")
        self._slots = slots
        self._busy = 0
        self._queue: deque[int] = deque()
        self._next_ticket = 0
        self._peak = 0
        self._closed = False
        self._cond = threading.Condition()

    @property
    def processing(self) -> int:
        """Requests holding a slot now."""
        with self._cond:
            return self._busy

    @property
    def deferred(self) -> int:
        """Requests waiting for a slot now."""
        with self._cond:
            return len(self._queue)

    @property
    def arrived(self) -> int:
        """Requests that have asked for a slot so far (waiting, holding one, or done)."""
        with self._cond:
            return self._next_ticket

    @property
    def peak(self) -> int:
        """The most requests at the server at once so far (holding a slot or waiting)."""
        with self._cond:
            return self._peak

    def acquire(self) -> bool:
        """Wait for a slot, in turn; return False (holding nothing) if the pool was closed."""
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            self._queue.append(ticket)
            self._peak = max(self._peak, self._busy + len(self._queue))
            while not self._closed and (self._queue[0] != ticket or self._busy >= self._slots):
                self._cond.wait()
            self._queue.remove(ticket)
            self._cond.notify_all()
            if self._closed:
                return False
            self._busy += 1
            return True

    def release(self) -> None:
        """Give a slot back."""
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()

    def close(self) -> None:
        """Refuse all current and future waiters (used when the server stops)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @contextmanager
    def slot(self) -> Iterator[bool]:
        """Hold a slot for the `with` block; yields False if the pool was closed instead."""
        acquired = self.acquire()
        try:
            yield acquired
        finally:
            if acquired:
                self.release()
