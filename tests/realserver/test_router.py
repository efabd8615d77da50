"""llama-server's router mode for real: three tiny models in a --models-dir, at most one
loaded at once (--models-max 1), one worker for that server (`python -m worker --server`).
The model-affine driver loads each model once for the whole run: exactly three loads, and a
model's requests never interleave with another's."""

import json
import re
from itertools import groupby
from pathlib import Path

import pytest

from orchestrator.localstack import LocalStack
from tests.realserver.harness import jqbench, worker_env, write_models
from tests.realserver.server import llama_server
from tests.realserver.tiny_gguf import write_tiny_model
from worker.dispatch import SCORE_QUEUE
from worker.store import RecordStore

pytestmark = [pytest.mark.realserver, pytest.mark.redis, pytest.mark.docker,
              pytest.mark.timeout(300)]

MODELS = ("alpha", "beta", "gamma")
LEVELS = ("L1", "L2")
ITERATIONS = 2
SLOTS = 2
_SPAWN = re.compile(r"spawning server instance with name=(\S+) on port")
_PROXIED = re.compile(r"proxying request to model (\S+) on port")


def test_three_models_on_a_router_load_once_each(
    llama_server_bin: Path, tmp_path: Path, redis_url: str, sandbox_image: str
) -> None:
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    for seed, name in enumerate(MODELS):
        write_tiny_model(models_dir / f"{name}.gguf", name=name, seed=seed)
    args = ["--models-dir", str(models_dir), "--models-max", "1", "-c", "8192",
            "--parallel", str(SLOTS)]
    with llama_server(llama_server_bin, args, tmp_path / "router.log") as router, \
            LocalStack(workdir=tmp_path / "stack") as stack:
        config = write_models(
            tmp_path / "models.yaml",
            {name: {"server": "gpu", "max_tokens": 64} for name in MODELS},
            servers={"gpu": {"kind": "router", "base_url": router.base_url, "slots": SLOTS,
                             "models_max": 1}})
        env = worker_env(redis_url, sandbox_image)
        gpu = stack.start_server_worker("gpu-worker", "gpu", config, env)
        stack.start_worker("score", [SCORE_QUEUE], 2, env)
        output = tmp_path / "results"
        run = jqbench("submit", "--models", *MODELS, "--levels", *LEVELS, "--iterations",
                      str(ITERATIONS), "--config", str(config), "--run-id", "router",
                      "--output", str(output), "--wait", "--timeout", "240", env=env)
        assert run.returncode == 0, f"{run.stdout}\n{run.stderr}\n{gpu.log_tail(60)}"
        statuses = {m["id"]: m["status"]["value"] for m in router.get("/models")["data"]}
        log = router.log()

    spawned = _SPAWN.findall(log)
    assert sorted(spawned) == sorted(MODELS), spawned  # exactly three loads, one per model
    proxied = _PROXIED.findall(log)
    assert [model for model, _ in groupby(proxied)] == spawned  # no interleaving
    assert set(statuses.values()) == {"unloaded"}  # the driver unloaded the last one too

    loads = RecordStore.from_url(redis_url).get_loads("router")
    assert sorted(load.model for load in loads) == sorted(MODELS)
    assert all(load.finished_at and load.slots_reported == SLOTS for load in loads)
    root = output / "router"
    for name in MODELS:
        for iteration in range(1, ITERATIONS + 1):
            for level in LEVELS:
                attempt = json.loads((root / "attempts" / name / f"iter{iteration}" /
                                      f"{level}.json").read_text())
                assert attempt["status"] == "scored", (name, iteration, level)
                assert attempt["request"]["model"] == name
