"""A shared GPU server's worker SIGKILLed mid-run, its driver with it: the server's lock and
the units' leases lapse, another worker's driver takes over from the records, the run
completes model by model, and no answer is asked for more than once beyond the calls the
kill cut. Short leases and sweeps (JQ_LEASE_S=6, JQ_SWEEP_S=2) keep it quick."""

import os
import signal
from itertools import pairwise
from pathlib import Path

import pytest
import yaml

from fakellm import FakeLlamaServer, LatencyModel, ModelSpec, RouterSpec, canned_answers
from orchestrator.localstack import LocalStack
from tests.submitting import generated, stored_run, submit, wait_until_generated

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.chaos, pytest.mark.timeout(300)]

MODELS = ("m1", "m2")
SLOTS = 2
QUICK = {"JQ_SWEEP_S": "2", "JQ_LEASE_S": "6"}


def test_a_killed_server_worker_is_taken_over_and_the_run_stays_model_by_model(
    tmp_path: Path, redis_url: str
) -> None:
    spec = ModelSpec(canned_answers("reference"), slots=SLOTS, load_s=0.5,
                     latency=LatencyModel(base_s=1.0))
    router = RouterSpec({name: spec for name in MODELS}, models_max=1)
    with FakeLlamaServer(canned_answers("reference"), router=router) as server, \
            LocalStack(workdir=tmp_path / "stack") as stack:
        config = tmp_path / "models.yaml"
        config.write_text(yaml.safe_dump({
            "servers": {"gpu": {"kind": "router", "base_url": server.base_url,
                                "slots": SLOTS}},
            "models": {name: {"server": "gpu"} for name in MODELS}}))
        env = {"REDIS_URL": redis_url, **QUICK}
        first = stack.start_server_worker("gpu-first", "gpu", config, env)
        submit("--models", *MODELS, "--config", str(config), "--iterations", "2",
               "--run-id", "crash", env=env)
        store, run = stored_run(redis_url, "crash")
        units = run.units()
        # m1 is under way, its driver mid-model
        wait_until_generated(store, run, 60, count=3, logs=lambda: first.log_tail(60))
        os.killpg(first.process.pid, signal.SIGKILL)
        first.process.wait(10)
        # the calls the kill cut: asked by the dead worker, their answers never recorded
        # (in flight, or answered while the worker died before its record was written)
        cut = (sum(r.path.endswith("/chat/completions") for r in server.requests)
               - generated(store, run))
        second = stack.start_server_worker("gpu-second", "gpu", config, env)
        wait_until_generated(store, run, 150, logs=lambda: second.log_tail(60))

    chats = [r for r in server.requests if r.path.endswith("/chat/completions")
             and r.started_at is not None]
    assert len(chats) <= len(units) + cut, f"{len(chats)} calls for {len(units)} units"
    assert [load.model for load in store.get_loads("crash")] == list(MODELS)  # the taker's
    finished = [r for r in chats if r.finished_at is not None]
    for before, after in pairwise(MODELS):  # still model by model after the takeover
        last_end = max(r.finished_at or 0.0 for r in finished if r.extra.get("model") == before)
        first_start = min(r.started_at or 0.0 for r in chats if r.extra.get("model") == after)
        assert last_end <= first_start, f"{after} started before {before} ended"
