"""Result files of a run, written from its records (docs/challenge.md §5).

Layout under `<out_dir>/<run_id>/`:
    run.json                              spec, config (key *names* only), fingerprint,
                                          endpoint facts, progress, complete, cancelled
    result_<model>.json                   the original's schema, legacy meaning (+ extras below)
    artifacts/<model>/L<n>_job_queue.py   best legacy iteration's code (L5: the raw answer)
    attempts/<model>/iter<k>/L<n>.json    every Attempt record

`write_results` may run at any time, mid-run too, and again later: every file is replaced
atomically, and artifacts of an earlier best iteration that the current one lacks are removed.

Additions to the original's result schema, all additive:
- each `levels` entry carries `tests_total_original` (the original's own count);
- a subset run's `scores` has `max` = the selected levels' points and `"subset": true`, and
  only the selected levels' keys;
- `incomplete_iterations`: [{iteration, levels: {L<n>: {status, error}}}], apart from the
  statistics;
- `loads` and `load_s`: a model on a shared GPU server (router, llama-swap) is loaded by the
  run's driver, once per pass over the server's models: each load's server, start, seconds
  until loaded and end, and their sum, kept apart from the model's generation time;
- for every further profile with points in all scored records (`scored_profiles`):
  `statistics_<p>`, `scores_<p>`, `levels_<p>` (e.g. `scores_strict`), same shapes.
Without any complete iteration, `scores` is null, `levels` empty and the statistics null.
Level names are written as in `scores` ("L1").
"""

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from challenge.extraction import JOB_QUEUE_FILE
from challenge.levels import Level, Profile
from orchestrator._files import write_text_atomic
from orchestrator.progress import run_progress
from orchestrator.statistics import AttemptMap, ModelStatistics, model_statistics, scored_profiles
from worker.records import Attempt, ModelLoad, Run
from worker.unit import Unit

_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
_ARTIFACT_NAME = re.compile(r"^L[1-5]_job_queue\.py$")


@dataclass(frozen=True)
class ResultPaths:
    """Every file the last `write_results` call stands behind (written or already current)."""

    root: Path
    run_json: Path
    results: dict[str, Path] = field(default_factory=dict)
    """Model -> result_<model>.json."""
    artifacts: list[Path] = field(default_factory=list)
    attempts: list[Path] = field(default_factory=list)

    @property
    def all(self) -> list[Path]:
        return [self.run_json, *self.results.values(), *self.artifacts, *self.attempts]


def write_results(
    run: Run,
    attempts: Mapping[Unit, Attempt],
    out_dir: Path,
    *,
    cancelled: bool = False,
    now: datetime | None = None,
    loads: Sequence[ModelLoad] = (),
) -> ResultPaths:
    """Write (or rewrite) all result files of `run` under `out_dir/<run_id>/`.

    `cancelled` is the run's cancel flag (`RecordStore.is_cancelled`), written to run.json;
    `loads` its models' loads on shared servers (`RecordStore.get_loads`).
    `now` stamps `timestamp` and `written_at` (default: the current UTC time); pass it to get
    byte-identical files from identical records.
    """
    now = now or datetime.now(UTC)
    root = Path(out_dir) / _safe_name(run.run_id, "run id")
    run_json = _write_json(root / "run.json", run_document(run, attempts, now,
                                                           cancelled=cancelled))
    results: dict[str, Path] = {}
    artifacts: list[Path] = []
    for model in run.spec.models:
        _safe_name(model, "model name")
        results[model] = _write_json(root / f"result_{model}.json",
                                     result_document(run, attempts, model, now, loads))
        legacy = model_statistics(run, attempts, model, Profile.LEGACY)
        artifacts += _write_artifacts(root / "artifacts" / model, run.run_id, attempts, legacy)
    attempt_paths = [_write_attempt(root, attempt)
                     for _, attempt in sorted(attempts.items(), key=_key_order)]
    return ResultPaths(root=root, run_json=run_json, results=results,
                       artifacts=artifacts, attempts=attempt_paths)


