"""Leases against a real Redis: one holder at a time, first writer wins, lapsed leases are
claimed once and their units sent again, duplicates and cancelled runs do nothing."""

import json
import time

import pytest

from challenge.levels import Level
from orchestrator.planning import build_run
from tests.recording import RecordingDispatcher
from worker.config import ModelConfig
from worker.lease import UnitBusy, held
from worker.records import Attempt, AttemptStatus, GenOutcome, InfraStage
from worker.services import Services, run_unit
from worker.settings import Settings
from worker.store import LeaseLost, RecordStore
from worker.sweeper import orphaned, sweep_leases, sweep_stale_deliveries
from worker.unit import Stage, Unit

pytestmark = pytest.mark.redis

UNIT = Unit("r1", "m", 1, Level.L1)


@pytest.fixture
def store(redis_url: str) -> RecordStore:
    store = RecordStore.from_url(redis_url)
    store.save_run(build_run("r1", {"m": ModelConfig(base_url="http://x/v1")}, [Level.L1], 1,
                             {}, "img"))
    return store


def attempt(status: AttemptStatus = AttemptStatus.GENERATED, **kw: object) -> Attempt:
    fields: dict[str, object] = {"gen_outcome": GenOutcome.OK, **kw}
    return Attempt(run_id="r1", model="m", iteration=1, level=Level.L1, status=status, **fields)


def test_one_holder_at_a_time_until_release_or_lapse(store: RecordStore) -> None:
    token = store.acquire_lease(UNIT, Stage.GENERATE, 0.3)
    assert token and store.lease_holder(UNIT, Stage.GENERATE) == token
    assert store.acquire_lease(UNIT, Stage.GENERATE, 0.3) is None
    assert store.acquire_lease(UNIT, Stage.SCORE, 0.3)  # stages are apart
    store.release_lease(UNIT, Stage.GENERATE, "not-the-token")
    assert store.lease_holder(UNIT, Stage.GENERATE) == token
    store.release_lease(UNIT, Stage.GENERATE, token)
    assert store.lease_holder(UNIT, Stage.GENERATE) is None
    held_again = store.acquire_lease(UNIT, Stage.GENERATE, 0.2)
    time.sleep(0.3)
    assert store.renew_lease(UNIT, Stage.GENERATE, str(held_again), 0.2) is False
    assert store.acquire_lease(UNIT, Stage.GENERATE, 0.2) is not None


def test_the_heartbeat_keeps_a_lease_beyond_its_ttl(store: RecordStore) -> None:
    with held(store, UNIT, Stage.GENERATE, 0.3) as lease:
        time.sleep(0.8)
        assert store.lease_holder(UNIT, Stage.GENERATE) == lease.token
        assert not lease.lost.is_set()
        with pytest.raises(UnitBusy), held(store, UNIT, Stage.GENERATE, 0.3):
            pass
    assert store.lease_holder(UNIT, Stage.GENERATE) is None


def test_first_writer_wins(store: RecordStore) -> None:
    late = store.acquire_lease(UNIT, Stage.GENERATE, 0.2)
    assert late
    time.sleep(0.3)  # the first worker was cut off; its lease lapsed
    fresh = store.acquire_lease(UNIT, Stage.GENERATE, 5)
    assert fresh
    store.save_attempt(attempt(answer="fresh"), lease=(Stage.GENERATE, fresh))
    with pytest.raises(LeaseLost):
        store.save_attempt(attempt(answer="late"), lease=(Stage.GENERATE, late))
    stored = store.get_attempt(UNIT)
    assert stored is not None and stored.answer == "fresh"


def test_a_lapsed_lease_is_claimed_exactly_once(store: RecordStore) -> None:
    store.acquire_lease(UNIT, Stage.GENERATE, 0.1)
    live = UNIT._replace(level=Level.L4)
    store.acquire_lease(live, Stage.GENERATE, 30)
    time.sleep(0.2)
    assert store.claim_lapsed_leases() == [(UNIT, Stage.GENERATE)]
    assert store.claim_lapsed_leases() == []
    assert store.claim_lapsed_leases(now=time.time() + 60) == []  # live: its key still exists


