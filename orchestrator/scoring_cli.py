"""`jqbench score FILE --level Ln`: one answer, scored in the sandbox, without Redis."""

import json
from pathlib import Path

from rich.table import Table

from challenge.levels import Level
from orchestrator.console import out
from worker.errors import ConfigError
from worker.flow import sandbox_limits
from worker.scorer import ScoreReport, score_answer
from worker.settings import Settings
from worker.slots import scoring_sandbox


def answer_from_file(path: Path, level: Level) -> str:
    """A .py file is code: hand it over fenced, as a model would; anything else is the answer."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    if path.suffix == ".py" and level is not Level.L5:
        return f"```python\n{text}\n```"
    return text


def report_json(report: ScoreReport) -> dict[str, object]:
    return {
        "level": report.level.value,
        "status": report.status,
        "scores": {str(k): _number(v) for k, v in report.scores.items()},
        "tests": [
            {"profile": t.profile.value, "id": t.id, "outcome": t.outcome,
             "duration_s": round(t.duration_s, 3)}
            for t in report.tests
        ],
    }


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 1)


def score_file(settings: Settings, path: Path, level: Level, as_json: bool) -> None:
    answer = answer_from_file(path, level)
    sandbox = scoring_sandbox(settings)
    report = score_answer(answer, level, sandbox, sandbox_limits(settings))
    if as_json:
        out.print_json(json.dumps(report_json(report)))
        return
    table = Table(title=f"{path.name} as {level.value}: {report.status}")
    for column in ("profile", "test", "outcome", "seconds"):
        table.add_column(column)
    for test in report.tests:
        table.add_row(test.profile.value, test.id, test.outcome, f"{test.duration_s:.2f}")
    out.print(table)
    for profile, points in report.scores.items():
        out.print(f"{profile}: {_number(points)}", markup=False, highlight=False)