def run_document(run: Run, attempts: AttemptMap, now: datetime, *, cancelled: bool = False
                 ) -> dict[str, Any]:
    """run.json: the Run as stored (api_key_env holds a variable's name, never a key) plus
    where the run stands, in the same terms as `jqbench status --json`."""
    progress = run_progress(run, attempts, cancelled=cancelled)
    counts: dict[str, int] = {}
    for model in progress.models:
        for state, count in model.counts.items():
            counts[state] = counts.get(state, 0) + count
    document = run.model_dump(mode="json")
    report = next((a.report for a in attempts.values() if a.report and a.report.python), None)
    document["fingerprint"]["sandbox_python"] = report.python if report else None
    document["fingerprint"]["sandbox_pytest"] = report.pytest if report else None
    return {
        **document,
        "written_at": now.isoformat(),
        "progress": {
            "finished": progress.finished,
            "total": progress.total,
            "done": progress.done,
            "counts": counts,
            "models": {m.model: {"total": m.total, **m.counts} for m in progress.models},
        },
        "complete": progress.complete,
        "cancelled": progress.cancelled,
    }


def result_document(run: Run, attempts: AttemptMap, model: str, now: datetime,
                    loads: Sequence[ModelLoad] = ()) -> dict[str, Any]:
    """result_<model>.json: the original's schema (docs/challenge.md §5) for legacy, then the
    same keys for each further profile."""
    config = run.models[model]
    document: dict[str, Any] = {
        "model_id": config.model_id(model),
        "model_name": model,
        "port": port_of(config.base_url),
        "timestamp": now.isoformat(),
        "iterations": run.spec.iterations,
    }
    for profile in scored_profiles(attempts):
        stats = model_statistics(run, attempts, model, profile)
        suffix = "" if profile is Profile.LEGACY else f"_{profile.value}"
        if profile is Profile.LEGACY:
            document["total_duration_ms"] = stats.total_duration_ms
            document["incomplete_iterations"] = [
                i.model_dump(mode="json") for i in stats.incomplete
            ]
        document[f"statistics{suffix}"] = statistics_section(stats)
        document[f"scores{suffix}"] = scores_section(stats)
        document[f"levels{suffix}"] = levels_section(stats)
        document[f"spread{suffix}"] = {"std_dev": stats.std_dev, "mean_ci95": stats.mean_ci95,
                                       "score_bands": stats.score_bands}
    document["loads"] = [load.model_dump(mode="json", include=_LOAD_FIELDS)
                         for load in loads if load.model == model]
    document["load_s"] = round(sum(load["load_s"] for load in document["loads"]), 3)
    builds = server_builds(run, attempts, model)
    document["server_builds"] = builds
    document["warnings"] = (build_warnings(model, builds) + context_warnings(attempts, model)
                            + slot_warnings(model, loads))
    # The original's key order first; our additions after.
    order = ["model_id", "model_name", "port", "timestamp", "iterations", "total_duration_ms",
             "statistics", "scores", "levels", "incomplete_iterations"]
    return {key: document[key] for key in order} | document


_EPOCH = datetime.fromtimestamp(0, UTC)
_LOAD_FIELDS = {"server", "started_at", "load_s", "finished_at"}


def server_builds(run: Run, attempts: AttemptMap, model: str) -> list[str]:
    """The model server's build stamps, in the order they were first seen: at submit
    (`/props`), then on each answer (`system_fingerprint`). More than one: it changed."""
    facts = run.endpoints.get(model)
    seen = [facts.build_info] if facts and facts.build_info else []
    answered = sorted((a for u, a in attempts.items() if u.model == model and a.server_build),
                      key=lambda a: a.gen_finished_at or a.gen_started_at or _EPOCH)
    seen += [a.server_build for a in answered if a.server_build]
    return list(dict.fromkeys(seen))


def build_warnings(model: str, builds: list[str]) -> list[str]:
    if len(builds) < 2:
        return []
    return [f"the server of {model} changed its build during the run ({' -> '.join(builds)}): "
            "its scores may not be comparable across the change (attempt files: server_build)"]


