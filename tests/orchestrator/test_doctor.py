"""`jqbench doctor`'s checks: each says what is wrong and what fixes it."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from challenge.levels import Level
from challenge.prompts import prompt_text
from fakellm import FakeLlamaServer, canned_answers
from orchestrator.doctor import (
    Check,
    Verdict,
    check_queues,
    diagnose,
    judge_endpoint,
    longest_prompt_tokens,
    remote_score_workers,
)
from orchestrator.localstack import free_port
from orchestrator.workers import WorkerCensus
from worker.config import ModelConfig
from worker.errors import ConfigError
from worker.records import EndpointFacts
from worker.settings import Settings

CONFIG = ModelConfig(base_url="http://gpu:1/v1", slots=2, max_tokens=8192)


def facts(slots: int | None = 2, n_ctx: int | None = 32768) -> EndpointFacts:
    return EndpointFacts(root_url="http://gpu:1", total_slots=slots, n_ctx=n_ctx)


def test_the_longest_prompt_is_l3_with_code_embedded() -> None:
    assert longest_prompt_tokens() > len(prompt_text(Level.L4)) / 3
    assert 1000 < longest_prompt_tokens() < 4000


def test_a_server_with_room_is_ok() -> None:
    check = judge_endpoint("m", CONFIG, facts(), 1600)
    assert check.verdict is Verdict.OK and "slots 2" in check.detail and "32768" in check.detail


def test_a_context_too_short_for_prompt_and_answer_warns_with_the_size_to_start() -> None:
    check = judge_endpoint("m", CONFIG, facts(n_ctx=8192), 1600)
    assert check.verdict is Verdict.WARN
    assert "8192 per slot < about 9792 tokens" in check.detail
    assert "llama-server -c 19584" in check.fix  # two slots share the context


def test_fewer_server_slots_than_configured_warns() -> None:
    check = judge_endpoint("m", CONFIG, facts(slots=1), 1600)
    assert check.verdict is Verdict.WARN and "set slots: 1" in check.fix


def test_unknown_slots_and_context_are_said_not_judged() -> None:
    check = judge_endpoint("m", CONFIG, facts(slots=None, n_ctx=None), 1600)
    assert check.verdict is Verdict.OK and "slots unknown" in check.detail


def test_queue_checks_name_the_missing_worker_and_its_command() -> None:
    queues = {"llm.m": 2, "score": None}
    census = WorkerCensus({"w@h": frozenset({"score"})})
    assert check_queues(census, queues) == [
        Check("workers llm.m", Verdict.FAIL, "no worker listens on it",
              "celery -A worker.app worker -Q llm.m -c 2"),
        Check("workers score", Verdict.OK, "w@h"),
    ]
    for silent in (None, WorkerCensus(), WorkerCensus(error="boom")):
        assert {c.verdict for c in check_queues(silent, queues)} == {Verdict.FAIL}


def test_score_workers_elsewhere_are_told_apart_by_host() -> None:
    census = WorkerCensus({"a@here": frozenset({"score"}), "b@there": frozenset({"score"})})
    assert remote_score_workers(census, host="here") == ["b@there"]
    assert remote_score_workers(None, host="here") == []


@pytest.fixture
def server() -> Iterator[FakeLlamaServer]:
    with FakeLlamaServer(canned_answers("reference"), slots=2, n_ctx=32768) as fake:
        yield fake


@pytest.mark.redis
def test_diagnose_checks_every_part(tmp_path: Path, redis_url: str,
                                    server: FakeLlamaServer) -> None:
    models = tmp_path / "models.yaml"
    models.write_text(yaml.safe_dump({"models": {
        "good": {"base_url": server.base_url, "slots": 2},
        "long": {"base_url": server.base_url, "slots": 2, "max_tokens": 40000},
        "down": {"base_url": f"http://127.0.0.1:{free_port()}/v1"},
    }}, sort_keys=False))
    settings = Settings(redis_url=redis_url, sandbox_image="no-such-image:x")
    checks = {c.name: c for c in diagnose(settings, models, inspect_timeout_s=0.2)}
    assert list(checks) == ["redis", "docker", "workers llm.good", "workers llm.long",
                            "workers llm.down", "workers score", "model good", "model long",
                            "model down"]
    assert checks["redis"].verdict is Verdict.OK
    docker = checks["docker"]
    assert docker.verdict is Verdict.FAIL  # no such image, or no Docker here at all
    if "image" in docker.detail:
        assert docker.fix == "scripts/build-sandbox-image.sh"
    assert checks["workers score"].fix == "python -m worker --score"
    assert checks["model good"].verdict is Verdict.OK
    assert checks["model long"].verdict is Verdict.WARN
    assert checks["model down"].verdict is Verdict.FAIL
    assert "does not answer" in checks["model down"].detail

    only = diagnose(settings, models, ["good"], inspect_timeout_s=0.2)
    assert [c.name for c in only if c.name.startswith("model")] == ["model good"]
    with pytest.raises(ConfigError, match="unknown model"):
        diagnose(settings, models, ["nope"], inspect_timeout_s=0.2)


def test_diagnose_without_redis_or_models_file_fails_those_checks(tmp_path: Path) -> None:
    settings = Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0",
                        sandbox_image="no-such-image:x")
    checks = {c.name: c for c in diagnose(settings, tmp_path / "none.yaml")}
    assert checks["redis"].verdict is Verdict.FAIL and "REDIS_URL" in checks["redis"].fix
    assert checks["models file"].verdict is Verdict.FAIL
    assert checks["workers score"].detail == "not asked: Redis does not answer"
