"""One cap per host on sandboxes running at once, shared by every scoring process there.

Sandboxes mostly sleep (a legacy L2 suite waits 10 s, a strict one watches a 9 s window), so
the default cap overcommits the cores: SLOTS_PER_CORE per core, at most what the host's
memory holds at the sandbox memory limit (`default_sandbox_slots`; the numbers behind it are
in bench/results/pipeline_scaling.md). Each sandbox has a CPU weight, not a quota, so
sleeping sandboxes leave the CPU to working ones.

Two ways to share the cap, both safe against a killed holder:

- with Redis (score workers, `regrade`): a semaphore keyed by the Docker daemon's id, each
  slot a lease renewed while the sandbox runs, so every worker that starts sandboxes on that
  daemon counts against one cap, in whatever container or host it runs;
- without Redis (`jqbench score`): one of N slot files under `slots_dir` with an exclusive
  flock, shared by the processes that share that directory; a lock vanishes with its process.
"""

import fcntl
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from worker.sandbox import ExecResult, Sandbox, SandboxLimits

POLL_S = 0.05
SLOTS_PER_CORE = 3
"""Sandboxes per core by default: at 3 a 2-core host keeps up with two models at 100 tokens/s
(pipeline efficiency >= 0.85) and scoring stays deterministic (tests/corpus)."""
MEMORY_SHARE = 0.75
"""Share of the host's memory the default lets sandboxes fill at their memory limit."""

SlotHolder = Callable[[], AbstractContextManager[Any]]
"""Takes one slot for a `with` block (waiting while all are held)."""


def default_sandbox_slots(cores: int, memory_mb: int | None, sandbox_memory_mb: int) -> int:
    """SLOTS_PER_CORE per core, at most MEMORY_SHARE of `memory_mb` at `sandbox_memory_mb`
    each (memory unknown: cores only); at least 1."""
    slots = SLOTS_PER_CORE * max(1, cores)
    if memory_mb:
        slots = min(slots, int(memory_mb * MEMORY_SHARE) // max(1, sandbox_memory_mb))
    return max(1, slots)


def host_memory_mb() -> int | None:
    """This host's memory (MemTotal), or None where /proc/meminfo is not there."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


@contextmanager
def host_slot(slots: int, slots_dir: Path) -> Iterator[int]:
    """Hold one of `slots` slot files for the block; waits while all are taken."""
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


def file_slots(slots: int, slots_dir: Path) -> SlotHolder:
    """The cap shared through flocked files in `slots_dir`."""
    return lambda: host_slot(max(1, slots), slots_dir)


def daemon_slots(store: Any, daemon_id: Callable[[], str], slots: int,
                 lease_s: float) -> SlotHolder:
    """The cap shared through Redis: `slots` leases per Docker daemon (`daemon_id()` names
    it, asked when a slot is first wanted), each lasting `lease_s` unless renewed."""
    from worker.inflight import server_slot

    return lambda: server_slot(store, f"sandboxes@{daemon_id()}", max(1, slots), lease_s)


class SlotLimitedSandbox:
    """A Sandbox that first takes a slot of its host's cap."""

    def __init__(self, inner: Sandbox, hold_slot: SlotHolder) -> None:
        self._inner = inner
        self._hold_slot = hold_slot

    def run(self, files: Mapping[str, bytes | str], command: list[str], *,
            limits: SandboxLimits, labels: Mapping[str, str] | None = None) -> ExecResult:
        with self._hold_slot():
            return self._inner.run(files, command, limits=limits, labels=labels)
