"""Following a run: it stops when the run is done, cancelled, or at its deadline."""

import time

import pytest

from challenge.levels import Level
from orchestrator.following import FollowTimeout, follow_run
from orchestrator.planning import build_run
from orchestrator.progress import RunProgress
from worker.config import ModelConfig
from worker.records import Run
from worker.store import RecordStore

pytestmark = pytest.mark.redis


def stored_run(redis_url: str) -> tuple[RecordStore, Run]:
    run = build_run("f1", {"m": ModelConfig(base_url="http://127.0.0.1:9/v1")}, [Level.L1],
                    1, {}, "img")
    store = RecordStore.from_url(redis_url)
    store.save_run(run)
    return store, run


def test_following_stops_at_its_deadline_and_says_where_the_run_stood(redis_url: str) -> None:
    store, run = stored_run(redis_url)
    seen: list[RunProgress] = []
    started = time.monotonic()
    with pytest.raises(FollowTimeout) as stopped:
        follow_run(store, run, seen.append, poll_s=0.05, timeout_s=0.3)
    assert 0.3 <= time.monotonic() - started < 2.0
    assert stopped.value.timeout_s == 0.3 and stopped.value.progress.finished == 0
    assert len(seen) >= 2
    store.close()


def test_a_cancelled_run_ends_following(redis_url: str) -> None:
    store, run = stored_run(redis_url)
    store.cancel_run("f1")
    progress = follow_run(store, run, lambda _: None, poll_s=0.05,
                          timeout_s=5.0)
    assert progress.cancelled and progress.done and not progress.complete
    store.close()
