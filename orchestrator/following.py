"""Following a run until no unit can move on, from its records only."""

import time
from collections.abc import Callable

from orchestrator.progress import RunProgress, run_progress
from worker.records import Run
from worker.store import RecordStore


def follow_run(store: RecordStore, run: Run, on_progress: Callable[[RunProgress], None],
               poll_s: float = 1.0) -> RunProgress:
    """Poll the records until the run is done, reporting each poll; KeyboardInterrupt
    propagates (the caller detaches, the run goes on)."""
    while True:
        progress = run_progress(run, store.get_attempts(run))
        on_progress(progress)
        if progress.done:
            return progress
        time.sleep(poll_s)
