"""A shared GPU server's worker SIGKILLed mid-run, its driver with it: the server's lock and
the units' leases lapse, another worker's driver takes over from the records, the run
completes model by model, and no answer is asked for more than once beyond the calls the
kill cut. Short leases and sweeps (JQ_LEASE_S=6, JQ_SWEEP_S=2) keep it quick."""

import os
import signal
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import pytest
import yaml

from fakellm import FakeLlamaServer, LatencyModel, ModelSpec, RouterSpec, canned_answers
from orchestrator.localstack import LocalStack
from worker.records import AttemptStatus
from worker.store import RecordStore

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
        submitted = subprocess.run(
            [sys.executable, "-m", "orchestrator", "submit", "--models", *MODELS,
             "--config", str(config), "--iterations", "2", "--run-id", "crash"],
            env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
        assert submitted.returncode == 0, submitted.stderr
        store = RecordStore.from_url(redis_url)
        run = store.get_run("crash")
        assert run is not None
        units = run.units()

        def generated() -> int:
            return sum(a.status is AttemptStatus.GENERATED
                       for a in store.get_attempts(run).values())

        deadline = time.monotonic() + 60
        while generated() < 3:  # m1 is under way, its driver mid-model
            assert time.monotonic() < deadline, first.log_tail(60)
            time.sleep(0.1)
        os.killpg(first.process.pid, signal.SIGKILL)
        first.process.wait(10)
        # the calls the kill cut: asked by the dead worker, their answers never recorded
        # (in flight, or answered while the worker died before its record was written)
        cut = sum(r.path.endswith("/chat/completions") for r in server.requests) - generated()
        second = stack.start_server_worker("gpu-second", "gpu", config, env)

        deadline = time.monotonic() + 150
        while generated() < len(units):
            assert time.monotonic() < deadline, f"{generated()} of {len(units)}\n" \
                                                f"{second.log_tail(60)}"
            time.sleep(0.5)

    chats = [r for r in server.requests if r.path.endswith("/chat/completions")
             and r.started_at is not None]
    assert len(chats) <= len(units) + cut, f"{len(chats)} calls for {len(units)} units"
    assert [load.model for load in store.get_loads("crash")] == list(MODELS)  # the taker's
    finished = [r for r in chats if r.finished_at is not None]
    for before, after in pairwise(MODELS):  # still model by model after the takeover
        last_end = max(r.finished_at or 0.0 for r in finished if r.extra.get("model") == before)
        first_start = min(r.started_at or 0.0 for r in chats if r.extra.get("model") == after)
        assert last_end <= first_start, f"{after} started before {before} ended"
