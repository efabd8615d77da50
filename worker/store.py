"""The record store: the only module that touches Redis keys. Takes and returns pydantic models."""

from collections.abc import Iterable

import redis

from challenge.levels import Level
from worker.errors import RedisUnavailable
from worker.records import Attempt, Run, attempt_key

RUN_KEY = "jqbench:run:{run_id}"
RUNS_INDEX_KEY = "jqbench:runs"
ATTEMPT_KEY = "jqbench:attempt:{key}"


class RecordStore:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    @classmethod
    def from_url(cls, url: str) -> "RecordStore":
        store = cls(redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30))
        store.ping(url)
        return store

    def ping(self, url: str = "") -> None:
        try:
            self._redis.ping()
        except redis.RedisError as exc:
            where = f" at {url}" if url else ""
            raise RedisUnavailable(
                f"Redis does not answer{where}: {exc} (start redis-server or set REDIS_URL)"
            ) from None

    def save_run(self, run: Run) -> None:
        pipe = self._redis.pipeline()
        pipe.set(RUN_KEY.format(run_id=run.run_id), run.model_dump_json())
        pipe.zadd(RUNS_INDEX_KEY, {run.run_id: run.created_at.timestamp()})
        pipe.execute()

    def get_run(self, run_id: str) -> Run | None:
        raw = self._redis.get(RUN_KEY.format(run_id=run_id))
        return Run.model_validate_json(raw) if raw else None

    def run_ids(self) -> list[str]:
        return [r.decode() for r in self._redis.zrange(RUNS_INDEX_KEY, 0, -1)]

    def save_attempt(self, attempt: Attempt) -> None:
        self._redis.set(ATTEMPT_KEY.format(key=attempt.key), attempt.model_dump_json())

    def get_attempt(self, run_id: str, model: str, iteration: int, level: Level) -> Attempt | None:
        raw = self._redis.get(ATTEMPT_KEY.format(key=attempt_key(run_id, model, iteration, level)))
        return Attempt.model_validate_json(raw) if raw else None

    def get_attempts(self, run: Run) -> dict[tuple[str, int, Level], Attempt]:
        """Every stored attempt of a run, keyed by (model, iteration, level)."""
        slots = list(_planned(run))
        keys = [ATTEMPT_KEY.format(key=attempt_key(run.run_id, m, i, lv)) for m, i, lv in slots]
        found: dict[tuple[str, int, Level], Attempt] = {}
        for slot, raw in zip(slots, self._redis.mget(keys) if keys else [], strict=True):
            if raw:
                found[slot] = Attempt.model_validate_json(raw)
        return found


def _planned(run: Run) -> Iterable[tuple[str, int, Level]]:
    for model in run.spec.models:
        for iteration in range(1, run.spec.iterations + 1):
            for level in run.spec.levels:
                yield model, iteration, level
