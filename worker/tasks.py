"""Thin Celery tasks: parse arguments, build the services once per process, call the unit.

When the record store fails (Redis down), the task is rejected with requeue instead of
acknowledged, so it comes back; every other failure inside a unit is recorded by the unit.
Every worker also runs a sweeper (worker.sweeper) from the moment it is ready, and a pool
process that stops removes the sandboxes it started.
"""

import os
import socket
import time
from datetime import datetime
from functools import cache
from typing import Any

from celery.exceptions import Reject
from celery.signals import worker_process_shutdown, worker_ready, worker_shutdown
from celery.utils.log import get_task_logger

from challenge.levels import Level
from worker.app import app
from worker.config import ModelConfig
from worker.dispatch import (
    DRIVE_TASK,
    GENERATE_TASK,
    SCORE_QUEUE,
    SCORE_TASK,
    CeleryDispatcher,
)
from worker.driver import drive, request_drive
from worker.errors import RedisUnavailable
from worker.generate import generate_unit
from worker.llm import LlmClient
from worker.reconcile import reconcile
from worker.sandbox import Sandbox, SandboxUnavailable, remove_sandboxes, scoring_sandbox
from worker.score import score_unit
from worker.services import ChatFn, PromptCounter, Services
from worker.settings import Settings
from worker.store import RecordStore
from worker.sweeper import Sweeper, sweep_leases, sweep_sandboxes, sweep_stale_deliveries
from worker.unit import Unit

logger = get_task_logger(__name__)


_started_sandboxes: set[str] = set()
"""Worker ids this process labelled sandboxes with (removed when it stops)."""


@cache
def _services() -> Services:
    settings: Settings = app.conf.jqbench_settings
    host = f"{socket.gethostname()}:{os.getpid()}"
    worker_id = settings.worker_id or host
    clients: dict[str, tuple[ModelConfig, LlmClient]] = {}

    def client(config: ModelConfig, name: str) -> LlmClient:
        """One client (and connection pool) per model and config, kept for the process."""
        cached = clients.get(name)
        if cached is None or cached[0] != config:
            if cached is not None:
                cached[1].close()
            api_key = os.environ.get(config.api_key_env) if config.api_key_env else None
            cached = clients[name] = (config, LlmClient(config, name, api_key))
        return cached[1]

    def chat_factory(config: ModelConfig, name: str) -> ChatFn:
        return client(config, name).chat

    def counter_factory(config: ModelConfig, name: str) -> PromptCounter:
        return client(config, name).count_prompt_tokens

    store = RecordStore.from_url(settings.redis_url)

    def sandbox_factory() -> Sandbox:
        _started_sandboxes.add(worker_id)
        return scoring_sandbox(settings, worker_id=worker_id, store=store)

    return Services(
        store=store,
        dispatcher=CeleryDispatcher(app),
        settings=settings,
        host=host,
        chat_factory=chat_factory,
        counter_factory=counter_factory,
        sandbox_factory=sandbox_factory,
    )


def _unit(run_id: str, model: str, iteration: int, level: str) -> Unit:
    return Unit(run_id, model, int(iteration), Level(level))


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _requeue(what: str, exc: RedisUnavailable) -> Reject:
    """Back off briefly (Redis is down or failing), then hand the task back unacknowledged."""
    logger.warning("%s record store unavailable, task handed back: %s", what, exc)
    time.sleep(min(5.0, app.conf.jqbench_settings.infra_backoff_s))
    return Reject(str(exc), requeue=True)


@app.task(name=GENERATE_TASK)
def generate(run_id: str, model: str, iteration: int, level: str,
             enqueued_at: str | None = None) -> None:
    """One unit; on a shared GPU server, a request for its driver instead."""
    unit = _unit(run_id, model, iteration, level)
    try:
        services = _services()
        run = services.store.get_run(run_id)
        server = run.shared_server(model) if run and model in run.models else None
        if server is not None:
            if request_drive(services, run_id, server, CeleryDispatcher(app).send_drive):
                logger.info("%s: on shared server %s: its driver was asked for",
                            unit.log_context, server)
            return
        generate_unit(services, unit, _when(enqueued_at))
    except RedisUnavailable as exc:
        raise _requeue(unit.log_context, exc) from exc


@app.task(name=DRIVE_TASK)
def drive_server(run_id: str, server: str, enqueued_at: str | None = None) -> None:
    """A run's units on one shared GPU server, model by model (`worker.driver`)."""
    try:
        loads = drive(_services(), run_id, server)
    except RedisUnavailable as exc:
        raise _requeue(f"drive {run_id} on {server}:", exc) from exc
    logger.info("drive %s on %s: done, %d model load(s)", run_id, server, len(loads))


@app.task(name=SCORE_TASK)
def score(run_id: str, model: str, iteration: int, level: str,
          enqueued_at: str | None = None) -> None:
    unit = _unit(run_id, model, iteration, level)
    try:
        score_unit(_services(), unit, _when(enqueued_at))
    except RedisUnavailable as exc:
        raise _requeue(unit.log_context, exc) from exc


_sweeper: list[Sweeper] = []


@worker_ready.connect
def _start_sweeper(**_: Any) -> None:
    """Sweep lapsed leases, stale deliveries and lost messages (and, where Docker answers,
    orphaned sandboxes) in this worker."""
    settings: Settings = app.conf.jqbench_settings
    store = RecordStore.from_url(settings.redis_url, check=False)
    dispatcher = CeleryDispatcher(app)
    docker_ok = [True]
    # A score worker's Docker, or one that answered before, is only down for now (restarting):
    # the next sweep tries again. Only a worker whose Docker never answered gives up on it.
    docker_seen = [SCORE_QUEUE in app.amqp.queues.consume_from]

    def sweep() -> None:
        sweep_leases(store, dispatcher)
        sweep_stale_deliveries(store, dispatcher, settings.lease_s)
        reconcile(store, dispatcher, grace_s=settings.sweep_interval_s)
        if docker_ok[0]:
            try:
                sweep_sandboxes(store, settings)
                docker_seen[0] = True
            except SandboxUnavailable as exc:
                if docker_seen[0]:
                    logger.warning("sandbox sweep failed, tried again next sweep: %s", exc)
                else:
                    docker_ok[0] = False  # no Docker on this host: a model worker's
    sweeper = Sweeper(sweep, settings.sweep_interval_s)
    sweeper.start()
    _sweeper.append(sweeper)


@worker_shutdown.connect
def _stop_sweeper(**_: Any) -> None:
    for sweeper in _sweeper:
        sweeper.stopped.set()


@worker_process_shutdown.connect
def _remove_own_sandboxes(**_: Any) -> None:
    """A pool process that stops removes the sandbox containers it started (normally none
    are left: each is removed when its scoring ends)."""
    if _started_sandboxes:
        try:
            remove_sandboxes(app.conf.jqbench_settings, sorted(_started_sandboxes))
        except SandboxUnavailable as exc:
            logger.warning("could not remove this worker's sandboxes: %s", exc)
