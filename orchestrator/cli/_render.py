"""Everything the CLI shows: results on stdout, diagnostics and progress on stderr."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from orchestrator.progress import RunProgress
from orchestrator.statistics import AttemptMap, model_statistics, scored_profiles
from worker.records import Run, ScoreReport

if TYPE_CHECKING:
    from orchestrator.comparison import Comparison
    from orchestrator.doctor import Check

out = Console()
err = Console(stderr=True)

STATUS_STATES = ("scored", "pending", "infra_error", "blocked")


def say(text: str) -> None:
    """One diagnostic line on stderr, printed as is."""
    err.print(text, markup=False, highlight=False, soft_wrap=True)


def show(text: str) -> None:
    """One result line on stdout, printed as is."""
    out.print(text, markup=False, highlight=False, soft_wrap=True)


def show_json(payload: Any) -> None:
    out.print_json(json.dumps(payload))


def number(value: float | None) -> str:
    """Points as people write them: 25, 18.2; '-' for none."""
    return "-" if value is None else f"{value:g}"


def json_number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 1)


def status_table(progress: RunProgress) -> None:
    table = Table(title=f"run {progress.run_id}")
    table.add_column("model")
    for state in STATUS_STATES:
        table.add_column(state, justify="right")
    table.add_column("time left", justify="right")
    for model in progress.models:
        table.add_row(model.model, *(str(model.counts.get(s, 0)) for s in STATUS_STATES),
                      duration(model.left_s, model.counts.get("pending", 0)))
    out.print(table)
    if progress.complete:
        verdict = "complete"
    elif progress.cancelled:
        verdict = "cancelled"
    else:
        verdict = "done, incomplete" if progress.done else "running"
    left = "" if progress.done else f", about {duration(progress.left_s, 1)} left"
    show(f"{progress.finished}/{progress.total} units finished: {verdict}{left}")


def duration(seconds: float | None, pending: int) -> str:
    """A time left as people say it: '-' when nothing is pending, '?' before any pace."""
    if not pending:
        return "-"
    if seconds is None:
        return "?"
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}min"
    return f"{seconds / 3600:.1f}h"


def summary_table(run: Run, attempts: AttemptMap) -> None:
    table = Table(title=f"run {run.run_id}")
    for column in ("model", "profile", "best", "avg", "min", "max", "all scores", "incomplete"):
        table.add_column(column)
    for model in run.spec.models:
        for profile in scored_profiles(attempts):
            stats = model_statistics(run, attempts, model, profile)
            table.add_row(
                model, profile.value, number(stats.best_score), number(stats.avg_score),
                number(stats.min_score), number(stats.max_score),
                ", ".join(number(s) for s in stats.all_scores), str(len(stats.incomplete)),
            )
    out.print(table)


def score_report_json(report: ScoreReport) -> dict[str, object]:
    return {
        "level": report.level.value,
        "status": report.status,
        "scores": {str(k): json_number(v) for k, v in report.scores.items()},
        "tests": [
            {"profile": t.profile.value, "id": t.id, "outcome": t.outcome,
             "duration_s": round(t.duration_s, 3)}
            for t in report.tests
        ],
    }


def score_report_table(title: str, report: ScoreReport) -> None:
    table = Table(title=f"{title}: {report.status}")
    for column in ("profile", "test", "outcome", "seconds"):
        table.add_column(column)
    for test in report.tests:
        table.add_row(test.profile.value, test.id, test.outcome, f"{test.duration_s:.2f}")
    out.print(table)
    for profile, points in report.scores.items():
        show(f"{profile}: {json_number(points)}")


def changes_table(title: str, rows: list[tuple[str, ...]]) -> None:
    table = Table(title=title)
    for column in ("model", "iteration", "level", "profile", "before", "after"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    out.print(table)


VERDICT_STYLES = {"ok": "green", "warn": "yellow", "fail": "bold red"}


def doctor_table(checks: "list[Check]") -> None:
    table = Table(title="jqbench doctor")
    for column in ("check", "result", "what was found", "fix"):
        table.add_column(column)
    for check in checks:
        verdict = check.verdict.value
        table.add_row(escape(check.name), f"[{VERDICT_STYLES[verdict]}]{verdict}[/]",
                      escape(check.detail), escape(check.fix))
    out.print(table)


@contextmanager
def progress_bars(run: Run) -> Iterator[Any]:
    """Live per-model bars on stderr; yields a function that takes a RunProgress."""
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"), TimeElapsedColumn(),
        console=err, transient=False,
    ) as bar:
        tasks = {m: bar.add_task(m, total=1, detail="") for m in run.spec.models}

        def update(progress: RunProgress) -> None:
            for model in progress.models:
                detail = ", ".join(f"{k} {v}" for k, v in sorted(model.counts.items()))
                pending = model.counts.get("pending", 0)
                if pending:
                    detail += f", ~{duration(model.left_s, pending)} left"
                bar.update(tasks[model.model], total=model.total, completed=model.finished,
                           detail=detail)

        yield update


def comparison(result: "Comparison") -> None:
    """Per profile: the verdict in words, then the per-level table."""
    show(f"A = {result.model_a} (runs {', '.join(result.runs_a)}), "
         f"B = {result.model_b} (runs {', '.join(result.runs_b)})")
    for profile in result.profiles:
        show(profile.sentence)
        table = Table(title=f"{profile.profile.value} per level (exploratory, Holm-corrected)")
        for column in ("level", "mean A", "mean B", "A - B", "95% interval", "p", "p (Holm)",
                       "verdict"):
            table.add_column(column)
        for row in profile.levels:
            interval = "-" if row.ci95 is None else f"[{row.ci95[0]:.1f}, {row.ci95[1]:.1f}]"
            table.add_row(row.level.value, _fixed(row.mean_a), _fixed(row.mean_b),
                          _fixed(row.difference), interval, _p(row.p_value), _p(row.p_holm),
                          row.verdict.replace("_", " "))
        out.print(table)


def _fixed(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _p(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"
