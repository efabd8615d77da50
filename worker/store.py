"""The record store: the only module that touches Redis keys. Takes and returns pydantic models."""

import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis
import redis.lock

from worker.errors import RedisUnavailable
from worker.records import Attempt, ModelLoad, Run
from worker.text import safe_data
from worker.unit import Stage, Unit, parse_task_id

RUN_KEY = "jqbench:run:{run_id}"
RUNS_INDEX_KEY = "jqbench:runs"
ATTEMPT_KEY = "jqbench:attempt:{key}"
CANCELLED_KEY = "jqbench:cancelled:{run_id}"
"""Present when the run was cancelled: every unit checks it before it starts."""
LEASE_KEY = "jqbench:lease:{key}:{stage}"
"""A unit stage in progress: the holder's token, with a TTL its heartbeat renews."""
BROKER_UNACKED_KEY = "unacked"
"""kombu's Redis transport: delivered, not yet acknowledged messages (tag -> message)."""
BROKER_UNACKED_INDEX_KEY = "unacked_index"
"""kombu's Redis transport: delivery time of each unacknowledged message (tag -> time)."""
RESENT_KEY = "jqbench:resent:{tag}"
"""Marks a stale delivery already sent again, so only one sweeper does it."""
LEASES_INDEX_KEY = "jqbench:leases"
"""Sorted set of `{unit key}:{stage}` by lease expiry (unix time), for the sweepers."""
STORE_ID_KEY = "jqbench:store_id"
"""A random id of this record store, made on first use: sandboxes carry it in their lease
label, so a sweeper judges only sandboxes of its own deployment (two stacks, say a demo
beside a real run, may share one Docker daemon)."""
ACTIVE_RUNS_KEY = "jqbench:active"
"""Set of the runs the reconciler watches: added at submit and resume, removed once nothing
of the run is due (complete, cancelled, or waiting for `resume`)."""
ORPHAN_KEY = "jqbench:orphan:{task_id}"
"""When a due unit stage was first seen carried by no message and no lease (unix time)."""
SERVER_SLOTS_KEY = "jqbench:inflight:{server}"
"""Sorted set of the requests in flight on one model server: holder token -> lease expiry
(milliseconds, Redis's clock), at most the server's slot count (`worker.inflight`)."""
DRIVER_KEY = "jqbench:driver:{server}"
"""A lock held by the one driver running a shared GPU server's work (`worker.driver`), any
run: a later run's driver waits for it. Its value is `driver_token(run_id)`."""
DRIVE_SENT_KEY = "jqbench:drive-sent:{run_id}:{server}"
"""Present while a drive task for (run, server) is queued and not started: one is enough."""
LOADS_KEY = "jqbench:loads:{run_id}"
DRIVE_WAIT_KEY = "jqbench:drive-waiting:{run_id}:{server}"
"""Set, with a short TTL renewed while it waits, by a driver waiting for its server's lock."""
"""The model loads of a run's drivers, in order (JSON `ModelLoad`s)."""
BROKER_PRIORITY_SEPARATOR = "\x06\x16"
"""kombu's Redis transport keeps priority p>0 of queue q in the list `q` + this + `p`."""
BROKER_PRIORITY_STEPS = (0, 3, 6, 9)
"""kombu's default priority steps (Celery does not change them for Redis)."""

# KEYS[1] lease, KEYS[2] index; ARGV token, ttl ms, member, expiry
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
  return 1
end
return 0
"""
# KEYS[1] lease, KEYS[2] index; ARGV token, member
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
  return 1
end
return 0
"""
# KEYS[1] lease, KEYS[2] index; ARGV member. A lapsed entry is claimed once: by whoever
# removes it from the index while no live lease exists.
_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
return redis.call('ZREM', KEYS[2], ARGV[1])
"""
# KEYS[1] lease, KEYS[2] record; ARGV token, document
_SAVE_LEASED = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2])
  return 1
end
return 0
"""

