"""Rendering of `jqbench regrade`."""

from pathlib import Path

from rich.table import Table

from orchestrator.console import err, out
from orchestrator.regrade import regrade_run
from orchestrator.submitting import load_run, write_and_summarise
from worker.records import Attempt
from worker.scorer import SCORING_PROFILES
from worker.settings import Settings
from worker.slots import scoring_sandbox
from worker.versions import scoring_version


def regrade_command(settings: Settings, run_id: str, output: Path) -> None:
    store, run = load_run(settings, run_id)

    def done(attempt: Attempt) -> None:
        err.print(f"rescored {attempt.model} iter{attempt.iteration} {attempt.level.value}: "
                  f"{attempt.scores}", markup=False, highlight=False)

    changes = regrade_run(store, run, lambda: scoring_sandbox(settings), settings,
                          SCORING_PROFILES, on_done=done)
    if changes:
        table = Table(title=f"changed scores (scoring version {scoring_version()})")
        for column in ("model", "iteration", "level", "profile", "before", "after"):
            table.add_column(column)
        for c in changes:
            table.add_row(c.model, str(c.iteration), c.level.value, c.profile,
                          "-" if c.before is None else f"{c.before:g}",
                          "-" if c.after is None else f"{c.after:g}")
        out.print(table)
    else:
        out.print("no score changed", markup=False)
    write_and_summarise(store, run, output)
