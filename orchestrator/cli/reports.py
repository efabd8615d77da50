"""Commands that read finished numbers: report, compare."""

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli import _render as render
from orchestrator.cli._app import DEFAULT_OUTPUT, JsonOpt, OutputOpt, app, settings
from orchestrator.report.pooling import RunRecords
from worker.errors import ConfigError, RedisUnavailable


def _sources(run_ids: list[str], output: Path) -> list[RunRecords]:
    """Each run from Redis when it still has it, else from its result folder."""
    from orchestrator.report.loading import records_of
    from orchestrator.submission import open_store

    if len(set(run_ids)) != len(run_ids):
        raise ConfigError("a run id is given twice: its iterations would count twice")
    try:
        store = open_store(settings())
    except RedisUnavailable:
        store = None  # the result folders may have the runs
    return [records_of(store, output, run_id) for run_id in run_ids]


@app.command()
def report(
    run_ids: Annotated[list[str], typer.Argument(help="One or more run ids; a model in "
                                                      "several runs has its iterations pooled.")],
    output: OutputOpt = DEFAULT_OUTPUT,
) -> None:
    """Write summary.md, report.html, attempts.jsonl and attempts.csv beside the results."""
    from orchestrator.report.writing import write_report

    written, paths = write_report(_sources(run_ids, output), output)
    for warning in written.warnings:
        render.say(f"warning: {warning}")
    render.show(f"report written to {paths.directory}: summary.md, report.html, "
                "attempts.jsonl, attempts.csv")


@app.command()
def compare(
    model_a: Annotated[str, typer.Argument(help="A model name, or MODEL@RUN_ID for one run.")],
    model_b: Annotated[str, typer.Argument(help="The model to compare it with (same forms).")],
    runs: Annotated[list[str], typer.Option("--run", "-r", help="Run ids to take the models' "
                                            "iterations from (pooled across runs).")],
    output: OutputOpt = DEFAULT_OUTPUT,
    allow_mismatch: Annotated[bool, typer.Option(
        "--allow-mismatch", help="Compare even when the runs differ in what makes scores "
                                 "comparable (versions, sandbox, temperature, max_tokens).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Is A better than B? The difference of mean scores per profile, its 95 % interval
    and a permutation test; per level too (exploratory, Holm-corrected)."""
    from orchestrator.comparing import compare_models

    result = compare_models(_sources(runs, output), model_a, model_b)
    if result.mismatches and not allow_mismatch:
        raise ConfigError("these scores are not comparable: " + "; ".join(result.mismatches)
                          + " (pass --allow-mismatch to compare them anyway)")
    for mismatch in result.mismatches:
        render.say(f"WARNING: not comparable: {mismatch}")
    if as_json:
        render.show_json(result.model_dump(mode="json"))
    else:
        render.comparison(result)
