"""Sending units of work: deterministic task ids, one queue per model server plus `score`."""

from datetime import datetime
from typing import Protocol

from celery import Celery

from challenge.levels import Level
from worker.records import task_id, utc_now

GENERATE_TASK = "jqbench.generate"
SCORE_TASK = "jqbench.score"
SCORE_QUEUE = "score"


def llm_queue(model: str) -> str:
    return f"llm.{model}"


class Dispatcher(Protocol):
    def send_generate(self, run_id: str, model: str, iteration: int, level: Level) -> None: ...

    def send_score(self, run_id: str, model: str, iteration: int, level: Level) -> None: ...


class CeleryDispatcher:
    """Enqueues by task name, so the sender never imports the tasks' dependencies."""

    def __init__(self, app: Celery) -> None:
        self._app = app

    def send_generate(self, run_id: str, model: str, iteration: int, level: Level) -> None:
        self._send(GENERATE_TASK, llm_queue(model), run_id, model, iteration, level, "gen")

    def send_score(self, run_id: str, model: str, iteration: int, level: Level) -> None:
        self._send(SCORE_TASK, SCORE_QUEUE, run_id, model, iteration, level, "score")

    def _send(
        self, name: str, queue: str, run_id: str, model: str, iteration: int, level: Level,
        stage: str,
    ) -> None:
        enqueued_at: datetime = utc_now()
        self._app.send_task(
            name,
            args=(run_id, model, iteration, level.value),
            kwargs={"enqueued_at": enqueued_at.isoformat()},
            task_id=task_id(run_id, model, iteration, level, stage),
            queue=queue,
        )
