"""A real llama-server with two slots and a worker of four processes: never more than two
requests reach the server at once (it would queue the rest silently, inside the calls'
durations), both slots are used, and the run completes with every unit recorded."""

import json
from pathlib import Path

import pytest

from orchestrator.localstack import LocalStack
from tests.realserver.harness import jqbench, worker_env, write_models
from tests.realserver.server import llama_server, slot_activity
from worker.dispatch import SCORE_QUEUE, llm_queue

pytestmark = [pytest.mark.realserver, pytest.mark.redis, pytest.mark.docker,
              pytest.mark.timeout(300)]

ITERATIONS = 4
#: Long enough answers that two calls overlap on the server.
MAX_TOKENS = 400


def test_a_worker_of_four_never_has_more_than_the_two_slots_in_flight(
    llama_server_bin: Path, tiny_model: Path, tmp_path: Path, redis_url: str,
    sandbox_image: str
) -> None:
    # -v: the server logs each task it must defer for want of a free slot
    args = ["-m", str(tiny_model), "-c", "8192", "--parallel", "2", "-v"]
    with llama_server(llama_server_bin, args, tmp_path / "server.log") as server, \
            LocalStack(workdir=tmp_path / "stack") as stack:
        # the models file claims 4 slots; the server's /props says 2, and 2 it is
        config = write_models(tmp_path / "models.yaml", {
            "tiny": {"base_url": server.base_url, "slots": 4, "max_tokens": MAX_TOKENS}})
        env = worker_env(redis_url, sandbox_image)
        llm = stack.start_worker("llm", [llm_queue("tiny")], 4, env)
        stack.start_worker("score", [SCORE_QUEUE], 2, env)
        output = tmp_path / "results"
        run = jqbench("submit", "--models", "tiny", "--levels", "L1", "--iterations",
                      str(ITERATIONS), "--config", str(config), "--run-id", "two-slots",
                      "--output", str(output), "--wait", "--timeout", "240", env=env)
        assert run.returncode == 0, f"{run.stdout}\n{run.stderr}\n{llm.log_tail(40)}"
        activity = slot_activity(server.log())

    assert activity.tasks == ITERATIONS  # one chat completion per unit, none repeated
    assert activity.deferred == 0  # no request ever waited inside the server
    assert activity.peak == 2  # and the two slots did work at once
    root = output / "two-slots"
    run_json = json.loads((root / "run.json").read_text())
    assert run_json["endpoints"]["tiny"]["total_slots"] == 2
    attempts = [json.loads((root / "attempts" / "tiny" / f"iter{i}" / "L1.json").read_text())
                for i in range(1, ITERATIONS + 1)]
    assert all(a["status"] == "scored" for a in attempts)
    assert all(a["usage"]["prompt_tokens"] == a["prompt_tokens_counted"] for a in attempts)
    assert all(a["server_build"] for a in attempts)
    assert sum(a["slot_wait_s"] for a in attempts) > 0  # the others waited at our gate
