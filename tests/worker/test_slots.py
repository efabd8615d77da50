"""The host-wide sandbox cap, across real processes."""

import multiprocessing
import time
from pathlib import Path

from worker.slots import host_slot


def _hold(slots_dir: str, slots: int, hold_s: float, log: "multiprocessing.Queue[tuple]") -> None:
    with host_slot(slots, Path(slots_dir)) as index:
        log.put(("in", time.monotonic(), index))
        time.sleep(hold_s)
        log.put(("out", time.monotonic(), index))


def test_at_most_n_holders_at_once_across_processes(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    log: multiprocessing.Queue[tuple] = ctx.Queue()
    procs = [ctx.Process(target=_hold, args=(str(tmp_path), 2, 0.3, log)) for _ in range(5)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    events = sorted(log.get(timeout=5) for _ in range(10))
    events.sort(key=lambda e: (e[1], e[0] == "in"))  # at equal times, leaving comes first
    inside = peak = 0
    for kind, _, _ in events:
        inside += 1 if kind == "in" else -1
        peak = max(peak, inside)
    assert peak == 2


def test_a_dead_holder_frees_its_slot(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    log: multiprocessing.Queue[tuple] = ctx.Queue()
    holder = ctx.Process(target=_hold, args=(str(tmp_path), 1, 60, log))
    holder.start()
    assert log.get(timeout=20)[0] == "in"
    holder.kill()
    holder.join(10)
    started = time.monotonic()
    with host_slot(1, tmp_path) as index:
        assert index == 0
    assert time.monotonic() - started < 5
