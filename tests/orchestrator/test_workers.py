"""Which workers listen where: the census over the broker, and the warning `submit` gives."""

import pytest

from orchestrator.workers import (
    WorkerCensus,
    missing_workers_warning,
    run_queues,
    worker_census,
    worker_command,
)
from worker.config import ModelConfig, parse_models
from worker.settings import Settings

QUEUES = run_queues({"a": ModelConfig(base_url="http://h/v1", slots=2),
                     "b": ModelConfig(base_url="http://h/v1")})


def test_a_runs_queues_carry_the_concurrency_their_workers_need() -> None:
    assert QUEUES == {"llm.a": 2, "llm.b": 1, "score": None}
    assert worker_command("llm.a", 2) == "celery -A worker.app worker -Q llm.a -c 2"
    assert worker_command("score") == "python -m worker --score"


def test_no_warning_when_every_queue_has_a_worker() -> None:
    census = WorkerCensus({"w1@h": frozenset({"llm.a", "llm.b"}), "w2@h": frozenset({"score"})})
    assert census.listeners("llm.a") == ["w1@h"] and census.missing(QUEUES) == []
    assert missing_workers_warning(census, QUEUES) is None


def test_one_line_names_the_queues_nobody_consumes_and_how_to_start_a_worker() -> None:
    census = WorkerCensus({"w1@h": frozenset({"llm.a"})})
    warning = missing_workers_warning(census, QUEUES)
    assert warning is not None and "\n" not in warning
    assert warning.startswith("warning: no worker listens on llm.b, score;")
    assert "celery -A worker.app worker -Q llm.b -c 1" in warning


@pytest.mark.parametrize("census", [WorkerCensus(), WorkerCensus(error="OperationalError: x")])
def test_no_worker_at_all_or_no_answer_is_one_warning(census: WorkerCensus) -> None:
    warning = missing_workers_warning(census, QUEUES)
    assert warning is not None and "\n" not in warning
    assert warning.startswith("warning: no Celery worker answered")


@pytest.mark.redis
def test_a_broker_without_workers_gives_an_empty_census(redis_url: str) -> None:
    census = worker_census(Settings(redis_url=redis_url), timeout_s=0.2)
    assert census == WorkerCensus()


def test_a_shared_servers_models_also_need_its_driver_queue() -> None:
    models = parse_models({"servers": {"gpu1": {"kind": "router", "base_url": "http://g/v1",
                                                "slots": 2}},
                           "models": {"a": {"server": "gpu1"}, "b": {"server": "gpu1"},
                                      "c": {"base_url": "http://h/v1"}}}, "models.yaml")
    assert run_queues(models) == {"llm.a": 2, "llm.b": 2, "llm.c": 1, "gpu.gpu1": 2,
                                  "score": None}
    assert worker_command("gpu.gpu1", 2) == "python -m worker --server gpu1 --config models.yaml"
