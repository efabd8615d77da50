"""Submitting and resuming runs: check the model servers, store the Run, send its first units.

Services only: they return data and report events through a callback; `orchestrator.cli`
renders. The Celery dispatcher and the endpoint client are imported when used, so commands
that only read records stay light.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from challenge.levels import LEVELS, Level
from orchestrator.planning import build_run, new_run_id, select_models, spec_differences
from orchestrator.progress import RunProgress, run_progress
from worker import chain
from worker.config import ModelConfig, load_models
from worker.errors import ConfigError
from worker.records import AttemptStatus, EndpointFacts, Run
from worker.sandbox import SandboxUnavailable, sandbox_image_facts
from worker.settings import Settings
from worker.store import RecordStore

if TYPE_CHECKING:
    from worker.dispatch import Dispatcher

Notify = Callable[[str], None]
"""Where a service reports what it is doing (the CLI prints it on stderr)."""


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class SubmitRequest:
    """What `jqbench submit` asks for."""

    models: list[str]
    """Model names from the models file, in order."""
    levels: list[Level] = field(default_factory=lambda: list(LEVELS))
    iterations: int = 1
    config_path: Path = Path("models.yaml")
    run_id: str | None = None
    """None: a new id from the UTC time and a random suffix."""


@dataclass(frozen=True)
class Submitted:
    run: Run
    units_sent: int
    existed: bool = False
    """The run id was stored already with the same spec: nothing was checked, and only
    what is due but carried by no message was sent (a submit that died before sending)."""


def open_store(settings: Settings) -> RecordStore:
    return RecordStore.from_url(settings.redis_url)


def load_run(store: RecordStore, run_id: str, where: str = "") -> Run:
    """The stored run, or a ConfigError naming what is known."""
    run = store.get_run(run_id)
    if run is None:
        suffix = f" at {where}" if where else ""
        raise ConfigError(f"no run {run_id!r} in Redis{suffix}")
    return run


def celery_dispatcher(settings: Settings) -> "Dispatcher":
    from worker.app import create_app
    from worker.dispatch import CeleryDispatcher

    return CeleryDispatcher(create_app(settings))


def check_models(settings: Settings, models: dict[str, ModelConfig], notify: Notify = _quiet
                 ) -> dict[str, EndpointFacts]:
    """Ask every model's server about itself (waiting while it loads)."""
    from orchestrator.endpoints import check_endpoint

    facts: dict[str, EndpointFacts] = {}
    for name, config in models.items():
        api_key = os.environ.get(config.api_key_env) if config.api_key_env else None
        if config.api_key_env and api_key is None:
            raise ConfigError(f"model {name}: environment variable {config.api_key_env} is not set")
        if config.server_kind == "commands":  # nothing runs until its driver starts it
            facts[name] = EndpointFacts(root_url=config.root_url)
            notify(f"model {name}: started on demand by the worker of servers.{config.server} "
                   "(kind commands); checked when it starts")
            continue
        facts[name] = check_endpoint(name, config, api_key=api_key,
                                     loading_wait_s=settings.loading_wait_s, on_loading=notify)
        notify(f"model {name}: {facts[name].root_url} ok, slots={facts[name].total_slots}, "
               f"build={facts[name].build_info}")
    return facts


def submit(settings: Settings, request: SubmitRequest, *, store: RecordStore | None = None,
           dispatcher: "Dispatcher | None" = None, notify: Notify = _quiet) -> Submitted:
    """Check the servers, store the run and send its first units.

    Submitting a stored run id again with the same spec sends only what is due and not on
    its way (`existed`): nothing after a complete submit, the first units after one that
    died between storing the run and sending; so retrying a submit is always safe.

    Raises:
        ConfigError: unknown model, bad models file, bad level, iterations or run id, or a
            run id stored with another spec.
        ServiceUnavailable: Redis or a model server does not answer.
    """
    models = select_models(load_models(request.config_path), request.models,
                           str(request.config_path))
    run_id = new_run_id() if request.run_id is None else request.run_id
    run = build_run(run_id, models, request.levels, request.iterations, {},
                    settings.sandbox_image)
    store = store or open_store(settings)
    stored = store.get_run(run.run_id)
    if stored is not None:
        differences = spec_differences(stored, run)
        if differences:
            raise ConfigError(f"run {run.run_id!r} exists already with another spec "
                              f"({'; '.join(differences)}); choose another --run-id")
        return Submitted(run=stored, units_sent=_send_missing(store, dispatcher, settings, stored),
                         existed=True)
    run.endpoints = check_models(settings, models, notify)
    run.fingerprint.sandbox_image_id = _sandbox_image_id(settings)
    if not store.save_run(run, new=True):
        raise ConfigError(f"run {run.run_id!r} was just submitted by someone else; "
                          "choose another --run-id")
    dispatcher = dispatcher or celery_dispatcher(settings)
    units = chain.first_units(run)
    for unit in units:
        dispatcher.send_generate(unit)
    return Submitted(run=run, units_sent=len(units))


@dataclass(frozen=True)
class Resumed:
    run: Run
    progress: RunProgress
    units_resumed: int
    """Records that failed on our side and were marked for another try (0: nothing sent)."""


def resume(settings: Settings, run_id: str, *, force: bool = False,
           store: RecordStore | None = None, dispatcher: "Dispatcher | None" = None) -> Resumed:
    """Send every first unit again: finished units only re-send their follow-ups (no model
    call), so each chain runs on to its first unit that failed on our side, which retries.

    Raises:
        ConfigError: unknown or cancelled run, or units still pending without `force`.
    """
    store = store or open_store(settings)
    run = load_run(store, run_id, settings.redis_url)
    if store.is_cancelled(run_id):
        raise ConfigError(f"run {run_id} was cancelled; submit a new run instead")
    attempts = store.get_attempts(run)
    progress = run_progress(run, attempts)
    if progress.complete:
        return Resumed(run, progress, 0)
    if not progress.done and not force:
        raise ConfigError(f"run {run_id} still has pending units; wait for them, or pass "
                          "--force (a unit still running may then call its model twice)")
    resumed = 0
    for attempt in attempts.values():
        if attempt.status is AttemptStatus.INFRA_ERROR:
            attempt.status = AttemptStatus.RESUMED
            store.save_attempt(attempt)
            resumed += 1
    dispatcher = dispatcher or celery_dispatcher(settings)
    store.watch_run(run_id)
    for unit in chain.first_units(run):
        dispatcher.send_generate(unit)
    return Resumed(run, progress, resumed)


def _send_missing(store: RecordStore, dispatcher: "Dispatcher | None", settings: Settings,
                  run: Run) -> int:
    """Send at once whatever of the run is due and carried by nothing; how many."""
    from worker.reconcile import reconcile

    store.watch_run(run.run_id)  # reconcile drops it again when nothing is due or cancelled
    return len(reconcile(store, dispatcher or celery_dispatcher(settings), grace_s=0,
                         run_ids=[run.run_id]))


def _sandbox_image_id(settings: Settings) -> str | None:
    """The image id when Docker answers here; score workers may run elsewhere, so optional."""
    try:
        return sandbox_image_facts(settings).image_id
    except SandboxUnavailable:
        return None
