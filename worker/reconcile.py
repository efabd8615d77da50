"""The reconciler: what the records say is due but no message or lease carries is sent again.

Every worker's sweeper runs it (worker.tasks), and `submit` runs it at once for a run id
submitted again. Light on purpose (no Celery, openai or Docker import): the orchestrator
uses it.
"""

import logging

from worker import chain
from worker.dispatch import Dispatcher, drive_task_id, gpu_queue, send_stage, unit_queues
from worker.records import Run
from worker.store import RecordStore
from worker.unit import Stage, Unit

logger = logging.getLogger(__name__)


def reconcile(store: RecordStore, dispatcher: Dispatcher, grace_s: float,
              now: float | None = None, run_ids: list[str] | None = None
              ) -> list[tuple[Unit, Stage]]:
    """Send again what the records say is due but nothing carries: no message in the
    broker (queued or delivered) and no lease. This catches what the other sweeps cannot
    see, such as messages Redis itself lost (a restart without append-only persistence)
    and a run stored by a submit that died before it sent anything.

    A unit stage is sent once it was seen orphaned on two sweeps at least `grace_s` apart
    (0: at once, as a resubmit does). Runs with nothing due leave the watch list.
    """
    pending: list[tuple[Run, list[tuple[Unit, Stage]]]] = []
    queues: set[str] = set()
    for run_id in store.watched_runs() if run_ids is None else run_ids:
        run = store.get_run(run_id)
        due = ([] if run is None or store.is_cancelled(run_id)
               else chain.due_stages(run, store.get_attempts(run).get))
        if run is None or not due:
            store.unwatch_run(run_id)
            continue
        pending.append((run, due))
        queues.update(unit_queues(run.spec.models))
    if not pending:
        return []
    carried = store.carried_task_ids(sorted(queues))  # once for all runs
    resent: list[tuple[Unit, Stage]] = []
    for run, due in pending:
        carried |= _driven(store, run, due)
        store.forget_orphans([unit.task_id(stage) for unit, stage in due
                              if unit.task_id(stage) in carried])
        for unit, stage in due:
            if unit.task_id(stage) in carried:
                continue
            if grace_s > 0 and not store.claim_orphan(unit.task_id(stage), grace_s, now):
                continue
            if stage is Stage.GENERATE and (server := run.shared_server(unit.model)):
                store.clear_drive_send(run.run_id, server)  # so its generate asks for a driver
            send_stage(dispatcher, unit, stage)
            logger.warning("%s stage=%s: due, but no message or lease carries it; sent again",
                           unit.log_context, stage.value)
            resent.append((unit, stage))
    return resent


def _servers(run: Run) -> set[str]:
    return {server for model in run.spec.models if (server := run.shared_server(model))}


def _driven(store: RecordStore, run: Run, due: list[tuple[Unit, Stage]]) -> set[str]:
    """Task ids of due generates that a driver of their shared server carries (`worker.driver`:
    their own task only asked for one): its drive task waits in the server's queue, a driver
    of this run waits for the server's lock (a mark it renews), or holds it (a lock it
    renews). A drive task delivered to a worker that died carries nothing: Redis would
    bring it back only after hours. Its units are then orphans like any lost message: they
    are sent again and ask for a driver again."""
    shared = _servers(run)
    if not shared:  # most runs: no Redis read at all
        return set()
    queued = store.queued_task_ids([gpu_queue(server) for server in shared])
    servers = {server for server in shared
               if drive_task_id(run.run_id, server) in queued
               or store.drive_waiting(run.run_id, server)
               or store.driver_of(server) == run.run_id}
    return {unit.task_id(stage) for unit, stage in due
            if stage is Stage.GENERATE and run.shared_server(unit.model) in servers}
