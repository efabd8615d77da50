"""One flat row per attempt (`attempts.jsonl`, `attempts.csv`), for pandas and spreadsheets.

Rows carry numbers and harness words only, plus the record's error text; the prompt, answer
and code stay in the attempt files (`attempt_file`, relative to the report's folder). In the
CSV, a text cell that a spreadsheet would read as a formula (starting with = + - @, a tab or
a carriage return) gets a leading apostrophe; the JSON Lines keep the text as it is.
"""

import csv
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from challenge.levels import Profile
from orchestrator._files import write_text_atomic
from orchestrator.levelstats import failure_cause, reported_number
from orchestrator.report.pooling import RunRecords
from worker.records import Attempt, AttemptStatus

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class AttemptRow(BaseModel):
    run_id: str
    model: str
    iteration: int
    level: str
    status: str
    gen_outcome: str | None
    infra_stage: str | None
    legacy_points: float | None
    strict_points: float | None
    legacy_tests_passed: int | None
    legacy_tests_total: int | None
    strict_tests_passed: int | None
    strict_tests_total: int | None
    legacy_cause: str | None
    strict_cause: str | None
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    tokens_per_s: float | None
    model_time_s: float | None
    score_time_s: float | None
    scoring_version: str | None
    error: str
    attempt_file: str
    """The full record (prompt, answer, code, tests), relative to the report's folder."""


def attempt_file(run_id: str, attempt: Attempt, report_dir_is_run_dir: bool) -> str:
    """Where `orchestrator.results` wrote the record, seen from the report's folder."""
    path = f"attempts/{attempt.model}/iter{int(attempt.iteration)}/{attempt.level.value}.json"
    return path if report_dir_is_run_dir else f"../{run_id}/{path}"


def attempt_row(run_id: str, attempt: Attempt, *, report_dir_is_run_dir: bool = True
                ) -> AttemptRow:
    def points(profile: Profile) -> float | None:
        return attempt.scores.get(profile.value)

    def tests(profile: Profile, passed: bool) -> int | None:
        score = attempt.level_scores.get(profile.value)
        if score is None:
            return None
        return score.tests_passed if passed else score.tests_total

    def cause(profile: Profile) -> str | None:
        if attempt.status is AttemptStatus.SCORED and profile.value not in attempt.scores:
            return None  # not scored under this profile (yet)
        found = failure_cause(attempt, profile)
        return found.value if found else None

    usage = attempt.usage or {}
    timings = attempt.timings or {}
    return AttemptRow(
        run_id=run_id, model=attempt.model, iteration=attempt.iteration,
        level=attempt.level.value, status=attempt.status.value,
        gen_outcome=attempt.gen_outcome.value if attempt.gen_outcome else None,
        infra_stage=attempt.infra_stage.value if attempt.infra_stage else None,
        legacy_points=points(Profile.LEGACY), strict_points=points(Profile.STRICT),
        legacy_tests_passed=tests(Profile.LEGACY, True),
        legacy_tests_total=tests(Profile.LEGACY, False),
        strict_tests_passed=tests(Profile.STRICT, True),
        strict_tests_total=tests(Profile.STRICT, False),
        legacy_cause=cause(Profile.LEGACY), strict_cause=cause(Profile.STRICT),
        finish_reason=attempt.finish_reason,
        prompt_tokens=_int(usage.get("prompt_tokens")),
        completion_tokens=_int(usage.get("completion_tokens")),
        tokens_per_s=reported_number(timings, "predicted_per_second"),
        model_time_s=attempt.call_duration_s,
        score_time_s=attempt.report.duration_s if attempt.report else None,
        scoring_version=attempt.scoring_version,
        error=attempt.error,
        attempt_file=attempt_file(run_id, attempt, report_dir_is_run_dir),
    )


def attempt_rows(sources: Sequence[RunRecords]) -> list[AttemptRow]:
    """Every attempt of the runs, run by run, then model, iteration and level."""
    single = len(sources) == 1
    rows = []
    for source in sources:
        ordered = sorted(source.attempts.items(),
                         key=lambda item: (source.run.spec.models.index(item[0].model)
                                           if item[0].model in source.run.spec.models else 0,
                                           item[0].iteration, item[0].level.number))
        rows += [attempt_row(source.run.run_id, a, report_dir_is_run_dir=single)
                 for _, a in ordered]
    return rows


def jsonl_text(rows: Iterable[AttemptRow]) -> str:
    return "".join(json.dumps(row.model_dump(mode="json"), ensure_ascii=False) + "\n"
                   for row in rows)


def csv_text(rows: Iterable[AttemptRow]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(AttemptRow.model_fields), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: neutralised(v) for k, v in row.model_dump(mode="json").items()})
    return buffer.getvalue()


def neutralised(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, made plain text; others unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def write_rows(directory: Path, rows: Sequence[AttemptRow]) -> list[Path]:
    """attempts.jsonl and attempts.csv in `directory`, each replaced atomically."""
    jsonl, csv_path = directory / "attempts.jsonl", directory / "attempts.csv"
    write_text_atomic(jsonl, jsonl_text(rows))
    write_text_atomic(csv_path, csv_text(rows))
    return [jsonl, csv_path]