# KEYS[1] orphan marker; ARGV now, grace s, marker ttl ms. 1 for exactly one caller once the
# unit stage was first seen orphaned at least `grace` ago (the marker is consumed).
_CLAIM_ORPHAN = """
local seen = redis.call('GET', KEYS[1])
if not seen then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  return 0
end
if tonumber(ARGV[1]) - tonumber(seen) >= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""


class LeaseLost(Exception):
    """A record write under a lease that is no longer ours: another worker owns the unit
    (this one was cut off or too slow); the write was refused, first writer wins."""


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def driver_token(run_id: str) -> str:
    """The value of a server's driver lock while a driver of `run_id` holds it."""
    return f"{run_id}/{secrets.token_hex(8)}"


class StoreUnavailable(RedisUnavailable):
    """Redis failed during a read or write of records (it answered before)."""

# Server slots. KEYS[1] the server's holders; ARGV token, limit, ttl ms. Expired holders (a
# process that died holding one) are dropped first; the clock is Redis's own, shared by
# every host.
_TAKE_SERVER_SLOT = """
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[3]))
return 1
"""
# KEYS[1] the server's holders; ARGV token, ttl ms. 0 when the slot is no longer ours.
_RENEW_SERVER_SLOT = """
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expiry or tonumber(expiry) <= now then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
return 1
"""


