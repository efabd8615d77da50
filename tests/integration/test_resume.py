"""Infrastructure failures for real: a server that drops a connection makes an iteration
incomplete (never scored), blocks the rest of its chain, and `resume` finishes it; then
`regrade` rescores the stored answers without asking the model again."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from challenge.levels import Level
from fakellm import Drop, FakeLlamaServer, FaultPlan, FaultRule, canned_answers
from orchestrator.localstack import LocalStack
from worker.dispatch import SCORE_QUEUE, llm_queue
from worker.store import RecordStore
from worker.unit import Unit

# submit, resume and regrade each wait for Docker scoring (L2 twice); each may take 300 s
pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.redis, pytest.mark.chaos,
              pytest.mark.timeout(600)]


def jqbench(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator", *args],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=300)


def test_dropped_connection_blocks_the_chain_until_resume(
    tmp_path: Path, redis_url: str, sandbox_image: str
) -> None:
    faults = FaultPlan([FaultRule(Drop(reset=True), level="L1", times=1)])
    with FakeLlamaServer(canned_answers("reference"), faults=faults) as server, \
            LocalStack(workdir=tmp_path / "stack") as stack:
        config = tmp_path / "models.yaml"
        config.write_text(yaml.safe_dump({"models": {"m": {"base_url": server.base_url}}}))
        env = {"REDIS_URL": redis_url, "JQ_SANDBOX_IMAGE": sandbox_image,
               "JQ_INFRA_RETRIES": "0", "JQ_TEST_TIMEOUT_S": "30"}
        stack.start_worker("llm", [llm_queue("m")], 1, env)
        stack.start_worker("score", [SCORE_QUEUE], 2, env)
        output = tmp_path / "results"
        common = ["--output", str(output), "--wait"]
        first = jqbench("submit", "--models", "m", "--levels", "L1", "L2", "L4",
                        "--config", str(config), "--run-id", "flaky", *common, env=env)
        assert first.returncode == 1, first.stderr
        status = json.loads(jqbench("status", "flaky", "--json", env=env).stdout)
        assert status["models"]["m"] == {"total": 3, "infra_error": 1, "blocked": 1, "scored": 1}
        result = json.loads((output / "flaky" / "result_m.json").read_text())
        assert result["statistics"]["all_scores"] == []
        assert result["incomplete_iterations"][0]["iteration"] == 1
        attempt = json.loads((output / "flaky" / "attempts" / "m" / "iter1" / "L1.json")
                             .read_text())
        assert attempt["status"] == "infra_error" and attempt["report"] is None

        second = jqbench("resume", "flaky", *common, env=env)
        assert second.returncode == 0, second.stderr
        result = json.loads((output / "flaky" / "result_m.json").read_text())
        assert result["statistics"]["all_scores"] == [65]  # L1 25 + L2 25 + L4 15
        chat = [r for r in server.requests if r.path.endswith("/chat/completions")]
        # L1 twice (dropped, then retried by resume), L2 and L4 once each: nothing re-asked
        assert sorted(r.level for r in chat) == ["L1", "L1", "L2", "L4"]

        # regrade: pretend L4 was scored by an older scoring version with other points
        store = RecordStore.from_url(redis_url)
        l4 = Unit("flaky", "m", 1, Level.L4)
        old = store.get_attempt(l4)
        assert old is not None and old.report is not None
        assert old.scores == {"legacy": 15.0, "strict": 15.0}
        old.report.scores = {"legacy": 3.0, "strict": 1.5}
        old.scoring_version = "0.0.1+old"
        store.save_attempt(old)
        requests_before = len(server.requests)
        regraded = jqbench("regrade", "flaky", "--output", str(output), env=env)
        assert regraded.returncode == 0, regraded.stderr
        assert len(server.requests) == requests_before  # no model was called
        assert "L4" in regraded.stdout and "1.5" in regraded.stdout and "15" in regraded.stdout
        new = store.get_attempt(l4)
        assert new is not None and new.scores == {"legacy": 15.0, "strict": 15.0}
        assert new.scoring_version != "0.0.1+old"
        assert new.previous_scores[-1]["scoring_version"] == "0.0.1+old"
        assert new.previous_scores[-1]["scores"] == {"legacy": 3.0, "strict": 1.5}
        rewritten = json.loads((output / "flaky" / "attempts" / "m" / "iter1" / "L4.json")
                               .read_text())
        assert rewritten["previous_scores"][-1]["scoring_version"] == "0.0.1+old"
        result = json.loads((output / "flaky" / "result_m.json").read_text())
        assert result["statistics_strict"]["all_scores"] == [65]
