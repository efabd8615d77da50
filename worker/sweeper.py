"""The sweeper: units whose lease lapsed or whose delivery went stale are sent again,
sandboxes of dead workers removed (lost messages: `worker.reconcile`).

Every worker process runs one (a daemon thread started when the worker is ready), so the
sweep survives any one process dying; `RecordStore.claim_lapsed_leases` hands each lapsed
unit to exactly one sweeper. A re-sent unit is idempotent: a generate whose record exists
only re-sends its follow-ups, a scored unit is not scored again.
"""

import logging
import threading
from collections.abc import Callable

from worker.dispatch import Dispatcher, send_stage
from worker.records import AttemptStatus
from worker.sandbox import SandboxUnavailable, sweep_orphaned_sandboxes
from worker.settings import Settings
from worker.store import RecordStore, StoreUnavailable
from worker.unit import Stage, Unit, parse_task_id

logger = logging.getLogger(__name__)

Holder = Callable[[Unit, Stage], str | None]


def needs_resend(store: RecordStore, unit: Unit, stage: Stage) -> bool:
    """Whether a unit whose lease lapsed has work left that only a new delivery will do.

    A final infra_error waits for `resume`; a cancelled run waits for nothing.
    """
    if store.is_cancelled(unit.run_id):
        return False
    attempt = store.get_attempt(unit)
    if attempt is None:
        return stage is Stage.GENERATE
    if attempt.status is AttemptStatus.INFRA_ERROR:
        return False
    if stage is Stage.SCORE:
        return attempt.status is not AttemptStatus.SCORED
    return True  # a generate with a record re-sends its follow-ups, without a model call


def sweep_leases(store: RecordStore, dispatcher: Dispatcher, now: float | None = None
                 ) -> list[tuple[Unit, Stage]]:
    """Send again every unit whose lease lapsed and that still has work; returns them."""
    resent = []
    for unit, stage in store.claim_lapsed_leases(now):
        if not needs_resend(store, unit, stage):
            continue
        send_stage(dispatcher, unit, stage)
        logger.warning("%s stage=%s: lease lapsed (worker lost); sent again", unit.log_context,
                       stage.value)
        resent.append((unit, stage))
    return resent


def sweep_sandboxes(store: RecordStore, settings: Settings) -> list[str]:
    """Remove sandboxes whose unit's lease is no longer their worker's; their ids."""
    store_id = store.store_id()
    return sweep_orphaned_sandboxes(
        settings, lambda label: orphaned(label, store.lease_holder, store_id))


def sweep_stale_deliveries(store: RecordStore, dispatcher: Dispatcher, older_than_s: float,
                           now: float | None = None) -> list[tuple[Unit, Stage]]:
    """Send again the units of deliveries that stayed unacknowledged for `older_than_s`
    without their unit ever holding a lease: the worker died after receiving the message
    but before the unit started (Redis would bring it back only after its visibility
    timeout, six hours by default). The stale message, when it comes back, is a no-op."""
    resent = []
    for tag, task_id in store.stale_deliveries(older_than_s, now):
        try:
            unit, stage = parse_task_id(task_id)
        except ValueError:
            continue  # not one of our tasks
        if store.lease_holder(unit, stage) is not None or not needs_resend(store, unit, stage):
            continue
        if not store.claim_resend(tag, ttl_s=24 * 3600):
            continue
        send_stage(dispatcher, unit, stage)
        logger.warning("%s stage=%s: delivered %g s ago to a worker that never started it; "
                       "sent again", unit.log_context, stage.value, older_than_s)
        resent.append((unit, stage))
    return resent


def orphaned(lease_label: str, holder: Holder, store_id: str) -> bool:
    """Whether a sandbox labelled `{store id}/{unit key}:{stage}={token}` lost its lease; a
    sandbox of another record store (another deployment on this Docker daemon) never is."""
    owner, _, lease = lease_label.partition("/")
    if owner != store_id:
        return False  # not ours to judge
    member, _, token = lease.rpartition("=")
    try:
        unit, which = parse_task_id(member)
    except ValueError:
        return False
    return holder(unit, which) != token


class Sweeper(threading.Thread):
    """Sweeps every `interval_s` until stopped; errors are logged, never fatal."""

    def __init__(self, sweep: Callable[[], object], interval_s: float) -> None:
        super().__init__(name="jqbench-sweeper", daemon=True)
        self._sweep = sweep
        self._interval_s = interval_s
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self._interval_s):
            try:
                self._sweep()
            except (StoreUnavailable, SandboxUnavailable) as exc:
                logger.warning("sweep failed: %s", exc)
            except Exception:
                logger.exception("sweep failed")
