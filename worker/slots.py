"""A host-wide cap on sandboxes running at once, shared by every process on the host.

Score workers, `jqbench score` and `regrade` may run side by side; each sandbox run takes one
of N slot files with an exclusive flock, so at most N containers run at once (N defaults to
the host's cores). Locks vanish with their process, so a killed worker never leaks a slot.
Processes in different containers share the cap only if they share `slots_dir`.
"""

import fcntl
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from worker.sandbox import ExecResult, Sandbox, SandboxLimits

POLL_S = 0.05


@contextmanager
def host_slot(slots: int, slots_dir: Path) -> Iterator[int]:
    """Hold one of `slots` slots until the block ends; waits while all are taken."""
    slots_dir.mkdir(parents=True, exist_ok=True)
    while True:
        for index in range(slots):
            handle = os.open(slots_dir / f"slot-{index}.lock", os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(handle)
                continue
            try:
                yield index
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                os.close(handle)
            return
        time.sleep(POLL_S)


class SlotLimitedSandbox:
    """A Sandbox that first takes a host slot."""

    def __init__(self, inner: Sandbox, slots: int, slots_dir: Path) -> None:
        self._inner = inner
        self._slots = max(1, slots)
        self._dir = slots_dir

    def run(self, files: Mapping[str, bytes | str], command: list[str], *,
            limits: SandboxLimits, labels: Mapping[str, str] | None = None) -> ExecResult:
        with host_slot(self._slots, self._dir):
            return self._inner.run(files, command, limits=limits, labels=labels)
