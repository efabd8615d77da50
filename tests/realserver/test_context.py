"""A real llama-server with too small a context per slot: the harness counts the prompt with
the server's own template and tokenizer and records a context error for the unit, without
asking the model (worker/context_fit.py), instead of scoring an answer to a cut prompt."""

import json
import re
from pathlib import Path

import pytest

from orchestrator.localstack import LocalStack
from tests.realserver.harness import jqbench, worker_env, write_models
from tests.realserver.server import llama_server
from worker.dispatch import llm_queue

pytestmark = [pytest.mark.realserver, pytest.mark.redis, pytest.mark.timeout(180)]


def metric(text: str, name: str) -> float:
    """One value of the server's Prometheus text."""
    found = re.search(rf"^llamacpp:{name} (\S+)$", text, re.MULTILINE)
    assert found is not None, f"no llamacpp:{name} in /metrics"
    return float(found.group(1))


@pytest.mark.parametrize(("ctx", "max_tokens", "why"), [
    (256, 32, "it would be cut"),  # the L1 prompt alone is longer than the slot's context
    (1024, 900, "plus max_tokens"),  # it fits, but leaves no room for the answer
])
def test_a_prompt_that_does_not_fit_is_a_context_error_not_a_score(
    llama_server_bin: Path, tiny_model: Path, tmp_path: Path, redis_url: str,
    ctx: int, max_tokens: int, why: str
) -> None:
    args = ["-m", str(tiny_model), "-c", str(ctx), "--parallel", "1", "--metrics"]
    with llama_server(llama_server_bin, args, tmp_path / "server.log") as server, \
            LocalStack(workdir=tmp_path / "stack") as stack:
        config = write_models(tmp_path / "models.yaml", {
            "tiny": {"base_url": server.base_url, "max_tokens": max_tokens}})
        env = worker_env(redis_url)
        llm = stack.start_worker("llm", [llm_queue("tiny")], 1, env)
        output = tmp_path / "results"
        run = jqbench("submit", "--models", "tiny", "--levels", "L1", "--iterations", "1",
                      "--config", str(config), "--run-id", "small-ctx", "--output",
                      str(output), "--wait", "--timeout", "120", env=env)
        assert run.returncode == 1, f"{run.stdout}\n{run.stderr}\n{llm.log_tail(40)}"

        attempt = json.loads((output / "small-ctx" / "attempts" / "tiny" / "iter1" / "L1.json")
                             .read_text())
        assert attempt["status"] == "infra_error"
        assert attempt["infra_stage"] == "context"
        assert why in attempt["error"] and str(ctx) in attempt["error"]
        assert attempt["prompt_tokens_counted"] > 0  # counted by the real server
        assert attempt["answer"] == "" and attempt["report"] is None and attempt["tries"] == 0
        run_json = json.loads((output / "small-ctx" / "run.json").read_text())
        assert run_json["endpoints"]["tiny"]["n_ctx"] == ctx
        metrics = server.text("/metrics")
        assert metric(metrics, "prompt_tokens_total") == 0  # the model was never asked
        assert metric(metrics, "tokens_predicted_total") == 0

