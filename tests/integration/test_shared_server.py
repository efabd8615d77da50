"""Four models on one GPU: a fake router that holds one model at a time (1 s loads), one
worker for that server (`python -m worker --server gpu`), a full run's generate stage.
Model-affine means each model is loaded once (4 loads, not one per request) and no request
of a model starts before the previous model's last request ended."""

import time
from itertools import pairwise
from pathlib import Path

import pytest
import yaml

from fakellm import FakeLlamaServer, LatencyModel, ModelSpec, RouterSpec, canned_answers
from orchestrator.localstack import LocalStack
from tests.submitting import stored_run, submit, wait_until_generated

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.timeout(300)]

MODELS = ("m1", "m2", "m3", "m4")
ITERATIONS = 3
LOAD_S = 1.0


def _router(flavour: str) -> RouterSpec:
    spec = ModelSpec(canned_answers("reference"), slots=2, load_s=LOAD_S,
                     latency=LatencyModel(base_s=0.1))
    return RouterSpec({name: spec for name in MODELS}, models_max=1, flavour=flavour)


@pytest.mark.parametrize("flavour", ["router", "llama-swap"])
def test_four_models_on_one_gpu_load_once_each_and_never_overlap(
    tmp_path: Path, redis_url: str, flavour: str
) -> None:
    with FakeLlamaServer(canned_answers("reference"), router=_router(flavour)) as server, \
            LocalStack(workdir=tmp_path / "stack") as stack:
        config = tmp_path / "models.yaml"
        config.write_text(yaml.safe_dump({
            "servers": {"gpu": {"kind": flavour, "base_url": server.base_url, "slots": 2}},
            "models": {name: {"server": "gpu"} for name in MODELS}}))
        env = {"REDIS_URL": redis_url}
        stack.start_server_worker("gpu-worker", "gpu", config, env)
        submit("--models", *MODELS, "--config", str(config), "--iterations", str(ITERATIONS),
               "--run-id", "gpu", env=env)
        store, run = stored_run(redis_url, "gpu")
        units = run.units()
        wait_until_generated(store, run, 200)  # generated is enough: no scoring worker listens

        assert server.router is not None
        assert [load.model for load in server.router.loads] == list(MODELS)
        # the driver records a model's load once its last unit is recorded as generated
        deadline = time.monotonic() + 30
        while len(recorded := store.get_loads("gpu")) < len(MODELS) \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [load.model for load in recorded] == list(MODELS)
        assert all(load.load_s >= LOAD_S * 0.9 and load.finished_at for load in recorded)
        # a router's /slots confirms models.yaml's slots; llama-swap does not say
        reported = 2 if flavour == "router" else None
        assert [load.slots_reported for load in recorded] == [reported] * len(MODELS)

        chats = [r for r in server.requests if r.path.endswith("/chat/completions")
                 and r.started_at is not None and r.body.get("max_tokens") != 1]
        assert len(chats) == len(units)
        spans = {name: [(r.started_at, r.finished_at) for r in chats
                        if r.extra.get("model") == name] for name in MODELS}
        for before, after in pairwise(MODELS):
            last_end = max(end for _, end in spans[before] if end is not None)
            first_start = min(start for start, _ in spans[after])
            assert last_end <= first_start, f"{after} started before {before} ended"
