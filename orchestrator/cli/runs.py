"""Commands about runs: submit, status, results, resume."""

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli import _render as render
from orchestrator.cli._app import (
    DEFAULT_OUTPUT,
    JsonOpt,
    OutputOpt,
    RunIdArg,
    WaitOpt,
    app,
    parse_levels,
    settings,
)
from orchestrator.progress import run_progress
from orchestrator.results import write_results
from orchestrator.submission import SubmitRequest, load_run, open_store
from worker.records import Run
from worker.settings import Settings
from worker.store import RecordStore


@app.command()
def submit(
    models: Annotated[
        list[str], typer.Option("--models", "-m", help="Model names from models.yaml.")
    ],
    levels: Annotated[
        list[str] | None, typer.Option("--levels", "-l", help="Levels (default: all five).")
    ] = None,
    iterations: Annotated[int, typer.Option(help="Iterations per model.")] = 1,
    config: Annotated[
        Path | None, typer.Option(help="models.yaml (default: $JQ_MODELS_FILE or ./models.yaml).")
    ] = None,
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Run id (default: UTC time + random).")
    ] = None,
    output: OutputOpt = DEFAULT_OUTPUT,
    wait: WaitOpt = False,
) -> None:
    """Check the models' servers, store the run, and enqueue its work."""
    current = settings()
    request = SubmitRequest(models=models, levels=parse_levels(levels), iterations=iterations,
                            config_path=config or current.models_file, run_id=run_id)
    raise typer.Exit(submit_and_follow(current, request, output, wait))


def submit_and_follow(current: Settings, request: SubmitRequest, output: Path,
                      wait: bool) -> int:
    """`submit [--wait]`, also used by `demo`; returns the exit code."""
    from orchestrator.submission import submit as submit_run

    submitted = submit_run(current, request, notify=render.say)
    run = submitted.run
    render.say(f"run {run.run_id}: {len(run.spec.models)} model(s) x {run.spec.iterations} "
               f"iteration(s) x {len(run.spec.levels)} level(s); {submitted.units_sent} first "
               "units enqueued (each L1 -> L2 -> L3 chain goes on by itself)")
    render.show(run.run_id)
    return follow(open_store(current), run, output) if wait else 0


@app.command()
def status(run_id: RunIdArg, as_json: JsonOpt = False) -> None:
    """Show how far a run is, per model and level."""
    current = settings()
    store = open_store(current)
    run = load_run(store, run_id, current.redis_url)
    progress = run_progress(run, store.get_attempts(run))
    if as_json:
        render.show_json(progress.as_json())
    else:
        render.status_table(progress)


@app.command()
def results(run_id: RunIdArg, output: OutputOpt = DEFAULT_OUTPUT) -> None:
    """Write the run's result files now (also mid-run) and print the summary."""
    current = settings()
    store = open_store(current)
    write_and_summarise(store, load_run(store, run_id, current.redis_url), output)


@app.command()
def resume(
    run_id: RunIdArg,
    output: OutputOpt = DEFAULT_OUTPUT,
    wait: WaitOpt = False,
    force: Annotated[
        bool, typer.Option("--force", help="Resume even while units are still pending.")
    ] = False,
) -> None:
    """Restart what failed on our side (infra_error) and the chains waiting behind it."""
    from orchestrator.submission import resume as resume_run

    current = settings()
    store = open_store(current)
    resumed = resume_run(current, run_id, force=force, store=store)
    if resumed.progress.complete:
        render.say(f"run {run_id} is complete; nothing to resume")
        raise typer.Exit(0)
    render.say(f"run {run_id}: resumed {resumed.units_resumed} unit(s) that failed on our side")
    raise typer.Exit(follow(store, resumed.run, output) if wait else 0)


def follow(store: RecordStore, run: Run, output: Path) -> int:
    """Live progress until the run is done, then the results; Ctrl-C detaches."""
    from orchestrator.following import follow_run

    try:
        with render.progress_bars(run) as update:
            progress = follow_run(store, run, update)
    except KeyboardInterrupt:
        render.say(f"detached; the run goes on. Follow it with: jqbench status {run.run_id}")
        return 130
    write_and_summarise(store, run, output)
    if not progress.complete:
        render.say(f"run {run.run_id} ended incomplete (infrastructure errors); see "
                   f"jqbench status {run.run_id}, then jqbench resume {run.run_id}")
        return 1
    return 0


def write_and_summarise(store: RecordStore, run: Run, output: Path) -> None:
    attempts = store.get_attempts(run)
    paths = write_results(run, attempts, output)
    render.summary_table(run, attempts)
    render.say(f"results written to {paths.root}")
