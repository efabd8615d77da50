"""Concurrency is ours to enforce: two Celery workers with four processes each, against a
fake llama-server with two slots, never have more than two requests at the server at once
(llama-server would queue the rest silently, inside the calls' durations and timeouts)."""

from pathlib import Path

import pytest
import yaml

from fakellm import FakeLlamaServer, LatencyModel, canned_answers
from orchestrator.localstack import LocalStack
from tests.submitting import stored_run, submit, wait_until_generated
from worker.dispatch import llm_queue
from worker.inflight import server_key

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.timeout(300)]

ITERATIONS = 3


def test_two_workers_of_four_never_exceed_the_servers_two_slots(
    tmp_path: Path, redis_url: str
) -> None:
    with FakeLlamaServer(canned_answers("reference"), slots=2,
                         latency=LatencyModel(base_s=0.3)) as server, \
            LocalStack(workdir=tmp_path / "stack") as stack:
        config = tmp_path / "models.yaml"
        # the models file claims 4 slots; the server's /props says 2, and 2 it is
        config.write_text(yaml.safe_dump(
            {"models": {"m": {"base_url": server.base_url, "slots": 4}}}))
        env = {"REDIS_URL": redis_url}
        for name in ("llm-a", "llm-b"):
            stack.start_worker(name, [llm_queue("m")], 4, env)
        submit("--models", "m", "--config", str(config), "--iterations", str(ITERATIONS),
               "--run-id", "slots", env=env)
        store, run = stored_run(redis_url, "slots")
        units = run.units()
        wait_until_generated(store, run, 180)  # generated is enough: no scoring worker listens

        chats = [r for r in server.requests if r.path.endswith("/chat/completions")]
        assert len(chats) == len(units) == 5 * ITERATIONS
        assert server.model.slots.peak == 2  # the cap held, and the work did overlap
        attempts = store.get_attempts(run)
        assert sum(a.slot_wait_s for a in attempts.values()) > 0  # waited at our gate
        assert server_key(run, "m") == server.url
        assert store.server_slots_held(server.url) == 0  # every slot given back
