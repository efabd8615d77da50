"""Thin Celery tasks: parse arguments, build the services, call worker.flow."""

import os
import socket
from datetime import datetime
from functools import cache

from celery.utils.log import get_task_logger

from challenge.levels import Level
from worker.app import app
from worker.config import ModelConfig
from worker.dispatch import GENERATE_TASK, SCORE_TASK, CeleryDispatcher
from worker.flow import ChatFn, Services, generate_unit, score_unit
from worker.llm import LlmClient
from worker.sandbox import Sandbox
from worker.settings import Settings
from worker.slots import scoring_sandbox
from worker.store import RecordStore

logger = get_task_logger(__name__)


@cache
def _services() -> Services:
    settings: Settings = app.conf.jqbench_settings
    host = f"{socket.gethostname()}:{os.getpid()}"
    worker_id = settings.worker_id or host

    clients: dict[str, tuple[ModelConfig, LlmClient]] = {}

    def chat_factory(config: ModelConfig, name: str) -> ChatFn:
        """One client (and connection pool) per model and config, kept for the process."""
        cached = clients.get(name)
        if cached is None or cached[0] != config:
            if cached is not None:
                cached[1].close()
            api_key = os.environ.get(config.api_key_env) if config.api_key_env else None
            cached = clients[name] = (config, LlmClient(config, name, api_key))
        return cached[1].chat

    def sandbox_factory() -> Sandbox:
        return scoring_sandbox(settings, worker_id=worker_id)

    return Services(
        store=RecordStore.from_url(settings.redis_url),
        dispatcher=CeleryDispatcher(app),
        settings=settings,
        host=host,
        chat_factory=chat_factory,
        sandbox_factory=sandbox_factory,
    )


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@app.task(name=GENERATE_TASK)
def generate(run_id: str, model: str, iteration: int, level: str,
             enqueued_at: str | None = None) -> None:
    generate_unit(_services(), run_id, model, iteration, Level(level), _when(enqueued_at))


@app.task(name=SCORE_TASK)
def score(run_id: str, model: str, iteration: int, level: str,
          enqueued_at: str | None = None) -> None:
    score_unit(_services(), run_id, model, iteration, Level(level))
