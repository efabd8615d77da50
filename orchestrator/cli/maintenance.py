"""Commands about the set-up: doctor, cleanup of sandbox containers, the demo."""

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli import _render as render
from orchestrator.cli._app import DEFAULT_OUTPUT, OutputOpt, app, settings


@app.command()
def doctor(
    config: Annotated[
        Path | None, typer.Option(help="models.yaml (default: $JQ_MODELS_FILE or ./models.yaml).")
    ] = None,
    models: Annotated[
        list[str] | None,
        typer.Option("--models", "-m", help="Check only these models (default: all)."),
    ] = None,
) -> None:
    """Check Redis, Docker and the sandbox image, the workers, and the models' servers."""
    from orchestrator.doctor import Verdict, diagnose

    current = settings()
    checks = diagnose(current, config or current.models_file, models or None)
    render.doctor_table(checks)
    failed = [c.name for c in checks if c.verdict is Verdict.FAIL]
    if failed:
        render.say(f"{len(failed)} check(s) failed: {', '.join(failed)}")
        raise typer.Exit(1)


@app.command()
def cleanup(
    worker: Annotated[
        list[str] | None,
        typer.Option("--worker", help="Remove every sandbox container of this dead worker id."),
    ] = None,
) -> None:
    """Remove leftover sandbox containers (stopped ones; or all of the given dead workers)."""
    from worker.sandbox import remove_sandboxes

    removed = remove_sandboxes(settings(), worker or None)
    render.show(f"removed {len(removed)} sandbox container(s)")


@app.command()
def demo(
    iterations: Annotated[int, typer.Option(help="Iterations per model.")] = 2,
    output: OutputOpt = DEFAULT_OUTPUT,
) -> None:
    """A complete local run: Redis, two fake llama-servers, Celery workers, Docker scoring."""
    from orchestrator.cli.runs import submit_and_follow
    from orchestrator.demo import demo_stack
    from orchestrator.submission import SubmitRequest

    with demo_stack(settings(), render.say) as stack:
        request = SubmitRequest(models=stack.models, iterations=iterations,
                                config_path=stack.models_file)
        code = submit_and_follow(stack.settings, request, output, wait=True)
    raise typer.Exit(code)
