"""The reconciler: what the records say is due but no message or lease carries is sent again.

Every worker's sweeper runs it (worker.tasks), and `submit` runs it at once for a run id
submitted again. Light on purpose (no Celery, openai or Docker import): the orchestrator
uses it.
"""

import logging

from worker import chain
from worker.dispatch import Dispatcher, send_stage, unit_queues
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
    pending: list[list[tuple[Unit, Stage]]] = []
    models: set[str] = set()
    for run_id in store.watched_runs() if run_ids is None else run_ids:
        run = store.get_run(run_id)
        due = ([] if run is None or store.is_cancelled(run_id)
               else chain.due_stages(run, store.get_attempts(run).get))
        if run is None or not due:
            store.unwatch_run(run_id)
            continue
        pending.append(due)
        models.update(run.spec.models)
    if not pending:
        return []
    carried = store.carried_task_ids(unit_queues(sorted(models)))  # once for all runs
    resent: list[tuple[Unit, Stage]] = []
    for due in pending:
        store.forget_orphans([unit.task_id(stage) for unit, stage in due
                              if unit.task_id(stage) in carried])
        for unit, stage in due:
            if unit.task_id(stage) in carried:
                continue
            if grace_s > 0 and not store.claim_orphan(unit.task_id(stage), grace_s, now):
                continue
            send_stage(dispatcher, unit, stage)
            logger.warning("%s stage=%s: due, but no message or lease carries it; sent again",
                           unit.log_context, stage.value)
            resent.append((unit, stage))
    return resent