def slot_warnings(model: str, loads: Sequence[ModelLoad]) -> list[str]:
    """One line when a shared server reported another slot count for `model` than its
    models.yaml `slots:` (which jqbench follows)."""
    for load in loads:
        if load.model == model and load.slots_reported not in (None, load.slots_configured):
            return [f"{model}: servers.{load.server} has slots: {load.slots_configured}, but "
                    f"the server reported {load.slots_reported} for this model: set slots: "
                    f"to {load.slots_reported} (fewer: requests queue on the server and their "
                    "times grow; more: the server idles)"]
    return []


def context_warnings(attempts: AttemptMap, model: str) -> list[str]:
    """What the model's first units said of the context (`worker.context_fit`), once each."""
    said = (a.context_warning for u, a in sorted(attempts.items()) if u.model == model)
    return [f"{model}: {text}" for text in dict.fromkeys(t for t in said if t)]


def statistics_section(stats: ModelStatistics) -> dict[str, Any]:
    return {
        "best_score": stats.best_score,
        "avg_score": stats.avg_score,
        "min_score": stats.min_score,
        "max_score": stats.max_score,
        "all_scores": stats.all_scores,
        "best_iteration": stats.best_iteration,
    }


def scores_section(stats: ModelStatistics) -> dict[str, Any] | None:
    """The best iteration's points per level, total, max and percentage; None without one."""
    if stats.best_iteration is None:
        return None
    section: dict[str, Any] = {entry.level.value: entry.points for entry in stats.best_levels}
    section |= {"total": stats.best_score, "max": stats.max_points,
                "percentage": stats.percentage}
    if stats.subset:
        section["subset"] = True
    return section


def levels_section(stats: ModelStatistics) -> list[dict[str, Any]]:
    return [
        {
            "level": entry.level.value,
            "tests_passed": entry.tests_passed,
            "tests_total": entry.tests_total,
            "duration_ms": entry.duration_ms,
            "error": entry.error,
            "tests_total_original": entry.tests_total_original,
        }
        for entry in stats.best_levels
    ]


def artifact_text(attempt: Attempt) -> str:
    """What the original saved for a level: the legacy job_queue.py, or L5's raw answer."""
    if attempt.level is Level.L5:
        return attempt.answer
    return attempt.extracted.get(Profile.LEGACY.value, {}).get(JOB_QUEUE_FILE, "")


def port_of(base_url: str) -> int | None:
    """The port written in the URL (None when it names none or is malformed)."""
    try:
        return urlsplit(base_url).port
    except ValueError:
        return None


def _write_artifacts(directory: Path, run_id: str, attempts: AttemptMap,
                     stats: ModelStatistics) -> list[Path]:
    """Write the best iteration's non-empty artifacts; drop ones a previous best left behind."""
    wanted: dict[Path, str] = {}
    if stats.best_iteration is not None:
        for entry in stats.best_levels:
            unit = Unit(run_id, stats.model, stats.best_iteration, entry.level)
            text = artifact_text(attempts[unit])
            if text.strip():
                wanted[directory / f"{entry.level.value}_job_queue.py"] = text
    if directory.is_dir():
        for stale in directory.iterdir():
            if _ARTIFACT_NAME.match(stale.name) and stale not in wanted:
                stale.unlink(missing_ok=True)  # another writer may have removed it
    for path, text in wanted.items():
        write_text_atomic(path, text)
    return list(wanted)


def _write_attempt(root: Path, attempt: Attempt) -> Path:
    path = (root / "attempts" / _safe_name(attempt.model, "model name")
            / f"iter{int(attempt.iteration)}" / f"{attempt.level.value}.json")
    write_text_atomic(path, _json(attempt.model_dump(mode="json")))
    return path


def _write_json(path: Path, document: Any) -> Path:
    write_text_atomic(path, _json(document))
    return path


def _json(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _key_order(item: tuple[Unit, Attempt]) -> tuple[str, int, int]:
    unit, _ = item
    return unit.model, unit.iteration, unit.level.number


def _safe_name(name: str, what: str) -> str:
    """Names become path components: refuse anything that could leave the results folder."""
    if not _SAFE_NAME.match(name) or name in {".", ".."}:
        raise ValueError(f"{what} {name!r} cannot be used in a file name")
    return name
