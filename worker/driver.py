"""The driver of a shared GPU server: its models' units run model by model (model-affine).

A router or llama-swap holds only `models_max` models at once and swaps on demand; sent two
models' requests at once it would swap for every request. So for models that share such a
server (`ModelConfig.shares_a_server`) a generate task does not call the model: it asks for
a driver (`request_drive`), and one drive task per (run, server), on the server's queue
`gpu.<server>`, does the work under the server's lock (a later run's driver waits for it):

    for each of the run's models on the server, in the run's order:
        what the records say is due to generate for it? none: next model
        load it (recorded: `ModelLoad`), then run those units on `slots` threads, each
        chain's next link started in-process as soon as its previous link is recorded;
        read the records again until nothing new is due; unload it
    again from the first model, until a whole pass finds nothing due

Every unit runs as a generate task would (`generate_unit`: its lease, an idempotent
record, the score task sent to Celery). "Is this model done?" comes from the records only.
A driver that dies loses its lock when its TTL lapses; its units' leases lapse too, and the
sweepers send them again, which asks for a new driver (docs/architecture.md, Shared GPU
servers, has the reasons for this shape).
"""

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import replace
from pathlib import Path

import redis.lock
from redis.exceptions import LockError

from worker import chain
from worker.config import LOCAL_MODELS_FILE_ENV, ModelConfig, server_commands
from worker.dispatch import Dispatcher
from worker.errors import ConfigError
from worker.generate import generate_unit
from worker.inflight import slot_limit
from worker.lease import Lease, renewing
from worker.model_loading import ModelLoadFailed, load_model, server_slots, unload_model
from worker.records import Attempt, AttemptStatus, InfraStage, ModelLoad, Run, utc_now
from worker.server_process import start_server
from worker.services import Services, run_unit
from worker.store import driver_token
from worker.unit import Stage, Unit

logger = logging.getLogger(__name__)

#: How often a driver waiting for its server's lock looks again (and at the cancel flag).
LOCK_POLL_S = 1.0
#: Tries to load a model before its due units are recorded as infra errors.
LOAD_TRIES = 3


def request_drive(services: Services, run_id: str, server: str,
                  send: Callable[[str, str], None]) -> bool:
    """Make sure a drive task for (run, server) is queued or running; True when this call
    sent one. One queued task is enough: a driver reads the records when it starts."""
    if services.store.claim_drive_send(run_id, server, ttl_s=services.settings.lease_s * 30):
        send(run_id, server)
        return True
    return False


def drive(services: Services, run_id: str, server: str,
          sleep: Callable[[float], None] = time.sleep) -> list[ModelLoad]:
    """Run every unit of `run_id` due on `server`, model by model; returns its loads."""
    store = services.store
    run = store.get_run(run_id)
    if run is None:
        logger.info("drive %s on %s: unknown run", run_id, server)
        return []
    ttl_s = services.settings.lease_s
    lock = store.driver_lock(server, ttl_s)
    while not lock.acquire(blocking=False, token=driver_token(run_id)):
        if store.is_cancelled(run_id):
            store.clear_drive_send(run_id, server)
            return []
        store.mark_drive_waiting(run_id, server, ttl_s)  # lapses soon if this process dies
        sleep(LOCK_POLL_S)
    try:
        with renewing(lambda: _renew(lock), ttl_s / 3, f"driver lock of {server}") as lost:
            store.clear_drive_send(run_id, server)
            return _drive(services, run, server, lost)
    finally:
        with suppress(LockError):  # it lapsed: nothing of ours to release
            lock.release()


def _renew(lock: redis.lock.Lock) -> bool:
    try:
        lock.reacquire()
    except LockError:
        return False
    return True


def _drive(services: Services, run: Run, server: str, lost: threading.Event
           ) -> list[ModelLoad]:
    models = [m for m in run.spec.models if run.shared_server(m) == server]
    loads: list[ModelLoad] = []
    while True:
        worked = False
        for model in models:
            if lost.is_set() or services.store.is_cancelled(run.run_id):
                return loads
            if not _due(services, run, model):
                continue
            load = _run_model(services, run, server, model)
            if load is not None:
                loads.append(load)
                worked = True
        if not worked:
            return loads


def _due(services: Services, run: Run, model: str) -> list[Unit]:
    """`model`'s units due to generate, by the records alone."""
    lookup = services.store.get_attempts(run).get
    return [unit for unit, stage in chain.due_stages(run, lookup)
            if stage is Stage.GENERATE and unit.model == model]