@pytest.mark.parametrize(("stage", "record", "resent"), [
    (Stage.GENERATE, None, True),
    (Stage.GENERATE, attempt(), True),  # re-sends its follow-ups only
    (Stage.GENERATE, attempt(AttemptStatus.INFRA_ERROR, gen_outcome=None,
                             infra_stage=InfraStage.GENERATE), False),  # waits for resume
    (Stage.SCORE, attempt(), True),
    (Stage.SCORE, attempt(AttemptStatus.SCORED), False),
])
def test_sweep_sends_again_what_still_has_work(store: RecordStore, stage: Stage,
                                               record: Attempt | None, resent: bool) -> None:
    if record is not None:
        store.save_attempt(record)
    store.acquire_lease(UNIT, stage, 0.1)
    time.sleep(0.2)
    dispatcher = RecordingDispatcher()
    swept = sweep_leases(store, dispatcher)
    kind = "gen" if stage is Stage.GENERATE else "score"
    assert dispatcher.sent == ([(kind, UNIT)] if resent else [])
    assert swept == ([(UNIT, stage)] if resent else [])


def test_a_cancelled_run_is_neither_swept_nor_run(store: RecordStore) -> None:
    store.acquire_lease(UNIT, Stage.GENERATE, 0.1)
    store.cancel_run("r1")
    time.sleep(0.2)
    dispatcher = RecordingDispatcher()
    assert sweep_leases(store, dispatcher) == [] and dispatcher.sent == []
    ran: list[int] = []
    services = Services(store=store, dispatcher=dispatcher, settings=Settings(), host="t")
    assert run_unit(services, UNIT, Stage.GENERATE, None, lambda lease: ran.append(1)) is None
    assert ran == []


def test_a_duplicate_delivery_does_nothing_while_the_unit_is_held(store: RecordStore) -> None:
    store.acquire_lease(UNIT, Stage.GENERATE, 30)
    ran: list[int] = []
    services = Services(store=store, dispatcher=RecordingDispatcher(), settings=Settings(),
                        host="t")
    assert run_unit(services, UNIT, Stage.GENERATE, None, lambda lease: ran.append(1)) is None
    assert ran == []


def test_a_sandbox_is_orphaned_once_its_lease_is_not_its_token() -> None:
    holders = {(UNIT, Stage.SCORE): "tok"}

    def holder(unit: Unit, stage: Stage) -> str | None:
        return holders.get((unit, stage))

    label = f"s1/{UNIT.key}:score=tok"
    assert not orphaned(label, holder, "s1")
    holders.clear()
    assert orphaned(label, holder, "s1")
    assert not orphaned(label, holder, "s2")  # another deployment's sandbox: not ours
    assert not orphaned("something else", holder, "s1")


def test_every_client_of_one_redis_sees_one_store_id(redis_url: str) -> None:
    first, second = RecordStore.from_url(redis_url), RecordStore.from_url(redis_url)
    assert first.store_id() == second.store_id() and len(first.store_id()) == 16


def _deliver(store: RecordStore, tag: str, task_id: str, at: float) -> None:
    """A message as kombu's Redis transport keeps it once delivered and not yet acked."""
    message = [{"headers": {"id": task_id, "task": "jqbench.generate"}, "body": ""}, "", "q"]
    store._redis.hset("unacked", tag, json.dumps(message))
    store._redis.zadd("unacked_index", {tag: at})


def test_a_delivery_whose_worker_died_before_the_lease_is_sent_again_once(
        store: RecordStore) -> None:
    now = time.time()
    _deliver(store, "t-stale", f"{UNIT.key}:gen", now - 300)
    _deliver(store, "t-fresh", f"{UNIT._replace(level=Level.L4).key}:gen", now - 5)
    _deliver(store, "t-other", "not-ours", now - 300)
    dispatcher = RecordingDispatcher()
    assert sweep_stale_deliveries(store, dispatcher, 120) == [(UNIT, Stage.GENERATE)]
    assert sweep_stale_deliveries(store, dispatcher, 120) == []  # claimed once
    assert dispatcher.sent == [("gen", UNIT)]


def test_a_stale_delivery_is_left_alone_while_leased_or_done(store: RecordStore) -> None:
    held_unit = UNIT._replace(iteration=2)
    done_unit = UNIT._replace(iteration=3)
    store.acquire_lease(held_unit, Stage.GENERATE, 60)
    store.save_attempt(Attempt(run_id="r1", model="m", iteration=3, level=Level.L1,
                               status=AttemptStatus.SCORED, gen_outcome=GenOutcome.OK))
    _deliver(store, "t-held", f"{held_unit.key}:gen", time.time() - 300)
    _deliver(store, "t-done", f"{done_unit.key}:score", time.time() - 300)
    dispatcher = RecordingDispatcher()
    assert sweep_stale_deliveries(store, dispatcher, 120) == [] and dispatcher.sent == []
