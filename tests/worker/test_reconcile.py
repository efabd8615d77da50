"""The reconciler: what the records say is due but no message or lease carries is sent again.

Real Redis and real Celery messages (sent by task name, read with kombu), no workers: a
message is "lost" by never sending it or by deleting the queue's list, as a Redis restart
without append-only persistence would.
"""

import time

import pytest
from celery import Celery

from challenge.levels import Level
from orchestrator.planning import build_run
from worker.app import create_app
from worker.config import ModelConfig, parse_models
from worker.dispatch import CeleryDispatcher, gpu_queue, llm_queue
from worker.reconcile import reconcile
from worker.records import Attempt, AttemptStatus, GenOutcome, Run
from worker.settings import Settings
from worker.store import RecordStore, driver_token
from worker.unit import Stage, Unit

pytestmark = pytest.mark.redis

GRACE_S = 30.0
L1 = Unit("r1", "m", 1, Level.L1)


@pytest.fixture
def app(redis_url: str) -> Celery:
    return create_app(Settings(redis_url=redis_url))


@pytest.fixture
def store(redis_url: str) -> RecordStore:
    return RecordStore.from_url(redis_url)


def new_run(store: RecordStore, levels: list[Level]) -> Run:
    run = build_run("r1", {"m": ModelConfig(base_url="http://x/v1")}, levels, 1, {}, "img")
    assert store.save_run(run, new=True)
    return run


def save(store: RecordStore, unit: Unit, status: AttemptStatus) -> None:
    store.save_attempt(Attempt(run_id=unit.run_id, model=unit.model, iteration=unit.iteration,
                               level=unit.level, status=status, gen_outcome=GenOutcome.OK))


def test_a_message_is_carried_while_queued_delivered_or_leased(store: RecordStore,
                                                                app: Celery) -> None:
    CeleryDispatcher(app).send_generate(L1)
    queues = [llm_queue("m"), "score"]
    assert L1.task_id(Stage.GENERATE) in store.carried_task_ids(queues)
    with app.connection_for_read() as connection:
        queue = connection.SimpleQueue(llm_queue("m"))
        message = queue.get(timeout=5)  # delivered, not acknowledged: in kombu's unacked
        assert store._redis.llen(llm_queue("m")) == 0
        assert L1.task_id(Stage.GENERATE) in store.carried_task_ids(queues)
        message.ack()
        queue.close()
    assert store.carried_task_ids(queues) == set()
    store.acquire_lease(L1, Stage.SCORE, 60)
    assert store.carried_task_ids(queues) == {L1.task_id(Stage.SCORE)}


def test_a_run_stored_but_never_sent_is_sent_after_two_sightings(store: RecordStore,
                                                                  app: Celery) -> None:
    new_run(store, [Level.L1, Level.L4])
    dispatcher = CeleryDispatcher(app)
    t0 = time.time()
    assert reconcile(store, dispatcher, GRACE_S, now=t0) == []  # first sighting
    assert reconcile(store, dispatcher, GRACE_S, now=t0 + 10) == []  # too soon
    sent = reconcile(store, dispatcher, GRACE_S, now=t0 + GRACE_S + 1)
    assert sent == [(L1, Stage.GENERATE), (L1._replace(level=Level.L4), Stage.GENERATE)]
    assert store._redis.llen(llm_queue("m")) == 2
    # carried now: never sent twice, however often and late the sweepers look
    assert reconcile(store, dispatcher, GRACE_S, now=t0 + 10 * GRACE_S) == []
    assert reconcile(store, dispatcher, GRACE_S, now=t0 + 20 * GRACE_S) == []


def test_lost_messages_of_a_chain_link_and_a_score_are_sent_again(store: RecordStore,
                                                                   app: Celery) -> None:
    new_run(store, [Level.L1, Level.L2])
    save(store, L1, AttemptStatus.GENERATED)
    dispatcher = CeleryDispatcher(app)
    dispatcher.send_score(L1)
    dispatcher.send_generate(L1._replace(level=Level.L2))
    t0 = time.time()
    assert reconcile(store, dispatcher, GRACE_S, now=t0) == []
    store._redis.delete(llm_queue("m"), "score")  # Redis restarted without its queues
    assert reconcile(store, dispatcher, GRACE_S, now=t0 + 1) == []
    sent = reconcile(store, dispatcher, GRACE_S, now=t0 + GRACE_S + 2)
    assert sent == [(L1, Stage.SCORE), (L1._replace(level=Level.L2), Stage.GENERATE)]


def test_a_sighting_is_forgotten_once_the_unit_is_carried_again(store: RecordStore,
                                                                app: Celery) -> None:
    new_run(store, [Level.L1])
    dispatcher = CeleryDispatcher(app)
    t0 = time.time()
    assert reconcile(store, dispatcher, GRACE_S, now=t0) == []
    store.acquire_lease(L1, Stage.GENERATE, 60)  # a worker took it in the meantime
    assert reconcile(store, dispatcher, GRACE_S, now=t0 + 1) == []
    store._redis.delete(f"jqbench:lease:{L1.key}:gen", "jqbench:leases")
    # seen orphaned again: the grace starts anew, the old sighting does not count
    assert reconcile(store, dispatcher, GRACE_S, now=t0 + GRACE_S + 2) == []
    assert reconcile(store, dispatcher, GRACE_S, now=t0 + 2 * GRACE_S + 3) == [
        (L1, Stage.GENERATE)]


