"""The host-wide sandbox cap, across real processes."""

import multiprocessing
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from worker._docker import DockerSandbox

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


def _hold_lease(redis_url: str, daemon: str, slots: int, hold_s: float,
                log: "multiprocessing.Queue[tuple]", lease_s: float = 30) -> None:
    from worker.slots import daemon_slots
    from worker.store import RecordStore

    hold = daemon_slots(RecordStore.from_url(redis_url), lambda: daemon, slots, lease_s)
    with hold():
        log.put(("in", time.monotonic(), daemon))
        time.sleep(hold_s)
        log.put(("out", time.monotonic(), daemon))


def _peaks(events: list[tuple]) -> dict[str, int]:
    events.sort(key=lambda e: (e[1], e[0] == "in"))  # at equal times, leaving comes first
    inside: dict[str, int] = {}
    peak: dict[str, int] = {}
    for kind, _, daemon in events:
        inside[daemon] = inside.get(daemon, 0) + (1 if kind == "in" else -1)
        peak[daemon] = max(peak.get(daemon, 0), inside[daemon])
    return peak


@pytest.mark.redis
def test_processes_with_their_own_slot_files_share_one_cap_per_docker_daemon(
        redis_url: str) -> None:
    """Three scoring containers on one host (no shared directory) hold at most the cap of
    their Docker daemon together; another daemon's cap is its own."""
    ctx = multiprocessing.get_context("spawn")
    log: multiprocessing.Queue[tuple] = ctx.Queue()
    procs = [ctx.Process(target=_hold_lease, args=(redis_url, daemon, 2, 0.3, log))
             for daemon in ["host-a"] * 6 + ["host-b"] * 2]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    assert _peaks([log.get(timeout=5) for _ in range(16)]) == {"host-a": 2, "host-b": 2}


@pytest.mark.redis
def test_a_killed_holders_lease_lapses(redis_url: str) -> None:
    from worker.slots import daemon_slots
    from worker.store import RecordStore

    store = RecordStore.from_url(redis_url)
    ctx = multiprocessing.get_context("spawn")
    log: multiprocessing.Queue[tuple] = ctx.Queue()
    holder = ctx.Process(target=_hold_lease, args=(redis_url, "host-c", 1, 60, log, 2.0))
    holder.start()
    assert log.get(timeout=20)[0] == "in"
    holder.kill()
    holder.join(10)
    started = time.monotonic()
    with daemon_slots(store, lambda: "host-c", 1, lease_s=2.0)():
        waited = time.monotonic() - started
    assert 0 < waited <= 2.0 + 5  # the dead holder's lease, not forever


@pytest.mark.parametrize(("cores", "memory_mb", "expected"), [
    (2, 24_000, 6),   # this CI machine: three per core
    (8, 2_048, 3),    # little memory: 3/4 of it at 512 MiB each
    (4, None, 12),    # memory unknown: cores only
    (1, 256, 1),      # never below one
])
def test_the_default_cap_overcommits_the_cores_within_memory(
        cores: int, memory_mb: int | None, expected: int) -> None:
    from worker.slots import default_sandbox_slots

    assert default_sandbox_slots(cores, memory_mb, 512) == expected


@pytest.mark.docker
@pytest.mark.redis
def test_a_workers_sandbox_waits_for_a_slot_of_its_docker_daemon(
        redis_url: str, docker_sandbox: "DockerSandbox", sandbox_image: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What a score worker builds (`scoring_sandbox` with the store) starts no container
    while another process holds the daemon's only slot, and starts one once it is free."""
    from worker.sandbox import LABEL_WORKER, SandboxLimits, scoring_sandbox
    from worker.settings import Settings
    from worker.slots import daemon_slots
    from worker.store import RecordStore

    monkeypatch.setenv("JQ_SANDBOX_IMAGE", sandbox_image)
    monkeypatch.setenv("JQ_SANDBOX_SLOTS", "1")
    monkeypatch.setenv("JQ_SANDBOX_SLOTS_DIR", str(tmp_path))  # a directory of its own
    store = RecordStore.from_url(redis_url)
    worker_id = f"{docker_sandbox.worker_id}-capped"
    sandbox = scoring_sandbox(Settings(), worker_id=worker_id, store=store)
    outcome: list[int] = []
    runner = threading.Thread(target=lambda: outcome.append(sandbox.run(
        {}, ["true"], limits=SandboxLimits(wall_clock_s=30)).exit_code))
    with daemon_slots(store, docker_sandbox.daemon_id, 1, lease_s=30)():
        runner.start()
        time.sleep(1.5)
        assert runner.is_alive()
        assert docker_sandbox.sandbox_containers({LABEL_WORKER: worker_id}) == []
    runner.join(60)
    assert outcome == [0]
