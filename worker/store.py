"""The record store: the only module that touches Redis keys. Takes and returns pydantic models."""

import json
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from worker.errors import RedisUnavailable
from worker.records import Attempt, Run
from worker.text import safe_data
from worker.unit import Unit

RUN_KEY = "jqbench:run:{run_id}"
RUNS_INDEX_KEY = "jqbench:runs"
ATTEMPT_KEY = "jqbench:attempt:{key}"


class StoreUnavailable(RedisUnavailable):
    """Redis failed during a read or write of records (it answered before)."""


class RecordStore:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    @classmethod
    def from_url(cls, url: str) -> "RecordStore":
        """A store on `url`, checked with a ping (RedisUnavailable if it does not answer)."""
        store = cls(redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30))
        store.ping(url)
        return store

    def close(self) -> None:
        self._redis.close()

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

    def save_run(self, run: Run) -> None:
        with self._guard("save a run"):
            pipe = self._redis.pipeline()
            pipe.set(RUN_KEY.format(run_id=run.run_id), run.model_dump_json())
            pipe.zadd(RUNS_INDEX_KEY, {run.run_id: run.created_at.timestamp()})
            pipe.execute()

    def get_run(self, run_id: str) -> Run | None:
        with self._guard("read a run"):
            raw = self._redis.get(RUN_KEY.format(run_id=run_id))
        return Run.model_validate_json(raw) if raw else None

    def run_ids(self) -> list[str]:
        with self._guard("list runs"):
            members = self._redis.zrange(RUNS_INDEX_KEY, 0, -1)
        return [m.decode() if isinstance(m, bytes) else str(m) for m in members]

    def save_attempt(self, attempt: Attempt) -> None:
        """Write the attempt; any text in it that cannot be UTF-8 is made safe first."""
        document = json.dumps(safe_data(attempt.model_dump(mode="json")), ensure_ascii=False)
        with self._guard("save an attempt"):
            self._redis.set(ATTEMPT_KEY.format(key=attempt.key), document)

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
