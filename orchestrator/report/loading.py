"""A run's records for a report: from the store when it still has the run, else from the
result files `orchestrator.results` wrote (run.json and attempts/), so a report can be made
long after Redis forgot the run, on any machine that has the folder."""

import json
from pathlib import Path

from pydantic import ValidationError

from orchestrator.report.pooling import RunRecords
from worker.errors import ConfigError, RedisUnavailable
from worker.records import Attempt, Run
from worker.store import RecordStore


def records_from_files(out_dir: Path, run_id: str) -> RunRecords:
    """The run written under `out_dir/<run_id>/`.

    Raises:
        ConfigError: no such folder, or its run.json or an attempt file is not ours.
    """
    root = Path(out_dir) / run_id
    run_json = root / "run.json"
    try:
        run = Run.model_validate(json.loads(run_json.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ConfigError(f"run {run_id}: neither the store nor {root} has it "
                          "(write its result files with jqbench results, or pass --output)"
                          ) from None
    except (OSError, ValueError, ValidationError) as exc:
        raise ConfigError(f"{run_json} is not a jqbench run.json: {_first_line(exc)}") from None
    attempts = {}
    for path in sorted((root / "attempts").glob("*/iter*/L*.json")):
        try:
            attempt = Attempt.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, ValidationError) as exc:
            raise ConfigError(f"{path} is not a jqbench attempt: {_first_line(exc)}") from None
        if attempt.run_id == run.run_id:
            attempts[attempt.unit] = attempt
    return RunRecords(run=run, attempts=attempts)


def records_of(store: RecordStore | None, out_dir: Path, run_id: str) -> RunRecords:
    """From the store if it has the run, else from the result files (also when Redis does
    not answer: a report of a finished run needs no services)."""
    if store is not None:
        try:
            run = store.get_run(run_id)
            if run is not None:
                return RunRecords(run=run, attempts=store.get_attempts(run))
        except RedisUnavailable:
            pass
    return records_from_files(out_dir, run_id)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
