"""Redis, stopped mid-run and started again (append-only, fsynced on every write, as compose
runs it): workers reconnect, the units caught in flight come back through their leases, the
run completes, and no answer is asked for more than once beyond the calls the stop cut."""

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from fakellm import FakeLlamaServer, LatencyModel, canned_answers
from orchestrator.localstack import LocalStack
from worker.dispatch import SCORE_QUEUE, llm_queue
from worker.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.redis, pytest.mark.chaos,
              pytest.mark.timeout(600)]

DEFAULTS = Settings()
BOUND_S = DEFAULTS.lease_s + DEFAULTS.sweep_interval_s + 120


def status(run_id: str, env: dict[str, str]) -> dict | None:
    done = subprocess.run([sys.executable, "-m", "orchestrator", "status", run_id, "--json"],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    return json.loads(done.stdout) if done.returncode == 0 else None


def test_redis_restart_mid_run_loses_nothing(tmp_path: Path, sandbox_image: str) -> None:
    slow = LatencyModel(base_s=4.0)
    with FakeLlamaServer(canned_answers("reference"), latency=slow, slots=2) as server, \
            LocalStack(workdir=tmp_path / "stack") as stack:
        url = stack.start_redis(durable=True)
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        config = tmp_path / "models.yaml"
        config.write_text(yaml.safe_dump({"models": {"m": {"base_url": server.base_url}}}))
        env = {"REDIS_URL": url, "JQ_SANDBOX_IMAGE": sandbox_image}
        stack.start_worker("llm", [llm_queue("m")], 2, env)
        stack.start_worker("score", [SCORE_QUEUE], 2, env)
        submitted = subprocess.run(
            [sys.executable, "-m", "orchestrator", "submit", "--models", "m", "--levels", "L1",
             "L4", "--config", str(config), "--run-id", "outage"],
            env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
        assert submitted.returncode == 0, submitted.stderr

        def chats() -> Counter[str]:
            return Counter(str(r.level) for r in server.requests
                           if r.path.endswith("/chat/completions"))

        deadline = time.monotonic() + 60
        while sum(chats().values()) < 2:
            assert time.monotonic() < deadline, stack.children[-1].log_tail()
            time.sleep(0.1)
        redis_child = next(c for c in stack.children if c.name == f"redis-{port}")
        redis_child.stop()  # SIGTERM: a graceful shutdown
        time.sleep(3)
        stack.start_redis(port=port, durable=True)
        stopped_at = time.monotonic()
        while True:
            now = status("outage", env)
            if now is not None and now["done"]:
                break
            assert time.monotonic() - stopped_at < BOUND_S, "\n".join(
                c.log_tail() for c in stack.children)
            time.sleep(2)
        print(f"Redis restart -> run done in {time.monotonic() - stopped_at:.0f} s")
        assert now["models"]["m"] == {"total": 2, "scored": 2}
        assert all(count <= 2 for count in chats().values()), chats()
