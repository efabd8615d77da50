"""Following a run until no unit can move on (or it is cancelled), from its records only."""

import time
from collections.abc import Callable
from datetime import UTC, datetime

from orchestrator.progress import RunProgress, run_progress
from worker.records import Run
from worker.store import RecordStore


class FollowTimeout(Exception):
    """Following reached its deadline before the run was done; the run goes on."""

    def __init__(self, progress: RunProgress, timeout_s: float) -> None:
        super().__init__(f"run {progress.run_id} not done after {timeout_s:g} s")
        self.progress = progress
        self.timeout_s = timeout_s


def current_progress(store: RecordStore, run: Run) -> RunProgress:
    """Where the run stands now: its records, its cancel flag and the time left."""
    return run_progress(run, store.get_attempts(run), cancelled=store.is_cancelled(run.run_id),
                        now=datetime.now(UTC))


def follow_run(store: RecordStore, run: Run, on_progress: Callable[[RunProgress], None],
               poll_s: float = 1.0, timeout_s: float | None = None) -> RunProgress:
    """Poll the records until the run is done, reporting each poll.

    Raises:
        FollowTimeout: `timeout_s` passed first (a run done at the last poll still returns).
        KeyboardInterrupt: propagates; the caller detaches, the run goes on.
    """
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        progress = current_progress(store, run)
        on_progress(progress)
        if progress.done:
            return progress
        if deadline is None:
            time.sleep(poll_s)
            continue
        left = deadline - time.monotonic()
        if left <= 0:
            raise FollowTimeout(progress, timeout_s or 0.0)
        time.sleep(min(poll_s, left))