def _run_model(services: Services, run: Run, server: str, model: str) -> ModelLoad | None:
    """Load `model`, run its due units until none is left, unload it. None: not loaded
    (its due units are recorded as infra errors, for `resume`)."""
    config = run.models[model]
    api_key = os.environ.get(config.api_key_env) if config.api_key_env else None
    started_at = utc_now()
    try:
        load_s, unload = _load(services, server, config, model, api_key)
    except ModelLoadFailed as exc:
        logger.error("run=%s model=%s: load failed on %s: %s", run.run_id, model, server, exc)
        for unit in _due(services, run, model):
            _record_load_failure(services, unit, str(exc))
        return None
    logger.info("run=%s model=%s: loaded on %s in %.1f s", run.run_id, model, server, load_s)
    load = ModelLoad(run_id=run.run_id, server=server, model=model, started_at=started_at,
                     load_s=load_s, slots_configured=config.slots,
                     slots_reported=server_slots(config, model, api_key))
    if load.slots_reported not in (None, config.slots):
        logger.warning("run=%s model=%s: servers.%s has slots: %d, the server reports %s",
                       run.run_id, model, server, config.slots, load.slots_reported)
    try:
        _run_units(services, run, model)
    finally:
        load.finished_at = utc_now()
        services.store.add_load(load)
        try:
            unload()
        except ModelLoadFailed as exc:  # the next load evicts it anyway
            logger.warning("run=%s model=%s: unload failed: %s", run.run_id, model, exc)
    return load


def _load(services: Services, server: str, config: ModelConfig, model: str,
          api_key: str | None) -> tuple[float, Callable[[], None]]:
    """Load `model` (three tries); its load time and how to unload it."""
    for attempt in range(1, LOAD_TRIES + 1):
        try:
            if config.server_kind == "commands":
                process, load_s = start_server(_local_command(server, model), config.root_url,
                                               services.settings.loading_wait_s)
                return load_s, process.stop
            load_s = load_model(config, model, api_key)
            return load_s, lambda: unload_model(config, model, api_key)
        except ModelLoadFailed:
            if attempt == LOAD_TRIES:
                raise
            services.sleep(services.settings.infra_backoff_s * attempt)
    raise AssertionError("unreachable")


def _local_command(server: str, model: str) -> list[str]:
    """`model`'s start command from this host's own models file (never from the run)."""
    path = os.environ.get(LOCAL_MODELS_FILE_ENV)
    if not path:
        raise ModelLoadFailed(f"servers.{server} is kind commands, and this worker has no "
                              f"commands: start it with python -m worker --server {server} "
                              "--config <this host's models file>")
    try:
        return server_commands(Path(path), server)[model]
    except ConfigError as exc:
        raise ModelLoadFailed(str(exc)) from None
    except KeyError:
        raise ModelLoadFailed(f"{path}: model {model} is not on servers.{server}") from None


def _record_load_failure(services: Services, unit: Unit, error: str) -> None:
    def body(lease: Lease) -> Attempt:
        attempt = Attempt(run_id=unit.run_id, model=unit.model, iteration=unit.iteration,
                          level=unit.level, status=AttemptStatus.INFRA_ERROR,
                          gen_host=services.host)
        attempt.record_infra_error(InfraStage.GENERATE, f"the server did not load the model: "
                                                        f"{error}")
        services.store.save_attempt(attempt, lease=(lease.stage, lease.token))
        return attempt

    run_unit(services, unit, Stage.GENERATE, None, body)


class _InProcessChains:
    """A dispatcher for the driver's units: the next link of one of the model's chains runs
    on the driver's own threads at once; score tasks (and anything else) go to Celery."""

    def __init__(self, outer: Dispatcher, model: str, start: Callable[[Unit], None]) -> None:
        self._outer, self._model, self._start = outer, model, start

    def send_generate(self, unit: Unit) -> None:
        if unit.model == self._model:
            self._start(unit)
        else:
            self._outer.send_generate(unit)

    def send_score(self, unit: Unit) -> None:
        self._outer.send_score(unit)


def _run_units(services: Services, run: Run, model: str) -> None:
    """Every due unit of `model` on `slots` threads until the records show none new."""
    started: set[Unit] = set()
    pending: list[Future[Attempt | None]] = []
    guard = threading.Lock()
    with ThreadPoolExecutor(slot_limit(run, model), thread_name_prefix=f"drive-{model}") as pool:

        def start(unit: Unit) -> None:
            with guard:
                if unit in started:
                    return
                started.add(unit)
                pending.append(pool.submit(generate_unit, local, unit, utc_now()))

        local = replace(services, dispatcher=_InProcessChains(services.dispatcher, model,
                                                              start))
        while True:
            fresh = [unit for unit in _due(services, run, model) if unit not in started]
            if not fresh:
                return
            for unit in fresh:
                start(unit)
            while True:
                with guard:
                    waiting = [f for f in pending if not f.done()]
                if not waiting:
                    break
                for future in waiting:
                    future.result()  # a unit records its own failures; Redis's propagate
