"""The jqbench command line (`jqbench` = `python -m orchestrator`).

Every command parses its options, calls planning/store/results code, and renders. Errors of
ours (JqbenchError) become one line on stderr and an exit code: 2 usage or configuration,
3 a service does not answer, 1 a run that ended incomplete, 130 Ctrl-C.
"""

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from challenge.levels import LEVELS, Level, parse_level
from orchestrator.console import err, out
from worker.errors import ConfigError, JqbenchError
from worker.settings import Settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="jqbench: benchmark LLMs on llama.cpp servers with the Job Queue Challenge.",
    pretty_exceptions_enable=False,
)

DEFAULT_OUTPUT = Path("results")


def _settings() -> Settings:
    return Settings()


def _levels(values: list[str] | None) -> list[Level]:
    if not values:
        return list(LEVELS)
    try:
        return [parse_level(v) for v in values]
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


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
    output: Annotated[Path, typer.Option(help="Where results go.")] = DEFAULT_OUTPUT,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow progress; write the results at the end.")
    ] = False,
) -> None:
    """Check the models' servers, store the run, and enqueue its work."""
    from orchestrator.submitting import submit_run

    settings = _settings()
    code = submit_run(settings, models, _levels(levels), iterations,
                      config or settings.models_file, run_id, output, wait)
    raise typer.Exit(code)


@app.command()
def status(
    run_id: Annotated[str, typer.Argument(help="The run's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show how far a run is, per model and level."""
    from orchestrator.progress import run_progress
    from orchestrator.submitting import load_run

    store, run = load_run(_settings(), run_id)
    progress = run_progress(run, store.get_attempts(run))
    if as_json:
        payload = {
            "run_id": run_id, "done": progress.done, "complete": progress.complete,
            "finished": progress.finished, "total": progress.total,
            "models": {m.model: {"total": m.total, **m.counts} for m in progress.models},
        }
        out.print_json(json.dumps(payload))
        return
    table = Table(title=f"run {run_id}")
    states = ["scored", "pending", "infra_error", "blocked"]
    table.add_column("model")
    for state in states:
        table.add_column(state, justify="right")
    for model in progress.models:
        table.add_row(model.model, *(str(model.counts.get(s, 0)) for s in states))
    out.print(table)
    if progress.complete:
        verdict = "complete"
    else:
        verdict = "done, incomplete" if progress.done else "running"
    out.print(f"{progress.finished}/{progress.total} units finished: {verdict}")


@app.command()
def results(
    run_id: Annotated[str, typer.Argument(help="The run's id.")],
    output: Annotated[Path, typer.Option(help="Where results go.")] = DEFAULT_OUTPUT,
) -> None:
    """Write the run's result files now (also mid-run) and print the summary."""
    from orchestrator.submitting import load_run, write_and_summarise

    store, run = load_run(_settings(), run_id)
    write_and_summarise(store, run, output)


@app.command()
def score(
    file: Annotated[Path, typer.Argument(help="A model answer (markdown) or a .py file.")],
    level: Annotated[str, typer.Option("--level", help="L1..L5")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Score one answer in the sandbox (no Redis needed)."""
    from orchestrator.scoring_cli import score_file

    try:
        parsed = parse_level(level)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    score_file(_settings(), file, parsed, as_json)


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(help="The run's id.")],
    output: Annotated[Path, typer.Option(help="Where results go.")] = DEFAULT_OUTPUT,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow progress; write the results at the end.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Resume even while units are still pending.")
    ] = False,
) -> None:
    """Restart what failed on our side (infra_error) and the chains waiting behind it."""
    from orchestrator.submitting import resume_run

    raise typer.Exit(resume_run(_settings(), run_id, output, wait, force))


@app.command()
def regrade(
    run_id: Annotated[str, typer.Argument(help="The run's id.")],
    output: Annotated[Path, typer.Option(help="Where results go.")] = DEFAULT_OUTPUT,
) -> None:
    """Score a run's stored answers again (no model is called) and rewrite its results."""
    from orchestrator.regrade_cli import regrade_command

    regrade_command(_settings(), run_id, output)


@app.command()
def cleanup(
    worker: Annotated[
        list[str] | None,
        typer.Option("--worker", help="Remove every sandbox container of this dead worker id."),
    ] = None,
) -> None:
    """Remove leftover sandbox containers (stopped ones; or all of the given dead workers)."""
    from worker._docker import DockerSandbox

    removed = DockerSandbox(_settings().sandbox_image).cleanup_leftovers(worker or None)
    out.print(f"removed {len(removed)} sandbox container(s)", markup=False, highlight=False)


@app.command()
def demo(
    iterations: Annotated[int, typer.Option(help="Iterations per model.")] = 2,
    output: Annotated[Path, typer.Option(help="Where results go.")] = DEFAULT_OUTPUT,
) -> None:
    """A complete local run: Redis, two fake llama-servers, Celery workers, Docker scoring."""
    from orchestrator.demo import run_demo

    raise typer.Exit(run_demo(_settings(), iterations, output))


MULTI_VALUE_OPTIONS = frozenset({"--models", "-m", "--levels", "-l", "--worker"})


def expand_multi_value_options(argv: list[str]) -> list[str]:
    """Let `--models a b --levels L1 L2` work: click takes one value per option occurrence,
    so every further bare word after such an option becomes its own `--option word`."""
    expanded: list[str] = []
    current: str | None = None
    first_value_pending = False
    for word in argv:
        if word.startswith("-"):
            current = word if word in MULTI_VALUE_OPTIONS else None
            first_value_pending = current is not None
            expanded.append(word)
        elif current is not None and not first_value_pending:
            expanded.extend([current, word])
        else:
            expanded.append(word)
            first_value_pending = False
    return expanded


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(
        level=os.environ.get("JQ_LOG_LEVEL", "WARNING").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        args = expand_multi_value_options(list(sys.argv[1:] if argv is None else argv))
        code = app(args=args, standalone_mode=False, prog_name="jqbench")
    except JqbenchError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted", markup=False)
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors (typer's click) in non-standalone mode
        show = getattr(exc, "show", None)
        if show is None:
            raise
        show()
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(code if isinstance(code, int) else 0)
