"""Submitting a run from a test and waiting until its units are generated (integration tests
of the generate stage, where no scoring worker listens)."""

import os
import subprocess
import sys
import time
from collections.abc import Callable

from worker.records import AttemptStatus, Run
from worker.store import RecordStore

POLL_S = 0.2


def submit(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m orchestrator submit ARGS` with `env` over ours; asserts it succeeded."""
    submitted = subprocess.run([sys.executable, "-m", "orchestrator", "submit", *args],
                               env={**os.environ, **env}, capture_output=True, text=True,
                               timeout=120)
    assert submitted.returncode == 0, submitted.stderr
    return submitted


def stored_run(redis_url: str, run_id: str) -> tuple[RecordStore, Run]:
    store = RecordStore.from_url(redis_url)
    run = store.get_run(run_id)
    assert run is not None, f"run {run_id} was not stored"
    return store, run


def generated(store: RecordStore, run: Run) -> int:
    """Units of `run` whose answer is recorded and not scored yet."""
    return sum(a.status is AttemptStatus.GENERATED for a in store.get_attempts(run).values())


def wait_until_generated(store: RecordStore, run: Run, timeout_s: float, *,
                         count: int | None = None, logs: Callable[[], str] = str) -> None:
    """Until `count` units (default: all) are generated; fails after `timeout_s` with how
    far it got and `logs()`."""
    wanted = len(run.units()) if count is None else count
    deadline = time.monotonic() + timeout_s
    while (done := generated(store, run)) < wanted:
        assert time.monotonic() < deadline, f"{done} of {wanted} generated\n{logs()}"
        time.sleep(POLL_S)