def test_one_sweeper_claims_an_orphan(store: RecordStore) -> None:
    t0 = time.time()
    assert not store.claim_orphan("x", GRACE_S, now=t0)
    assert store.claim_orphan("x", GRACE_S, now=t0 + GRACE_S)
    assert not store.claim_orphan("x", GRACE_S, now=t0 + GRACE_S)  # taken: a new sighting


def test_runs_with_nothing_due_leave_the_watch_list(store: RecordStore, app: Celery) -> None:
    new_run(store, [Level.L1])
    save(store, L1, AttemptStatus.SCORED)
    dispatcher = CeleryDispatcher(app)
    assert store.watched_runs() == ["r1"]
    assert reconcile(store, dispatcher, GRACE_S) == [] and store.watched_runs() == []
    store.watch_run("r1")
    store._redis.delete(f"jqbench:attempt:{L1.key}")
    store.cancel_run("r1")
    assert reconcile(store, dispatcher, 0) == [] and store.watched_runs() == []
    assert store._redis.llen(llm_queue("m")) == 0


def shared_run(store: RecordStore) -> Run:
    config = {"servers": {"gpu": {"kind": "router", "base_url": "http://g/v1"}},
              "models": {"m": {"server": "gpu"}}}
    run = build_run("r1", parse_models(config, "models.yaml"), [Level.L1], 1, {}, "img")
    assert store.save_run(run, new=True)
    return run


def ask_for_a_driver(store: RecordStore, app: Celery) -> CeleryDispatcher:
    """What the generate task of a shared server's unit does (`driver.request_drive`)."""
    dispatcher = CeleryDispatcher(app)
    assert store.claim_drive_send("r1", "gpu", ttl_s=3600)
    dispatcher.send_drive("r1", "gpu")
    return dispatcher


def test_units_of_a_shared_server_are_carried_by_its_drive_task_or_driver(
        store: RecordStore, app: Celery) -> None:
    shared_run(store)
    t0 = time.time()
    # the generate task only asked for a driver: its drive task carries the unit
    dispatcher = ask_for_a_driver(store, app)
    assert reconcile(store, dispatcher, GRACE_S, now=t0) == []
    assert reconcile(store, dispatcher, GRACE_S, now=t0 + GRACE_S + 1) == []
    # the driver took the server's lock and its message was acknowledged
    store._redis.delete(gpu_queue("gpu"))
    lock = store.driver_lock("gpu", 60)
    assert lock.acquire(blocking=False, token=driver_token("r1"))
    assert reconcile(store, dispatcher, GRACE_S, now=t0 + 2 * GRACE_S + 2) == []
    assert reconcile(store, dispatcher, GRACE_S, now=t0 + 3 * GRACE_S + 3) == []
    lock.release()
    # a later driver of the run waits for the lock (another run's driver holds it)
    store.mark_drive_waiting("r1", "gpu", ttl_s=60)
    assert reconcile(store, dispatcher, GRACE_S, now=t0 + 4 * GRACE_S + 4) == []
    assert reconcile(store, dispatcher, GRACE_S, now=t0 + 5 * GRACE_S + 5) == []


def test_a_drive_task_delivered_to_a_dead_worker_carries_nothing(store: RecordStore,
                                                                  app: Celery) -> None:
    shared_run(store)
    dispatcher = ask_for_a_driver(store, app)
    with app.connection_for_read() as connection:
        queue = connection.SimpleQueue(gpu_queue("gpu"))
        queue.get(timeout=5)  # delivered, never acknowledged: its worker died before the lock
        t0 = time.time()
        assert reconcile(store, dispatcher, GRACE_S, now=t0) == []
        assert reconcile(store, dispatcher, GRACE_S, now=t0 + GRACE_S + 1) == [
            (L1, Stage.GENERATE)]
        queue.close()


def test_a_lost_drive_task_is_an_orphan_and_its_units_ask_again(store: RecordStore,
                                                                 app: Celery) -> None:
    shared_run(store)
    dispatcher = ask_for_a_driver(store, app)
    store._redis.delete(gpu_queue("gpu"))  # lost with Redis's queues; the mark stayed
    t0 = time.time()
    assert reconcile(store, dispatcher, GRACE_S, now=t0) == []
    assert reconcile(store, dispatcher, GRACE_S, now=t0 + GRACE_S + 1) == [(L1, Stage.GENERATE)]
    assert store._redis.llen(llm_queue("m")) == 1
    # the mark is gone, so the generate task sent again asks for a driver again
    assert store.claim_drive_send("r1", "gpu", ttl_s=3600)
