"""Following a run until no unit can move on, with live progress on stderr."""

import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from orchestrator.console import err
from orchestrator.progress import RunProgress, run_progress
from worker.records import Run
from worker.store import RecordStore


def wait_for_run(store: RecordStore, run: Run, poll_s: float = 1.0) -> RunProgress:
    """Poll the records until the run is done; KeyboardInterrupt propagates (detach)."""
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"), TimeElapsedColumn(),
        console=err, transient=False,
    ) as bar:
        tasks = {m: bar.add_task(m, total=1, detail="") for m in run.spec.models}
        while True:
            progress = run_progress(run, store.get_attempts(run))
            for model in progress.models:
                detail = ", ".join(f"{k} {v}" for k, v in sorted(model.counts.items()))
                bar.update(tasks[model.model], total=model.total, completed=model.finished,
                           detail=detail)
            if progress.done:
                return progress
            time.sleep(poll_s)
