"""Server slots against a real Redis: never more requests in flight on a server than its
slot count, across threads and store clients; a dead holder's slot comes back when its
lease lapses; the limit is the server's own slot count where it said one."""

import threading
import time
import uuid

import pytest

from challenge.levels import Level
from orchestrator.planning import build_run
from worker.config import ModelConfig
from worker.inflight import server_key, server_slot, slot_limit
from worker.records import EndpointFacts
from worker.store import RecordStore

pytestmark = pytest.mark.redis


@pytest.fixture
def server() -> str:
    return f"http://test-{uuid.uuid4().hex[:8]}:8080"


def test_at_most_limit_holders_at_once_across_clients(redis_url: str, server: str) -> None:
    stores = [RecordStore.from_url(redis_url) for _ in range(3)]
    lock = threading.Lock()
    holding, peak, done = 0, 0, 0

    def call(store: RecordStore) -> None:
        nonlocal holding, peak, done
        with server_slot(store, server, 2, ttl_s=10):
            with lock:
                holding += 1
                peak = max(peak, holding)
            time.sleep(0.15)
            with lock:
                holding -= 1
        with lock:
            done += 1

    threads = [threading.Thread(target=call, args=(stores[i % 3],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert done == 8
    assert peak == 2
    assert stores[0].server_slots_held(server) == 0


def test_the_slot_of_a_holder_that_died_comes_back_when_its_lease_lapses(
    redis_url: str, server: str
) -> None:
    store = RecordStore.from_url(redis_url)
    dead = store.take_server_slot(server, 1, ttl_s=0.3)  # never renewed nor released
    assert dead is not None
    assert store.take_server_slot(server, 1, ttl_s=10) is None
    started = time.monotonic()
    with server_slot(store, server, 1, ttl_s=10) as waited_s:
        assert 0.1 < waited_s < 5
    assert time.monotonic() - started < 5
    assert not store.renew_server_slot(server, dead, 10)


def test_a_held_slot_is_renewed_past_its_ttl(redis_url: str, server: str) -> None:
    store = RecordStore.from_url(redis_url)
    with server_slot(store, server, 1, ttl_s=0.3):
        time.sleep(0.8)  # without renewals it would have lapsed twice over
        assert store.take_server_slot(server, 1, ttl_s=10) is None
    assert store.take_server_slot(server, 1, ttl_s=10) is not None


def test_the_wait_stops_when_the_check_says_so(redis_url: str, server: str) -> None:
    store = RecordStore.from_url(redis_url)
    assert store.take_server_slot(server, 1, ttl_s=10) is not None
    checks = 0

    def cancelled() -> None:
        nonlocal checks
        checks += 1
        if checks == 3:
            raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError, match="cancelled"), \
            server_slot(store, server, 1, ttl_s=10, check=cancelled):
        pytest.fail("a full server gave a slot")


def test_the_limit_is_the_servers_slot_count_where_it_said_one() -> None:
    models = {"a": ModelConfig(base_url="http://gpu:8080/v1", slots=4),
              "b": ModelConfig(base_url="http://gpu:8080/v1/", slots=3)}
    run = build_run("r", models, [Level.L1], 1, {}, "img")
    assert slot_limit(run, "a") == 4 and slot_limit(run, "b") == 3
    assert server_key(run, "a") == "http://gpu:8080/v1" == server_key(run, "b")
    run.endpoints = {"a": EndpointFacts(root_url="http://gpu:8080", total_slots=2),
                     "b": EndpointFacts(root_url="http://gpu:8080", total_slots=None)}
    assert slot_limit(run, "a") == 2  # /props says 2, whatever the models file says
    assert slot_limit(run, "b") == 3  # a router describes no model there: the models file
    assert server_key(run, "a") == "http://gpu:8080" == server_key(run, "b")
