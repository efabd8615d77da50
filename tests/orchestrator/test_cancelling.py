"""Cancelling a run: the flag is set, the run's sandboxes removed, or said why not."""

import pytest

from challenge.levels import Level
from orchestrator.cancelling import cancel
from orchestrator.planning import build_run
from worker.config import ModelConfig
from worker.errors import ConfigError
from worker.records import Attempt, AttemptStatus, GenOutcome
from worker.sandbox import SandboxUnavailable
from worker.settings import Settings
from worker.store import RecordStore

pytestmark = pytest.mark.redis


def seeded(redis_url: str) -> RecordStore:
    run = build_run("c1", {"m": ModelConfig(base_url="http://127.0.0.1:9/v1")}, [Level.L1],
                    1, {}, "img")
    store = RecordStore.from_url(redis_url)
    store.save_run(run)
    return store


def test_cancel_sets_the_flag_and_removes_the_runs_sandboxes(redis_url: str) -> None:
    store = seeded(redis_url)
    asked: list[str] = []

    def remove(_: Settings, run_id: str) -> list[str]:
        asked.append(run_id)
        return ["container-1"]

    done = cancel(Settings(redis_url=redis_url), "c1", store=store, remove_sandboxes=remove)
    assert store.is_cancelled("c1") and asked == ["c1"]
    assert done.removed == ["container-1"] and not done.already and not done.docker_error
    again = cancel(Settings(redis_url=redis_url), "c1", store=store, remove_sandboxes=remove)
    assert again.already


def test_without_docker_the_run_is_cancelled_all_the_same(redis_url: str) -> None:
    store = seeded(redis_url)

    def no_docker(_: Settings, __: str) -> list[str]:
        raise SandboxUnavailable("the Docker daemon is not reachable", "start it")

    done = cancel(Settings(redis_url=redis_url), "c1", store=store, remove_sandboxes=no_docker)
    assert store.is_cancelled("c1") and "not reachable" in done.docker_error


def test_a_complete_run_is_left_alone(redis_url: str) -> None:
    store = seeded(redis_url)
    store.save_attempt(Attempt(run_id="c1", model="m", iteration=1, level=Level.L1,
                               status=AttemptStatus.SCORED, gen_outcome=GenOutcome.OK))
    done = cancel(Settings(redis_url=redis_url), "c1", store=store,
                  remove_sandboxes=lambda *_: [])
    assert done.complete and not store.is_cancelled("c1")


def test_an_unknown_run_is_a_config_error(redis_url: str) -> None:
    with pytest.raises(ConfigError, match="no run 'ghost'"):
        cancel(Settings(redis_url=redis_url), "ghost", remove_sandboxes=lambda *_: [])