class RecordStore:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._claim = client.register_script(_CLAIM)
        self._save_leased = client.register_script(_SAVE_LEASED)
        self._claim_orphan = client.register_script(_CLAIM_ORPHAN)
        self._take_server_slot = client.register_script(_TAKE_SERVER_SLOT)
        self._renew_server_slot = client.register_script(_RENEW_SERVER_SLOT)

    @classmethod
    def from_url(cls, url: str, *, check: bool = True) -> "RecordStore":
        """A store on `url`, by default checked with a ping (RedisUnavailable if it does not
        answer); unchecked, it connects on first use."""
        store = cls(redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30))
        if check:
            store.ping(url)
        return store

    def close(self) -> None:
        self._redis.close()

    def store_id(self) -> str:
        """This store's id (see STORE_ID_KEY); the same for every client of this Redis."""
        with self._guard("read the store id"):
            self._redis.set(STORE_ID_KEY, secrets.token_hex(8), nx=True)
            return _text(self._redis.get(STORE_ID_KEY))

    def ping(self, url: str = "") -> None:
        try:
            self._redis.ping()
        except redis.RedisError as exc:
            where = f" at {url}" if url else ""
            raise RedisUnavailable(
                f"Redis does not answer{where}: {exc} (start redis-server or set REDIS_URL)"
            ) from None

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except redis.RedisError as exc:
            raise StoreUnavailable(f"Redis failed to {action}: {exc}") from exc

    def save_run(self, run: Run, *, new: bool = False) -> bool:
        """Store the run; with `new`, only if no run of that id exists (False: one does),
        and watched by the reconciler from then on."""
        with self._guard("save a run"):
            if not self._redis.set(RUN_KEY.format(run_id=run.run_id), run.model_dump_json(),
                                   nx=new):
                return False
            self._redis.zadd(RUNS_INDEX_KEY, {run.run_id: run.created_at.timestamp()})
            if new:
                self._redis.sadd(ACTIVE_RUNS_KEY, run.run_id)
        return True

    def get_run(self, run_id: str) -> Run | None:
        with self._guard("read a run"):
            raw = self._redis.get(RUN_KEY.format(run_id=run_id))
        return Run.model_validate_json(raw) if raw else None

    def run_ids(self) -> list[str]:
        with self._guard("list runs"):
            members = self._redis.zrange(RUNS_INDEX_KEY, 0, -1)
        return [_text(m) for m in members]

    def save_attempt(self, attempt: Attempt, lease: tuple[Stage, str] | None = None) -> None:
        """Write the attempt; any text in it that cannot be UTF-8 is made safe first.

        With `lease` (stage, token) the write happens only while that lease is still ours.

        Raises:
            LeaseLost: the lease lapsed or another worker holds it; nothing was written.
            StoreUnavailable: Redis failed.
        """
        document = json.dumps(safe_data(attempt.model_dump(mode="json")), ensure_ascii=False)
        key = ATTEMPT_KEY.format(key=attempt.key)
        with self._guard("save an attempt"):
            if lease is None:
                self._redis.set(key, document)
                return
            stage, token = lease
            lease_key = LEASE_KEY.format(key=attempt.key, stage=stage.value)
            saved = self._save_leased(keys=[lease_key, key], args=[token, document])
        if not saved:
            raise LeaseLost(f"{attempt.unit.log_context}: lease of {stage.value} lost; "
                            "another worker owns the unit, this write was refused")

    # --- cancelling -------------------------------------------------------------------------

    def cancel_run(self, run_id: str) -> None:
        with self._guard("cancel a run"):
            self._redis.set(CANCELLED_KEY.format(run_id=run_id), str(time.time()))

    def is_cancelled(self, run_id: str) -> bool:
        with self._guard("read a run's cancel flag"):
            return bool(self._redis.exists(CANCELLED_KEY.format(run_id=run_id)))

    def get_attempt(self, unit: Unit) -> Attempt | None:
        with self._guard("read an attempt"):
            raw = self._redis.get(ATTEMPT_KEY.format(key=unit.key))
        return Attempt.model_validate_json(raw) if raw else None

    def get_attempts(self, run: Run) -> dict[Unit, Attempt]:
        """Every stored attempt of a run, keyed by unit, in the run's order."""
        units = run.units()
        keys = [ATTEMPT_KEY.format(key=unit.key) for unit in units]
        with self._guard("read attempts"):
            raws = self._redis.mget(keys) if keys else []
        return {unit: Attempt.model_validate_json(raw)
                for unit, raw in zip(units, raws, strict=True) if raw}

    # --- leases (worker.lease) -------------------------------------------------------------

    def acquire_lease(self, unit: Unit, stage: Stage, ttl_s: float) -> str | None:
        """A new lease token for (unit, stage), or None while another live lease exists."""
        token = secrets.token_hex(16)
        key = LEASE_KEY.format(key=unit.key, stage=stage.value)
        with self._guard("take a lease"):
            if not self._redis.set(key, token, nx=True, px=_ms(ttl_s)):
                return None
            self._redis.zadd(LEASES_INDEX_KEY, {unit.task_id(stage): time.time() + ttl_s})
        return token

    def renew_lease(self, unit: Unit, stage: Stage, token: str, ttl_s: float) -> bool:
        """Extend our lease; False when it is no longer ours (lapsed, or taken over)."""
        with self._guard("renew a lease"):
            renewed = self._renew(keys=[LEASE_KEY.format(key=unit.key, stage=stage.value),
                                        LEASES_INDEX_KEY],
                                  args=[token, _ms(ttl_s), unit.task_id(stage),
                                        time.time() + ttl_s])
        return bool(renewed)

    def release_lease(self, unit: Unit, stage: Stage, token: str) -> None:
        with self._guard("release a lease"):
            self._release(keys=[LEASE_KEY.format(key=unit.key, stage=stage.value),
                                LEASES_INDEX_KEY], args=[token, unit.task_id(stage)])

    def lease_holder(self, unit: Unit, stage: Stage) -> str | None:
        """The token of the live lease on (unit, stage), if any."""
        with self._guard("read a lease"):
            raw = self._redis.get(LEASE_KEY.format(key=unit.key, stage=stage.value))
        return raw.decode() if isinstance(raw, bytes) else raw

    # --- server slots (worker.inflight) -----------------------------------------------------

    def take_server_slot(self, server: str, limit: int, ttl_s: float) -> str | None:
        """A token for one of `server`'s `limit` request slots, or None while all are held."""
        token = secrets.token_hex(16)
        with self._guard("take a server slot"):
            taken = self._take_server_slot(keys=[SERVER_SLOTS_KEY.format(server=server)],
                                           args=[token, limit, _ms(ttl_s)])
        return token if taken else None

    def renew_server_slot(self, server: str, token: str, ttl_s: float) -> bool:
        """Extend our slot; False when it lapsed (another request may have it now)."""
        with self._guard("renew a server slot"):
            return bool(self._renew_server_slot(keys=[SERVER_SLOTS_KEY.format(server=server)],
                                                args=[token, _ms(ttl_s)]))

    def release_server_slot(self, server: str, token: str) -> None:
        with self._guard("release a server slot"):
            self._redis.zrem(SERVER_SLOTS_KEY.format(server=server), token)

    def server_slots_held(self, server: str) -> int:
        """Slots of `server` held now (lapsed ones included until the next take drops them)."""
        with self._guard("count server slots"):
            return int(self._redis.zcard(SERVER_SLOTS_KEY.format(server=server)))

    # --- drivers of shared servers (worker.driver) ----------------------------------------

    def driver_lock(self, server: str, ttl_s: float) -> "redis.lock.Lock":
        """The lock of `server`'s driver (not taken yet); it expires after `ttl_s` unless
        extended (`Lock.reacquire`)."""
        lock: redis.lock.Lock = self._redis.lock(DRIVER_KEY.format(server=server),
                                                 timeout=ttl_s, thread_local=False)
        return lock

    def claim_drive_send(self, run_id: str, server: str, ttl_s: float) -> bool:
        """True for the one caller that should send (run, server)'s drive task now."""
        with self._guard("mark a drive task sent"):
            return bool(self._redis.set(DRIVE_SENT_KEY.format(run_id=run_id, server=server),
                                        "1", nx=True, px=_ms(ttl_s)))

    def clear_drive_send(self, run_id: str, server: str) -> None:
        """A driver started: what becomes due from now on needs a drive task of its own."""
        with self._guard("clear a drive mark"):
            self._redis.delete(DRIVE_SENT_KEY.format(run_id=run_id, server=server))

    def mark_drive_waiting(self, run_id: str, server: str, ttl_s: float) -> None:
        """A driver of (run, server) waits for the server's lock, for `ttl_s` more at least."""
        with self._guard("mark a driver waiting"):
            self._redis.set(DRIVE_WAIT_KEY.format(run_id=run_id, server=server), "1",
                            px=_ms(ttl_s))

    def drive_waiting(self, run_id: str, server: str) -> bool:
        with self._guard("read a waiting driver"):
            return bool(self._redis.exists(DRIVE_WAIT_KEY.format(run_id=run_id,
                                                                 server=server)))

    def driver_of(self, server: str) -> str | None:
        """The run whose driver holds `server` now, if any."""
        with self._guard("read a server's driver"):
            holder = self._redis.get(DRIVER_KEY.format(server=server))
        return _text(holder).partition("/")[0] if holder else None

    def add_load(self, load: ModelLoad) -> None:
        with self._guard("record a model load"):
            self._redis.rpush(LOADS_KEY.format(run_id=load.run_id), load.model_dump_json())

    def get_loads(self, run_id: str) -> list[ModelLoad]:
        with self._guard("read model loads"):
            raws = self._redis.lrange(LOADS_KEY.format(run_id=run_id), 0, -1)
        return [ModelLoad.model_validate_json(raw) for raw in raws]

    def claim_lapsed_leases(self, now: float | None = None) -> list[tuple[Unit, Stage]]:
        """Units whose lease lapsed (no renewal in time) and that nobody holds now; each is
        returned to exactly one caller, however many sweep at once."""
        now = time.time() if now is None else now
        claimed: list[tuple[Unit, Stage]] = []
        with self._guard("sweep leases"):
            members = self._redis.zrangebyscore(LEASES_INDEX_KEY, "-inf", now)
            for raw in members:
                member = _text(raw)
                unit, stage = parse_task_id(member)
                lease_key = LEASE_KEY.format(key=unit.key, stage=stage.value)
                if self._claim(keys=[lease_key, LEASES_INDEX_KEY], args=[member]):
                    claimed.append((unit, stage))
        return claimed

    def stale_deliveries(self, older_than_s: float, now: float | None = None
                         ) -> list[tuple[str, str]]:
        """(delivery tag, task id) of messages delivered more than `older_than_s` ago and
        still unacknowledged: their worker may have died before the unit took its lease."""
        now = time.time() if now is None else now
        found: list[tuple[str, str]] = []
        with self._guard("read the broker's unacknowledged messages"):
            members = self._redis.zrangebyscore(BROKER_UNACKED_INDEX_KEY, "-inf",
                                                now - older_than_s)
            tags = [_text(m) for m in members]
            if not tags:
                return found
            raws = self._redis.hmget(BROKER_UNACKED_KEY, tags)
        for tag, raw in zip(tags, raws, strict=True):
            task_id = _message_task_id(raw, delivered=True) if raw else None
            if task_id is not None:
                found.append((tag, task_id))
        return found

    # --- reconciling (worker.sweeper.reconcile) -------------------------------------------

    def watch_run(self, run_id: str) -> None:
        """Have the reconciler watch the run (again): on submit and resume."""
        with self._guard("mark a run active"):
            self._redis.sadd(ACTIVE_RUNS_KEY, run_id)

    def unwatch_run(self, run_id: str) -> None:
        with self._guard("mark a run inactive"):
            self._redis.srem(ACTIVE_RUNS_KEY, run_id)

    def watched_runs(self) -> list[str]:
        with self._guard("list active runs"):
            members = self._redis.smembers(ACTIVE_RUNS_KEY)
        return sorted(_text(m) for m in members)

    def carried_task_ids(self, queues: list[str]) -> set[str]:
        """Task ids that something carries now: a message waiting in one of `queues`, a
        message delivered and not yet acknowledged, or a lease (live or not yet swept)."""
        with self._guard("read the broker's queues"):
            pipe = self._redis.pipeline(transaction=False)
            pipe.hvals(BROKER_UNACKED_KEY)
            pipe.zrange(LEASES_INDEX_KEY, 0, -1)
            unacked, leased = pipe.execute()
        carried = {_text(member) for member in leased} | self.queued_task_ids(queues)
        for raw in unacked:
            carried.add(_message_task_id(raw, delivered=True) or "")
        carried.discard("")
        return carried

    def queued_task_ids(self, queues: list[str]) -> set[str]:
        """Task ids of the messages waiting in `queues` (not delivered yet)."""
        lists = [queue if step == 0 else f"{queue}{BROKER_PRIORITY_SEPARATOR}{step}"
                 for queue in queues for step in BROKER_PRIORITY_STEPS]
        with self._guard("read the broker's queues"):
            pipe = self._redis.pipeline(transaction=False)
            for name in lists:
                pipe.lrange(name, 0, -1)
            queued = pipe.execute()
        ids = {_message_task_id(raw, delivered=False) or "" for messages in queued
               for raw in messages}
        ids.discard("")
        return ids

    def claim_orphan(self, task_id: str, grace_s: float, now: float | None = None) -> bool:
        """True for exactly one caller, once `task_id` was reported orphaned (due, carried by
        nothing) on an earlier call at least `grace_s` ago: a message between a worker's
        pop and its acknowledgement bookkeeping is invisible for a moment, a lost one stays
        invisible."""
        now = time.time() if now is None else now
        with self._guard("claim an orphaned unit"):
            return bool(self._claim_orphan(keys=[ORPHAN_KEY.format(task_id=task_id)],
                                           args=[now, grace_s, _ms(max(10 * grace_s, 60))]))

    def forget_orphans(self, task_ids: list[str]) -> None:
        """Drop the orphan marks of task ids seen carried again."""
        if task_ids:
            with self._guard("clear orphan marks"):
                self._redis.delete(*(ORPHAN_KEY.format(task_id=t) for t in task_ids))

    def claim_resend(self, tag: str, ttl_s: float) -> bool:
        """True for exactly one caller per stale delivery (for `ttl_s`)."""
        with self._guard("claim a stale delivery"):
            return bool(self._redis.set(RESENT_KEY.format(tag=tag), "1", nx=True,
                                        px=_ms(ttl_s)))


def _text(value: object) -> str:
    """A Redis reply element as text (members come back as bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _message_task_id(raw: bytes | str, *, delivered: bool) -> str | None:
    """The Celery task id in a kombu message as the Redis transport stores it: the message
    itself in a queue list, `[message, exchange, routing key]` once delivered."""
    try:
        message = json.loads(raw)
        if delivered:
            message = message[0]
        return str(message["headers"]["id"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None
