"""Messages that Redis itself lost (a restart without append-only persistence, or from an
older snapshot) are sent again by the workers' reconciler: the run completes, and no unit
is generated more often than the loss forces.

Short sweeps (JQ_SWEEP_S=2, JQ_LEASE_S=10) keep these tests quick; the crash tests show the
default timings."""

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
import yaml

from fakellm import FakeLlamaServer, LatencyModel, canned_answers
from orchestrator.localstack import LocalStack
from worker.dispatch import SCORE_QUEUE, llm_queue

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.redis, pytest.mark.chaos,
              pytest.mark.timeout(300)]

QUICK = {"JQ_SWEEP_S": "2", "JQ_LEASE_S": "10"}


def jqbench(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator", *args],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


def chats_per_unit(server: FakeLlamaServer) -> Counter[str]:
    return Counter(f"{r.level}" for r in server.requests if r.path.endswith("/chat/completions"))


def wait_done(run_id: str, env: dict[str, str], timeout_s: float, logs: Callable[[], str]
              ) -> dict:
    started = time.monotonic()
    while True:
        done = jqbench("status", run_id, "--json", env=env)
        if done.returncode == 0 and json.loads(done.stdout)["done"]:
            print(f"{run_id}: done {time.monotonic() - started:.1f} s after the loss")
            return json.loads(done.stdout)
        assert time.monotonic() - started < timeout_s, f"{done.stdout}\n{logs()}"
        time.sleep(1)


def test_a_queue_lost_by_redis_is_sent_again(tmp_path: Path, sandbox_image: str) -> None:
    with FakeLlamaServer(canned_answers("reference"), slots=2) as server, \
            LocalStack(workdir=tmp_path / "stack") as stack:
        url = stack.start_redis()
        config = tmp_path / "models.yaml"
        config.write_text(yaml.safe_dump({"models": {"m": {"base_url": server.base_url}}}))
        env = {"REDIS_URL": url, "JQ_SANDBOX_IMAGE": sandbox_image, **QUICK}
        stack.start_worker("score", [SCORE_QUEUE], 2, env)
        submitted = jqbench("submit", "--models", "m", "--levels", "L1", "L4", "--config",
                            str(config), "--run-id", "lost", env=env)
        assert submitted.returncode == 0, submitted.stderr
        client = redis.Redis.from_url(url)
        assert client.llen(llm_queue("m")) == 2
        client.delete(llm_queue("m"))  # what a Redis restart without persistence does
        stack.start_worker("llm", [llm_queue("m")], 2, env)
        status = wait_done("lost", env, 90, lambda: "\n".join(
            c.log_tail() for c in stack.children))
        assert status["models"]["m"] == {"total": 2, "scored": 2}
        assert chats_per_unit(server) == {"L1": 1, "L4": 1}


def test_redis_restarted_from_an_older_snapshot_completes(tmp_path: Path,
                                                          sandbox_image: str) -> None:
    slow = LatencyModel(base_s=2.0)
    with FakeLlamaServer(canned_answers("reference"), latency=slow, slots=1) as server, \
            LocalStack(workdir=tmp_path / "stack") as stack:
        url = stack.start_redis()
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        config = tmp_path / "models.yaml"
        config.write_text(yaml.safe_dump({"models": {"m": {"base_url": server.base_url}}}))
        env = {"REDIS_URL": url, "JQ_SANDBOX_IMAGE": sandbox_image, **QUICK}
        # as compose runs them: a worker that crashes is started again (kombu 5.7 can die
        # on a lost connection while it restores unacknowledged messages)
        stack.start_worker("llm", [llm_queue("m")], 1, env, restart_on_failure=True)
        stack.start_worker("score", [SCORE_QUEUE], 2, env, restart_on_failure=True)
        submitted = jqbench("submit", "--models", "m", "--levels", "L1", "L2", "L4",
                            "--config", str(config), "--run-id", "snap", env=env)
        assert submitted.returncode == 0, submitted.stderr
        client = redis.Redis.from_url(url)
        client.save()  # the snapshot: the run and its first messages
        deadline = time.monotonic() + 60
        while sum(chats_per_unit(server).values()) < 2:  # work done after the snapshot
            assert time.monotonic() < deadline, stack.children[-1].log_tail()
            time.sleep(0.1)
        client.shutdown(nosave=True)  # Redis dies; what followed the snapshot is gone
        client.close()
        next(c for c in stack.children if c.name == f"redis-{port}").process.wait(10)
        stack.start_redis(port=port)  # loads the snapshot
        status = wait_done("snap", env, 120, lambda: "\n".join(
            c.log_tail(80) for c in stack.children if not c.name.startswith("redis")))
        assert status["models"]["m"] == {"total": 3, "scored": 3}
        # a unit answered after the snapshot lost its record with it, and is asked again
        assert all(count <= 2 for count in chats_per_unit(server).values()), \
            chats_per_unit(server)
