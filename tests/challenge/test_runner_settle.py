"""Settled sleeps (challenge/runner/settle.py): a legacy test's fixed sleep ends on time when
nothing is ready to run, lasts while work is ready, and never past its cap or past the CPU
time the sleep would have given the candidate."""

import os
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from challenge.runner import settle
from challenge.runner.uids import live_tasks

UNUSED_UID = 61_999  # a candidate uid no process has here


@pytest.fixture
def spinner() -> Iterator[threading.Event]:
    """A thread of this process that stays ready to run (as the proxy's side of a job in
    flight does on a busy machine) until the event is set."""
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(1000))

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    yield stop
    stop.set()
    thread.join()


def _timed(seconds: float, uid: int = UNUSED_UID) -> float:
    started = time.monotonic()
    settle.settled_sleep(seconds, uid)
    return time.monotonic() - started


def test_a_sleep_with_nothing_ready_to_run_ends_on_time() -> None:
    assert live_tasks(UNUSED_UID) == []
    assert 0.1 <= _timed(0.1) < 0.1 + 0.5 * settle.SETTLE_MAX_S


def test_a_sleep_lasts_while_work_is_ready_then_ends(spinner: threading.Event,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The cap is far (10 s), so ending within 3 s of the work's end can only be the settle
    seeing nothing ready, with room for a loaded machine's late timers."""
    monkeypatch.setattr(settle, "SETTLE_MAX_S", 10.0)
    threading.Timer(0.6, spinner.set).start()
    elapsed = _timed(0.1)
    assert 0.6 <= elapsed < 0.6 + 3.0


def test_a_sleep_never_lasts_past_its_cap(spinner: threading.Event,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settle, "SETTLE_MAX_S", 0.3)
    assert 0.1 + 0.3 <= _timed(0.1) < 0.1 + 0.3 + 1.0


@pytest.mark.skipif(os.geteuid() != 0, reason="starts a process under a candidate uid")
def test_a_candidate_that_had_the_sleeps_cpu_time_gets_no_more(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A candidate that spins is always ready to run: its sleep ends once it has used as
    much CPU time as the sleep lasted, not at the cap."""
    monkeypatch.setattr(settle, "SETTLE_MAX_S", 10.0)
    busy = subprocess.Popen(
        ["sh", "-c", "while :; do :; done"], user=UNUSED_UID, group=UNUSED_UID)
    try:
        deadline = time.monotonic() + 5
        while not live_tasks(UNUSED_UID) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert live_tasks(UNUSED_UID) == [busy.pid]
        assert settle.busy([busy.pid])
        elapsed = _timed(0.3)
        assert 0.3 <= elapsed < 5.0
    finally:
        busy.kill()
        busy.wait()
