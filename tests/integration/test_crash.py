"""Nothing is lost when a worker dies mid-task: the unacknowledged task is delivered again
(acks_late + Redis visibility timeout) and the run completes with one record per unit."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from fakellm import FakeLlamaServer, LatencyModel, canned_answers
from orchestrator.localstack import LocalStack
from worker.dispatch import SCORE_QUEUE, llm_queue

# its own deadlines (60 s + 120 s) must fail first, with the workers' logs
pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.redis, pytest.mark.timeout(300)]


def jqbench(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator", *args],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=300)


def test_sigkilled_worker_loses_nothing(tmp_path: Path, redis_url: str, sandbox_image: str
                                        ) -> None:
    slow = LatencyModel(base_s=2.0)  # shorter than the visibility timeout below
    with FakeLlamaServer(canned_answers("reference"), latency=slow) as server, \
            LocalStack(workdir=tmp_path / "stack") as stack:
        config = tmp_path / "models.yaml"
        config.write_text(yaml.safe_dump({"models": {"m": {"base_url": server.base_url}}}))
        env = {"REDIS_URL": redis_url, "JQ_SANDBOX_IMAGE": sandbox_image,
               "JQ_VISIBILITY_TIMEOUT_S": "5", "JQ_UNACKED_RESTORE_S": "1",
               "JQ_TEST_TIMEOUT_S": "30"}
        doomed = stack.start_worker("llm-doomed", [llm_queue("m")], 1, env)
        stack.start_worker("score", [SCORE_QUEUE], 2, env)
        submitted = jqbench("submit", "--models", "m", "--levels", "L1", "--config", str(config),
                            "--run-id", "crash", env=env)
        assert submitted.returncode == 0, submitted.stderr
        deadline = time.monotonic() + 60
        while not any(r.path.endswith("/chat/completions") for r in server.requests):
            assert time.monotonic() < deadline, doomed.log_tail()
            time.sleep(0.1)
        os.killpg(doomed.process.pid, signal.SIGKILL)  # the worker and its pool, mid-request
        doomed.process.wait(10)
        stack.start_worker("llm-rescue", [llm_queue("m")], 1, env)
        deadline = time.monotonic() + 120
        while True:
            status = json.loads(jqbench("status", "crash", "--json", env=env).stdout)
            if status["done"]:
                break
            assert time.monotonic() < deadline, stack.children[-1].log_tail()
            time.sleep(1)
        assert status["models"]["m"] == {"total": 1, "scored": 1}
        chat = [r for r in server.requests if r.path.endswith("/chat/completions")]
        assert len(chat) == 2  # the killed call, then the redelivered one
