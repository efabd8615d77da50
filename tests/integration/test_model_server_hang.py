"""Servers that accept a call and never answer it, over a whole run (real Redis, Celery workers,
Docker): a timed-out call is followed by a `/health` probe (docs: DESIGN.md, Outcomes).

- The calls hang but `/health` answers: the server was busy with them, so each is the model's
  timeout: tried once more, then scored as a model outcome (0 points, no sandbox: no code),
  and the run completes.
- Nothing answers, `/health` included: ours. Each call is tried as the infrastructure policy
  says, then recorded as `infra_error` at stage `generate`; the run ends incomplete with
  nothing left in progress, and once a healthy server takes the hung one's place, `resume`
  finishes it.

Both count the calls in the fake server's request log against the retry policy, and check
that no sandbox container of the run is left.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from fakellm import FakeLlamaServer, FaultPlan, FaultRule, Hang, canned_answers
from fakellm.prompts import detect_level, last_user_text
from fakellm.requestlog import RequestRecord
from orchestrator.localstack import LocalStack
from worker.dispatch import SCORE_QUEUE, llm_queue
from worker.sandbox import LABEL_RUN

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.redis, pytest.mark.chaos,
              pytest.mark.timeout(240)]

#: The model's request timeout (models.yaml `timeout_s`): short, so that a run takes seconds.
TIMEOUT_S = 1
LEVELS = ("L1", "L2", "L4")


def jqbench(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator", *args],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=180)


def write_config(tmp_path: Path, server: FakeLlamaServer) -> Path:
    config = tmp_path / "models.yaml"
    config.write_text(yaml.safe_dump({"models": {"m": {
        "base_url": server.base_url, "slots": 2, "timeout_s": TIMEOUT_S}}}))
    return config


def chat_levels(records: list[RequestRecord]) -> list[str]:
    """The level each chat request asked for (read from its body: a hung server never got as
    far as noting it), sorted."""
    return sorted(str(detect_level(last_user_text(r.body["messages"])))
                  for r in records if r.path.endswith("/chat/completions"))


def health_checks(records: list[RequestRecord]) -> int:
    return sum(1 for r in records if r.path == "/health")


def attempt(output: Path, run_id: str, level: str) -> dict[str, Any]:
    path = output / run_id / "attempts" / "m" / "iter1" / f"{level}.json"
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def containers_left(run_id: str) -> list[str]:
    import docker

    client = docker.from_env()
    try:
        return [str(c.name) for c in client.containers.list(
            all=True, filters={"label": f"{LABEL_RUN}={run_id}"})]
    finally:
        client.close()


def test_calls_that_hang_while_health_answers_are_the_models_timeouts(
    tmp_path: Path, redis_url: str, sandbox_image: str
) -> None:
    hang = FaultPlan([FaultRule(Hang())])  # every chat call; /health still answers
    with FakeLlamaServer(canned_answers("reference"), slots=2, faults=hang) as server, \
            LocalStack(workdir=tmp_path / "stack") as stack:
        config = write_config(tmp_path, server)
        # infrastructure retries kept short: were a timeout taken for ours, the counts would
        # show it without the test waiting out the default back-off
        env = {"REDIS_URL": redis_url, "JQ_SANDBOX_IMAGE": sandbox_image,
               "JQ_INFRA_RETRIES": "1", "JQ_INFRA_BACKOFF_S": "0.1"}
        stack.start_worker("llm", [llm_queue("m")], 2, env)
        stack.start_worker("score", [SCORE_QUEUE], 1, env)
        output = tmp_path / "results"
        submitted = jqbench("submit", "--models", "m", "--levels", *LEVELS, "--config",
                            str(config), "--run-id", "hung-calls", "--output", str(output),
                            "--wait", "--timeout", "120", env=env)
        assert submitted.returncode == 0, submitted.stderr + stack.children[0].log_tail()
        status = json.loads(jqbench("status", "hung-calls", "--json", env=env).stdout)
        assert status["done"] and status["complete"]
        assert status["models"]["m"] == {"total": 3, "scored": 3}
        records = server.requests
    # the policy for a model's timeout: one more try, no more (and no infrastructure retry)
    assert chat_levels(records) == ["L1", "L1", "L2", "L2", "L4", "L4"]
    assert all(r.fault == "Hang" and r.status is None
               for r in records if r.path.endswith("/chat/completions"))
    assert health_checks(records) == 1 + 6  # submit's check, then one probe per timed-out call
    for level in LEVELS:
        record = attempt(output, "hung-calls", level)
        assert record["status"] == "scored" and record["infra_stage"] is None, record
        assert record["gen_outcome"] == "model_error"
        assert record["error"] == f"no answer within {TIMEOUT_S} s"
        assert record["tries"] == 2
        assert [r["kind"] for r in record["retries"]] == ["timeout"]
        assert record["answer"] == ""
        report = record["report"]
        assert report["status"] == "no_code" and report["sandbox_exit_code"] is None
        assert report["scores"] == {"legacy": 0, "strict": 0}
    result = json.loads((output / "hung-calls" / "result_m.json").read_text())
    assert result["statistics"]["all_scores"] == [0]  # a complete iteration, scored 0
    assert result["incomplete_iterations"] == []
    assert containers_left("hung-calls") == []


def test_a_server_that_answers_nothing_is_ours_and_resume_finishes_the_run(
    tmp_path: Path, redis_url: str, sandbox_image: str
) -> None:
    first = FakeLlamaServer(canned_answers("reference"), slots=2).start()
    with LocalStack(workdir=tmp_path / "stack") as stack:
        try:
            config = write_config(tmp_path, first)
            env = {"REDIS_URL": redis_url, "JQ_SANDBOX_IMAGE": sandbox_image,
                   "JQ_INFRA_RETRIES": "1", "JQ_INFRA_BACKOFF_S": "0.1",
                   "JQ_TEST_TIMEOUT_S": "30"}
            output = tmp_path / "results"
            # submitted while the server is healthy (submit checks it), hung before any
            # worker is there to take the units
            submitted = jqbench("submit", "--models", "m", "--levels", *LEVELS, "--config",
                                str(config), "--run-id", "hung-server", "--output",
                                str(output), env=env)
            assert submitted.returncode == 0, submitted.stderr
            hung_at = time.time()
            first.set_hanging(True)
            stack.start_worker("llm", [llm_queue("m")], 2, env)
            stack.start_worker("score", [SCORE_QUEUE], 2, env)
            watched = jqbench("watch", "hung-server", "--output", str(output),
                              "--timeout", "120", env=env)
            assert watched.returncode == 1, watched.stderr + stack.children[0].log_tail()
            status = json.loads(jqbench("status", "hung-server", "--json", env=env).stdout)
            assert status["done"] and not status["complete"]
            # L1 and L4 failed on our side, L2 waits behind L1; nothing stuck in progress
            assert status["models"]["m"] == {"total": 3, "infra_error": 2, "blocked": 1}
            hung = [r for r in first.requests if r.received_at >= hung_at]
        finally:
            first.stop()
        # the policy for ours: the first try and JQ_INFRA_RETRIES=1 more, per unit
        assert chat_levels(hung) == ["L1", "L1", "L4", "L4"]
        assert health_checks(hung) == 4  # one probe per timed-out call
        assert all(r.status is None and r.extra.get("hung") for r in hung)  # none answered
        for level in ("L1", "L4"):
            record = attempt(output, "hung-server", level)
            assert record["status"] == "infra_error" and record["infra_stage"] == "generate"
            assert record["error"] == (f"no answer within {TIMEOUT_S} s, and the server does "
                                       "not answer /health either")
            assert record["tries"] == 2 and [r["kind"] for r in record["retries"]] == ["infra"]
            assert record["gen_outcome"] is None and record["report"] is None
        assert not (output / "hung-server" / "attempts" / "m" / "iter1" / "L2.json").exists()
        result = json.loads((output / "hung-server" / "result_m.json").read_text())
        assert result["statistics"]["all_scores"] == []
        assert result["incomplete_iterations"][0]["iteration"] == 1

        # a healthy server takes the hung one's place (same address): resume finishes the run
        with FakeLlamaServer(canned_answers("reference"), port=first.port, slots=2) as second:
            resumed = jqbench("resume", "hung-server", "--output", str(output), "--wait",
                              "--timeout", "150", env=env)
            assert resumed.returncode == 0, resumed.stderr + stack.children[0].log_tail()
            healthy = second.requests
        assert chat_levels(healthy) == ["L1", "L2", "L4"]  # each unit asked once more
        status = json.loads(jqbench("status", "hung-server", "--json", env=env).stdout)
        assert status["complete"] and status["models"]["m"] == {"total": 3, "scored": 3}
        result = json.loads((output / "hung-server" / "result_m.json").read_text())
        assert result["statistics"]["all_scores"] == [65]  # L1 25 + L2 25 + L4 15
        assert result["incomplete_iterations"] == []
    assert containers_left("hung-server") == []
