"""Commands that score: score one answer, regrade a run."""

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli import _render as render
from orchestrator.cli._app import (
    DEFAULT_OUTPUT,
    JsonOpt,
    OutputOpt,
    RunIdArg,
    app,
    parse_one_level,
    settings,
)


@app.command()
def score(
    file: Annotated[Path, typer.Argument(help="A model answer (markdown) or a .py file.")],
    level: Annotated[str, typer.Option("--level", help="L1..L5")],
    as_json: JsonOpt = False,
) -> None:
    """Score one answer in the sandbox (no Redis needed)."""
    from orchestrator.answers import answer_from_file
    from worker.sandbox import sandbox_limits, scoring_sandbox
    from worker.scorer import score_answer

    parsed = parse_one_level(level)
    current = settings()
    answer = answer_from_file(file, parsed)
    report = score_answer(answer, parsed, scoring_sandbox(current), sandbox_limits(current))
    if as_json:
        render.show_json(render.score_report_json(report))
    else:
        render.score_report_table(f"{file.name} as {parsed.value}", report)


@app.command()
def regrade(run_id: RunIdArg, output: OutputOpt = DEFAULT_OUTPUT) -> None:
    """Score a run's stored answers again (no model is called) and rewrite its results."""
    from orchestrator.cli.runs import write_and_summarise
    from orchestrator.regrade import regrade_run
    from orchestrator.submission import load_run, open_store
    from worker.records import Attempt
    from worker.sandbox import scoring_sandbox
    from worker.versions import scoring_version

    current = settings()
    store = open_store(current)
    run = load_run(store, run_id, current.redis_url)

    def done(attempt: Attempt) -> None:
        render.say(f"rescored {attempt.model} iter{attempt.iteration} {attempt.level.value}: "
                   f"{attempt.scores}")

    changes = regrade_run(store, run, lambda: scoring_sandbox(current, store=store), current,
                          on_done=done)
    if changes:
        render.changes_table(
            f"changed scores (scoring version {scoring_version()})",
            [(c.model, str(c.iteration), c.level.value, c.profile, render.number(c.before),
              render.number(c.after)) for c in changes],
        )
    else:
        render.show("no score changed")
    write_and_summarise(store, run, output)
