"""Commands about runs: submit, watch, status, results, resume, cancel."""

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli import _render as render
from orchestrator.cli._app import (
    DEFAULT_OUTPUT,
    EXIT_TIMEOUT,
    JsonOpt,
    OutputOpt,
    RunIdArg,
    TimeoutOpt,
    WaitOpt,
    app,
    check_timeout,
    parse_levels,
    settings,
)
from orchestrator.following import current_progress
from orchestrator.report.pooling import RunRecords
from orchestrator.report.writing import write_report
from orchestrator.results import build_warnings, server_builds, write_results
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
    timeout: TimeoutOpt = None,
) -> None:
    """Check the models' servers, store the run, and enqueue its work (again: a no-op)."""
    timeout_s = check_timeout(timeout, wait)
    current = settings()
    request = SubmitRequest(models=models, levels=parse_levels(levels), iterations=iterations,
                            config_path=config or current.models_file, run_id=run_id)
    raise typer.Exit(submit_and_follow(current, request, output, wait, timeout_s))


def submit_and_follow(current: Settings, request: SubmitRequest, output: Path,
                      wait: bool, timeout_s: float | None = None) -> int:
    """`submit [--wait]`, also used by `demo`; returns the exit code."""
    from orchestrator.submission import submit as submit_run
    from orchestrator.workers import missing_workers_warning, run_queues, worker_census

    submitted = submit_run(current, request, notify=render.say)
    run = submitted.run
    if submitted.existed:
        sent = (f"{submitted.units_sent} lost unit(s) sent again" if submitted.units_sent
                else "nothing sent")
        render.say(f"run {run.run_id} exists already with the same spec; {sent} "
                   f"(see jqbench status {run.run_id})")
    else:
        render.say(f"run {run.run_id}: {len(run.spec.models)} model(s) x "
                   f"{run.spec.iterations} iteration(s) x {len(run.spec.levels)} level(s); "
                   f"{submitted.units_sent} first units enqueued (each L1 -> L2 -> L3 chain "
                   "goes on by itself)")
    if wait or not submitted.existed:
        warning = missing_workers_warning(worker_census(current), run_queues(run.models))
        if warning:
            render.say(warning)
    render.show(run.run_id)
    return follow(open_store(current), run, output, timeout_s) if wait else 0


@app.command()
def watch(run_id: RunIdArg, output: OutputOpt = DEFAULT_OUTPUT, timeout: TimeoutOpt = None
          ) -> None:
    """Follow a run already submitted, as `submit --wait` does; write the results at the end."""
    timeout_s = check_timeout(timeout)
    current = settings()
    store = open_store(current)
    raise typer.Exit(follow(store, load_run(store, run_id, current.redis_url), output,
                            timeout_s))


@app.command()
def status(run_id: RunIdArg, as_json: JsonOpt = False) -> None:
    """Show how far a run is, per model and level."""
    current = settings()
    store = open_store(current)
    progress = current_progress(store, load_run(store, run_id, current.redis_url))
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
    timeout: TimeoutOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Resume even while units are still pending.")
    ] = False,
) -> None:
    """Restart what failed on our side (infra_error) and the chains waiting behind it."""
    from orchestrator.submission import resume as resume_run

    timeout_s = check_timeout(timeout, wait)
    current = settings()
    store = open_store(current)
    resumed = resume_run(current, run_id, force=force, store=store)
    if resumed.progress.complete:
        render.say(f"run {run_id} is complete; nothing to resume")
        raise typer.Exit(0)
    render.say(f"run {run_id}: resumed {resumed.units_resumed} unit(s) that failed on our side")
    raise typer.Exit(follow(store, resumed.run, output, timeout_s) if wait else 0)


@app.command()
def cancel(run_id: RunIdArg) -> None:
    """Stop a run: no further unit starts, and its running sandboxes here are removed."""
    from orchestrator.cancelling import cancel as cancel_run

    cancelled = cancel_run(settings(), run_id)
    if cancelled.complete:
        render.show(f"run {run_id} is complete; nothing to cancel")
        return
    if cancelled.docker_error:
        render.say(f"Docker does not answer here, so no sandbox container was removed "
                   f"({cancelled.docker_error}); the run is cancelled all the same")
    again = " (again)" if cancelled.already else ""
    removed = "" if cancelled.docker_error else (
        f"; removed {len(cancelled.removed)} of its sandbox container(s)")
    render.show(f"run {run_id} cancelled{again}: no further unit starts, model calls under way "
                f"finish{removed}")


def follow(store: RecordStore, run: Run, output: Path, timeout_s: float | None = None) -> int:
    """Live progress until the run is done, then the results; Ctrl-C detaches, and so does
    `timeout_s` running out (exit 124)."""
    from orchestrator.following import FollowTimeout, follow_run

    try:
        with render.progress_bars(run) as update:
            progress = follow_run(store, run, update, timeout_s=timeout_s)
    except KeyboardInterrupt:
        render.say(f"detached; the run goes on. Follow it with: jqbench watch {run.run_id}")
        return 130
    except FollowTimeout as stopped:
        render.say(f"stopped following after {stopped.timeout_s:g} s; the run goes on. "
                   f"Follow it with: jqbench watch {run.run_id}")
        return EXIT_TIMEOUT
    write_and_summarise(store, run, output)
    if progress.complete:
        return 0
    if progress.cancelled:
        render.say(f"run {run.run_id} was cancelled; the results written cover what finished")
        return 1
    render.say(f"run {run.run_id} ended incomplete (infrastructure errors); see "
               f"jqbench status {run.run_id}, then jqbench resume {run.run_id}")
    return 1


def write_and_summarise(store: RecordStore, run: Run, output: Path) -> None:
    attempts = store.get_attempts(run)
    paths = write_results(run, attempts, output, cancelled=store.is_cancelled(run.run_id),
                          loads=store.get_loads(run.run_id))
    write_report([RunRecords(run=run, attempts=attempts)], output)
    render.summary_table(run, attempts)
    for model in run.spec.models:
        for warning in build_warnings(model, server_builds(run, attempts, model)):
            render.say(f"warning: {warning}")
    render.say(f"results written to {paths.root} (report: summary.md, report.html)")
