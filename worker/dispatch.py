"""Sending units of work by task name: deterministic task ids, one queue per model plus `score`.

The sender never imports the tasks' module (nor openai or docker): the orchestrator enqueues
through this module with a bare Celery app.
"""

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from worker.records import utc_now
from worker.unit import Stage, Unit

if TYPE_CHECKING:
    from celery import Celery

GENERATE_TASK = "jqbench.generate"
DRIVE_TASK = "jqbench.drive"
SCORE_TASK = "jqbench.score"
SCORE_QUEUE = "score"


def llm_queue(model: str) -> str:
    """The queue of one model's generate tasks."""
    return f"llm.{model}"


GPU_QUEUE_PREFIX = "gpu."


def drive_task_id(run_id: str, server: str) -> str:
    """The drive task's id: the same for every send, so the reconciler can look for it."""
    return f"{run_id}:{server}:drive"


def gpu_queue(server: str) -> str:
    """The queue of a shared GPU server's drive tasks (`worker.driver`), read by one worker
    on that GPU's host."""
    return f"{GPU_QUEUE_PREFIX}{server}"


class Dispatcher(Protocol):
    def send_generate(self, unit: Unit) -> None: ...

    def send_score(self, unit: Unit) -> None: ...


def send_stage(dispatcher: Dispatcher, unit: Unit, stage: Stage) -> None:
    """Send the task of one stage of a unit."""
    if stage is Stage.GENERATE:
        dispatcher.send_generate(unit)
    else:
        dispatcher.send_score(unit)


def unit_queues(models: Iterable[str]) -> list[str]:
    """Every queue that carries a run's units."""
    return [llm_queue(model) for model in models] + [SCORE_QUEUE]


class CeleryDispatcher:
    """Enqueues by task name on the app's broker."""

    def __init__(self, app: "Celery") -> None:
        self._app = app

    def send_generate(self, unit: Unit) -> None:
        self._send(GENERATE_TASK, llm_queue(unit.model), unit, Stage.GENERATE)

    def send_score(self, unit: Unit) -> None:
        self._send(SCORE_TASK, SCORE_QUEUE, unit, Stage.SCORE)

    def send_drive(self, run_id: str, server: str) -> None:
        self._app.send_task(DRIVE_TASK, args=(run_id, server),
                            kwargs={"enqueued_at": utc_now().isoformat()},
                            task_id=drive_task_id(run_id, server), queue=gpu_queue(server))

    def _send(self, name: str, queue: str, unit: Unit, stage: Stage) -> None:
        self._app.send_task(
            name,
            args=(unit.run_id, unit.model, unit.iteration, unit.level.value),
            kwargs={"enqueued_at": utc_now().isoformat()},
            task_id=unit.task_id(stage),
            queue=queue,
        )
