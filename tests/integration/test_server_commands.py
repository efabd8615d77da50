"""Server kind `commands`: the GPU host's worker starts each model's plain llama-server with
the command of its own models file, waits for /health, runs the model's units and stops the
server before it starts the next one. Nothing runs at submit; no command is stored with the
run."""

import json
import sys
import time
from pathlib import Path

import httpx2
import pytest
import yaml

from orchestrator.localstack import LocalStack, free_port
from tests.submitting import stored_run, submit, wait_until_generated

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.timeout(300)]

MODELS = ("a", "b")
LOAD_S = 1.0


def _chats(log: Path) -> list[dict]:
    lines = log.read_text().splitlines() if log.exists() else []
    return [r for r in map(json.loads, lines) if str(r.get("path", "")).endswith("/completions")]


def test_each_models_server_is_started_from_the_hosts_commands_then_stopped(
    tmp_path: Path, redis_url: str
) -> None:
    port = free_port()
    logs = {name: tmp_path / f"{name}-requests.jsonl" for name in MODELS}
    commands = {name: [sys.executable, "-m", "fakellm", "--port", str(port), "--alias", name,
                       "--load-s", str(LOAD_S), "--log-requests", str(logs[name])]
                for name in MODELS}
    config = tmp_path / "models.yaml"
    config.write_text(yaml.safe_dump({
        "servers": {"gpu": {"kind": "commands", "base_url": f"http://127.0.0.1:{port}/v1",
                            "commands": commands}},
        "models": {name: {"server": "gpu"} for name in MODELS}}))
    env = {"REDIS_URL": redis_url}
    with LocalStack(workdir=tmp_path / "stack") as stack:
        worker = stack.start_server_worker("gpu-worker", "gpu", config, env)
        submitted = submit("--models", *MODELS, "--levels", "L1", "L2", "L4", "--config",
                           str(config), "--run-id", "cmd", env=env)
        assert "started on demand" in submitted.stdout + submitted.stderr

        store, run = stored_run(redis_url, "cmd")
        assert "fakellm" not in run.model_dump_json()  # commands never reach Redis
        wait_until_generated(store, run, 200, logs=lambda: worker.log_tail(60))
        deadline = time.monotonic() + 30
        while len(store.get_loads("cmd")) < len(MODELS):
            assert time.monotonic() < deadline, worker.log_tail(60)
            time.sleep(0.2)

    loads = store.get_loads("cmd")
    assert [load.model for load in loads] == list(MODELS)
    assert all(load.load_s >= LOAD_S * 0.9 for load in loads)
    for name in MODELS:  # each server answered its own model's units, three each
        assert {c["body"]["model"] for c in _chats(logs[name])} == {name}
        assert len(_chats(logs[name])) == 3
    with pytest.raises(httpx2.HTTPError):  # the last server was stopped
        httpx2.get(f"http://127.0.0.1:{port}/health", timeout=2)
