"""Nothing is lost when workers die mid-unit, at default settings: the unit's lease lapses,
a living worker's sweeper sends it again (long before Redis's six-hour visibility timeout),
the run completes, and nothing is generated or scored more often than the policy allows.

The test waits out a real default lease (JQ_LEASE_S, 120 s), so it takes minutes."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import docker
import pytest
import yaml

from fakellm import FakeLlamaServer, LatencyModel, canned_answers
from orchestrator.localstack import Child, LocalStack
from worker.dispatch import SCORE_QUEUE, llm_queue
from worker.sandbox import LABEL_RUN
from worker.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.redis, pytest.mark.chaos,
              pytest.mark.timeout(600)]

DEFAULTS = Settings()
#: Model a's answer time: long enough that its call is surely still running when model b's
#: sandbox starts and both workers are killed, even with other tests beside this one.
CALL_S = 20.0
#: Kill to re-delivery: the lease must lapse, then a sweep must come; plus the work itself.
BOUND_S = DEFAULTS.lease_s + DEFAULTS.sweep_interval_s + CALL_S + 90


def jqbench(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator", *args],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=300)


def wait_for(what: str, check: Callable[[], bool], timeout_s: float,
             logs: Callable[[], str]) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout_s, f"no {what} in {timeout_s:g} s\n{logs()}"
        time.sleep(0.5)
    return time.monotonic() - started


def kill_group(child: Child) -> None:
    os.killpg(child.process.pid, signal.SIGKILL)  # the worker and its pool, mid-unit
    child.process.wait(10)


def status(run_id: str, env: dict[str, str]) -> dict:
    return json.loads(jqbench("status", run_id, "--json", env=env).stdout)


def sandboxes_created(client: docker.DockerClient, run_id: str, since: float) -> int:
    events = client.events(since=int(since), until=int(time.time()) + 1, decode=True,
                           filters={"event": "create", "label": f"{LABEL_RUN}={run_id}"})
    return sum(1 for _ in events)


def run_containers(client: docker.DockerClient, run_id: str) -> list:
    return client.containers.list(all=True, filters={"label": f"{LABEL_RUN}={run_id}"})


def test_sigkilled_workers_mid_generate_and_mid_score(tmp_path: Path, redis_url: str,
                                                     sandbox_image: str) -> None:
    """Model a's worker dies during its call, the score worker during model b's scoring; the
    two leases lapse side by side, so one wait covers both."""
    client = docker.from_env()
    started = time.time() - 1
    slow = LatencyModel(base_s=CALL_S)
    with FakeLlamaServer(canned_answers("reference"), latency=slow) as server_a, \
            FakeLlamaServer(canned_answers("reference")) as server_b, \
            LocalStack(workdir=tmp_path / "stack") as stack:
        config = tmp_path / "models.yaml"
        config.write_text(yaml.safe_dump({"models": {"a": {"base_url": server_a.base_url},
                                                     "b": {"base_url": server_b.base_url}}}))
        env = {"REDIS_URL": redis_url, "JQ_SANDBOX_IMAGE": sandbox_image}
        doomed_llm = stack.start_worker("llm-a-doomed", [llm_queue("a")], 1, env)
        stack.start_worker("llm-b", [llm_queue("b")], 1, env)
        doomed_score = stack.start_worker("score-doomed", [SCORE_QUEUE], 1, env)
        submitted = jqbench("submit", "--models", "a", "b", "--levels", "L2", "--config",
                            str(config), "--run-id", "crash", env=env)
        assert submitted.returncode == 0, submitted.stderr

        def logs() -> str:
            return "\n".join(c.log_tail() for c in stack.children)

        wait_for("model a's call", lambda: chats(server_a) == 1, 60, logs)
        call_seen = time.monotonic()
        wait_for("model b's sandbox", lambda: any(
            c.status == "running" for c in run_containers(client, "crash")), 60, logs)
        assert time.monotonic() - call_seen < CALL_S - 2, "a's call ended before the kill"
        kill_group(doomed_llm)
        kill_group(doomed_score)
        killed_at = time.monotonic()
        stack.start_worker("llm-a-rescue", [llm_queue("a")], 1, env)
        stack.start_worker("score-rescue", [SCORE_QUEUE], 1, env)
        took = wait_for("finished run", lambda: status("crash", env)["done"], BOUND_S, logs)
        print(f"SIGKILL mid-generate and mid-score -> run done in "
              f"{time.monotonic() - killed_at:.0f} s")
        assert status("crash", env)["models"] == {"a": {"total": 1, "scored": 1},
                                                  "b": {"total": 1, "scored": 1}}
        assert chats(server_a) == 2, "the killed call, then exactly one new delivery"
        assert chats(server_b) == 1, "b's answer was kept: no second model call"
        # a: one sandbox; b: the killed one and one more
        assert sandboxes_created(client, "crash", started) == 3
        assert took <= BOUND_S
        # the killed worker's sandbox was removed by a living worker
        assert run_containers(client, "crash") == []
    client.close()


def chats(server: FakeLlamaServer) -> int:
    return sum(1 for r in server.requests if r.path.endswith("/chat/completions"))
