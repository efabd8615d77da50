"""Writing a report's four files into one folder, each replaced atomically."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from orchestrator._files import write_text_atomic
from orchestrator.report.build import build_report
from orchestrator.report.html import AttemptKey, render_html
from orchestrator.report.markdown import render_markdown
from orchestrator.report.model import Report
from orchestrator.report.pooling import RunRecords, pooled_id
from orchestrator.report.rows import write_rows
from worker.records import Attempt


@dataclass(frozen=True)
class ReportPaths:
    directory: Path
    summary_md: Path
    report_html: Path
    attempts_jsonl: Path
    attempts_csv: Path


def report_directory(out_dir: Path, run_ids: Sequence[str]) -> Path:
    """Beside the result files: the run's own folder, or `report-<a>+<b>` for several runs
    (whose attempt files the page then links as ../<run_id>/attempts/...)."""
    if len(run_ids) == 1:
        return Path(out_dir) / run_ids[0]
    return Path(out_dir) / f"report-{pooled_id(run_ids)}"


def attempts_by_key(sources: Sequence[RunRecords]) -> dict[AttemptKey, Attempt]:
    return {(s.run.run_id, u.model, u.iteration, u.level.value): a
            for s in sources for u, a in s.attempts.items()}


def write_report(sources: Sequence[RunRecords], out_dir: Path, now: datetime | None = None
                 ) -> tuple[Report, ReportPaths]:
    """Build the report of `sources` and write summary.md, report.html, attempts.jsonl and
    attempts.csv into `report_directory`."""
    report = build_report(sources, now or datetime.now(UTC))
    directory = report_directory(out_dir, report.run_ids)
    summary = directory / "summary.md"
    page = directory / "report.html"
    write_text_atomic(summary, render_markdown(report))
    write_text_atomic(page, render_html(report, attempts_by_key(sources)))
    jsonl, csv_path = write_rows(directory, report.rows)
    return report, ReportPaths(directory=directory, summary_md=summary, report_html=page,
                               attempts_jsonl=jsonl, attempts_csv=csv_path)
