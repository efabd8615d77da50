"""A model server killed mid-answer and started again: the calls it dropped are tried again
under the retry policy (infrastructure: back-off), the run completes, and no answer is asked
for more than once beyond the dropped calls."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from fakellm import FakeLlamaServer, LatencyModel, canned_answers
from orchestrator.localstack import LocalStack, free_port
from worker.dispatch import SCORE_QUEUE, llm_queue

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.redis, pytest.mark.chaos]


def chats(server: FakeLlamaServer) -> list[str]:
    return [str(r.level) for r in server.requests if r.path.endswith("/chat/completions")]


def test_a_restarted_model_server_loses_nothing(tmp_path: Path, redis_url: str,
                                                sandbox_image: str) -> None:
    port = free_port()
    # two slots: jqbench sends no more requests than a server has slots
    first = FakeLlamaServer(canned_answers("reference"), port=port, slots=2,
                            latency=LatencyModel(base_s=3.0)).start()
    with LocalStack(workdir=tmp_path / "stack") as stack:
        config = tmp_path / "models.yaml"
        config.write_text(yaml.safe_dump({"models": {"m": {"base_url": first.base_url}}}))
        env = {"REDIS_URL": redis_url, "JQ_SANDBOX_IMAGE": sandbox_image}
        stack.start_worker("llm", [llm_queue("m")], 2, env)
        stack.start_worker("score", [SCORE_QUEUE], 2, env)
        output = tmp_path / "results"
        submit = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "submit", "--models", "m", "--levels", "L1",
             "L4", "--config", str(config), "--run-id", "restart", "--output", str(output),
             "--wait"], env={**os.environ, **env}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while len(chats(first)) < 2:  # both answering
            assert time.monotonic() < deadline, stack.children[0].log_tail()
            time.sleep(0.1)
        first.stop()  # mid-answer: both connections are cut
        time.sleep(3)
        with FakeLlamaServer(canned_answers("reference"), port=port, slots=2) as second:
            _, err = submit.communicate(timeout=180)
            assert submit.returncode == 0, err + stack.children[0].log_tail()
            assert sorted(chats(second)) == ["L1", "L4"]  # each dropped call once more
    assert sorted(chats(first)) == ["L1", "L4"]
    for level in ("L1", "L4"):
        record = json.loads((output / "restart" / "attempts" / "m" / "iter1" / f"{level}.json")
                            .read_text())
        assert record["status"] == "scored" and record["tries"] >= 2
        assert {r["kind"] for r in record["retries"]} == {"infra"}
