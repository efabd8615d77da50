"""submit, status and results: the parts that talk to Redis and the model servers."""

import os
from pathlib import Path

from rich.table import Table

from challenge.levels import Level
from orchestrator.console import err, out
from orchestrator.endpoints import check_endpoint
from orchestrator.planning import build_run, enqueue_run, new_run_id, select_models
from orchestrator.progress import run_progress
from orchestrator.results import write_results
from orchestrator.statistics import model_statistics, scored_profiles
from orchestrator.waiting import wait_for_run
from worker.config import load_models
from worker.dispatch import CeleryDispatcher
from worker.errors import ConfigError
from worker.records import AttemptStatus, Run
from worker.settings import Settings
from worker.store import RecordStore


def load_run(settings: Settings, run_id: str) -> tuple[RecordStore, Run]:
    store = RecordStore.from_url(settings.redis_url)
    run = store.get_run(run_id)
    if run is None:
        raise ConfigError(f"no run {run_id!r} in Redis at {settings.redis_url}")
    return store, run


def submit_run(
    settings: Settings,
    model_names: list[str],
    levels: list[Level],
    iterations: int,
    config_path: Path,
    run_id: str | None,
    output: Path,
    wait: bool,
) -> int:
    available = load_models(config_path)
    models = select_models(available, model_names, str(config_path))
    store = RecordStore.from_url(settings.redis_url)
    run_id = run_id or new_run_id()
    if store.get_run(run_id) is not None:
        raise ConfigError(f"run {run_id!r} exists already; choose another --run-id")
    endpoints = {}
    for name, config in models.items():
        api_key = os.environ.get(config.api_key_env) if config.api_key_env else None
        if config.api_key_env and api_key is None:
            raise ConfigError(f"model {name}: environment variable {config.api_key_env} is not set")
        endpoints[name] = check_endpoint(
            name, config, api_key=api_key,
            on_loading=lambda msg: err.print(msg, markup=False),
        )
        facts = endpoints[name]
        err.print(f"model {name}: {facts.root_url} ok, slots={facts.total_slots}, "
                  f"build={facts.build_info}", markup=False, highlight=False)
    run = build_run(run_id, models, levels, iterations, endpoints, settings.sandbox_image)
    run.fingerprint.sandbox_image_id = _sandbox_image_id(settings)
    store.save_run(run)

    from worker.app import create_app

    sent = enqueue_run(run, CeleryDispatcher(create_app(settings)))
    err.print(f"run {run_id}: {len(models)} model(s) x {iterations} iteration(s) x "
              f"{len(run.spec.levels)} level(s); {sent} first units enqueued (each "
              "L1 -> L2 -> L3 chain goes on by itself)", markup=False, highlight=False)
    out.print(run_id, markup=False, highlight=False)
    if not wait:
        return 0
    return _follow(store, run, output)


def resume_run(settings: Settings, run_id: str, output: Path, wait: bool, force: bool) -> int:
    """Send every first unit again: finished units only re-send their follow-ups (no model
    call), so each chain runs on to its first unit that failed on our side, which retries."""
    store, run = load_run(settings, run_id)
    progress = run_progress(run, store.get_attempts(run))
    if progress.complete:
        err.print(f"run {run_id} is complete; nothing to resume", markup=False, highlight=False)
        return 0
    if not progress.done and not force:
        raise ConfigError(f"run {run_id} still has pending units; wait for them, or pass "
                          "--force (a unit still running may then call its model twice)")
    from worker.app import create_app

    resumed = 0
    for attempt in store.get_attempts(run).values():
        if attempt.status is AttemptStatus.INFRA_ERROR:
            attempt.status = AttemptStatus.RESUMED
            store.save_attempt(attempt)
            resumed += 1
    enqueue_run(run, CeleryDispatcher(create_app(settings)))
    err.print(f"run {run_id}: resumed {resumed} unit(s) that failed on our side",
              markup=False, highlight=False)
    return _follow(store, run, output) if wait else 0


def _follow(store: RecordStore, run: Run, output: Path) -> int:
    try:
        progress = wait_for_run(store, run)
    except KeyboardInterrupt:
        err.print(f"detached; the run goes on. Follow it with: jqbench status {run.run_id}",
                  markup=False, highlight=False)
        return 130
    write_and_summarise(store, run, output)
    if not progress.complete:
        err.print(f"run {run.run_id} ended incomplete (infrastructure errors); see "
                  f"jqbench status {run.run_id}, then jqbench resume {run.run_id}",
                  markup=False, highlight=False)
        return 1
    return 0


def write_and_summarise(store: RecordStore, run: Run, output: Path) -> None:
    attempts = store.get_attempts(run)
    paths = write_results(run, attempts, output)
    table = Table(title=f"run {run.run_id}")
    for column in ("model", "profile", "best", "avg", "min", "max", "all scores", "incomplete"):
        table.add_column(column)
    for model in run.spec.models:
        for profile in scored_profiles(attempts):
            stats = model_statistics(run, attempts, model, profile)
            table.add_row(
                model, profile.value, _num(stats.best_score), _num(stats.avg_score),
                _num(stats.min_score), _num(stats.max_score),
                ", ".join(_num(s) for s in stats.all_scores), str(len(stats.incomplete)),
            )
    out.print(table)
    err.print(f"results written to {paths.root}", markup=False, highlight=False)


def _sandbox_image_id(settings: Settings) -> str | None:
    """The image id when Docker answers here; score workers may run elsewhere, so optional."""
    from worker._docker import DockerSandbox
    from worker.sandbox import SandboxUnavailable

    try:
        return DockerSandbox(settings.sandbox_image).image_facts().image_id
    except SandboxUnavailable:
        return None


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}"
