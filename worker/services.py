"""What units need from the outside world, gathered once per process and injected, so tests
can substitute any part (a scripted model, a fake sandbox, a recording dispatcher)."""

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from worker.config import ModelConfig
from worker.dispatch import Dispatcher
from worker.lease import Lease, UnitBusy, held
from worker.llm import ChatReply
from worker.records import Attempt, AttemptStatus, InfraStage
from worker.sandbox import Sandbox
from worker.settings import Settings
from worker.store import LeaseLost, RecordStore, StoreUnavailable
from worker.unit import Stage, Unit

logger = logging.getLogger(__name__)

ChatFn = Callable[[str], ChatReply]
PromptCounter = Callable[[str], int | None]
"""A prompt -> the tokens its request fills in the server's context (None: unknown)."""
"""One chat completion: prompt in, reply out; raises `worker.llm.CallFailure`."""


@dataclass
class Services:
    store: RecordStore
    dispatcher: Dispatcher
    settings: Settings
    host: str
    """Recorded in attempts: `hostname:pid` of the worker process."""
    chat_factory: Callable[[ModelConfig, str], ChatFn] | None = None
    counter_factory: Callable[[ModelConfig, str], PromptCounter] | None = None
    """The server's exact prompt token count (None: the context is not checked)."""
    sandbox_factory: Callable[[], Sandbox] | None = None
    sleep: Callable[[float], None] = field(default=time.sleep)


class RunCancelled(Exception):
    """The run was cancelled while this unit was under way: it stops without a record."""


def stop_if_cancelled(services: "Services", unit: Unit) -> None:
    """Checked before every try of a model call or a sandbox start.

    Raises:
        RunCancelled: the run's cancel flag is set.
    """
    if services.store.is_cancelled(unit.run_id):
        raise RunCancelled(f"{unit.log_context}: the run was cancelled")


def log(unit: Unit, event: str) -> None:
    logger.info("%s %s", unit.log_context, event)


def record_internal_error(services: Services, unit: Unit, exc: BaseException,
                          enqueued_at: datetime | None, lease: Lease) -> Attempt:
    """An unexpected error of ours inside a unit becomes a recorded infra_error at stage
    internal (so `resume` sends it again), never a unit left without a final record.

    Raises:
        StoreUnavailable: the record could not be written either.
    """
    logger.error("%s internal error: %s", unit.log_context,
                 "".join(traceback.format_exception(exc)).strip())
    attempt = services.store.get_attempt(unit)
    if attempt is None:
        attempt = Attempt(run_id=unit.run_id, model=unit.model, iteration=unit.iteration,
                          level=unit.level, status=AttemptStatus.INFRA_ERROR,
                          enqueued_at=enqueued_at)
    elif attempt.status is AttemptStatus.SCORED:
        return attempt  # the failure came after the final record: nothing to change
    attempt.record_infra_error(InfraStage.INTERNAL, f"internal error: {type(exc).__name__}: "
                                                    f"{exc}")
    services.store.save_attempt(attempt, lease=(lease.stage, lease.token))
    return attempt


def run_unit(services: Services, unit: Unit, stage: Stage, enqueued_at: datetime | None,
             body: Callable[[Lease], Attempt | None]) -> Attempt | None:
    """Run one stage of a unit under its lease.

    Nothing runs for a cancelled run, nor while another live worker holds the unit (a
    duplicate delivery). An unexpected exception ends as a recorded internal error; a lost
    lease drops the work (another worker owns the unit); `StoreUnavailable` propagates, so
    the task is not acknowledged and comes back.
    """
    store = services.store
    if store.is_cancelled(unit.run_id):
        log(unit, f"{stage.value}: the run is cancelled, nothing to do")
        return None
    try:
        with held(store, unit, stage, services.settings.lease_s) as lease:
            try:
                return body(lease)
            except (StoreUnavailable, LeaseLost, RunCancelled):
                raise
            except Exception as exc:
                return record_internal_error(services, unit, exc, enqueued_at, lease)
    except UnitBusy:
        log(unit, f"{stage.value}: another worker holds this unit; duplicate delivery dropped")
    except (LeaseLost, RunCancelled) as exc:
        log(unit, f"{stage.value}: {exc}")
    return None
