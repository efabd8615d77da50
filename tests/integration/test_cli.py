"""The CLI as a user meets it: real processes, real Redis, a fake llama-server over HTTP.
Errors must be one line on stderr with the documented exit code, never a traceback."""

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from fakellm import FakeLlamaServer, canned_answers
from orchestrator.localstack import free_port


def jqbench(*args: str, env: dict[str, str] | None = None, timeout: float = 60
            ) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("JQ_") and k != "REDIS_URL"}
    return subprocess.run([sys.executable, "-m", "orchestrator", *args],
                          env={**clean, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)


def one_error_line(result: subprocess.CompletedProcess[str], code: int, fragment: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error: ") and fragment in lines[-1], result.stderr


@pytest.fixture
def server() -> Iterator[FakeLlamaServer]:
    """A server that stays loading until it has answered a /health check with 503."""
    with FakeLlamaServer(canned_answers("reference"), slots=2) as fake:
        fake.set_loading(True)

        def ready_after_first_health_check() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if any(r.path == "/health" and r.status == 503 for r in fake.requests):
                    fake.set_loading(False)
                    return
                time.sleep(0.05)

        watcher = threading.Thread(target=ready_after_first_health_check, daemon=True)
        watcher.start()
        yield fake
        watcher.join(5)


def models_file(tmp_path: Path, **models: str) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump({"models": {n: {"base_url": u} for n, u in models.items()}}))
    return path


def test_unknown_model_is_a_usage_error(tmp_path: Path) -> None:
    config = models_file(tmp_path, a="http://127.0.0.1:9/v1")
    result = jqbench("submit", "--models", "a", "zz", "--config", str(config))
    one_error_line(result, 2, "unknown model(s) zz")


def test_broken_config_names_the_problem(tmp_path: Path) -> None:
    config = tmp_path / "models.yaml"
    config.write_text("models:\n  a:\n    base_url: http://x/v1\n    slots: many\n")
    result = jqbench("submit", "--models", "a", "--config", str(config))
    one_error_line(result, 2, "models.a.slots")


def test_bad_level_is_a_usage_error(tmp_path: Path) -> None:
    config = models_file(tmp_path, a="http://127.0.0.1:9/v1")
    result = jqbench("submit", "--models", "a", "--levels", "L7", "--config", str(config))
    one_error_line(result, 2, "unknown level 'L7'")


def test_redis_down_is_a_service_error(tmp_path: Path) -> None:
    config = models_file(tmp_path, a="http://127.0.0.1:9/v1")
    env = {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    result = jqbench("submit", "--models", "a", "--config", str(config), env=env)
    one_error_line(result, 3, "Redis does not answer")


@pytest.mark.redis
def test_unreachable_server_is_a_service_error(tmp_path: Path, redis_url: str) -> None:
    config = models_file(tmp_path, a=f"http://127.0.0.1:{free_port()}/v1")
    result = jqbench("submit", "--models", "a", "--config", str(config),
                     env={"REDIS_URL": redis_url})
    one_error_line(result, 3, "does not answer")


@pytest.mark.redis
def test_submit_waits_for_a_loading_server_then_status_and_results_work_mid_run(
    tmp_path: Path, redis_url: str, server: FakeLlamaServer
) -> None:
    config = models_file(tmp_path, a=server.base_url)
    env = {"REDIS_URL": redis_url}
    submitted = jqbench("submit", "--models", "a", "--levels", "L1", "L4", "--iterations", "2",
                        "--config", str(config), "--run-id", "cli-run", env=env)
    assert submitted.returncode == 0, submitted.stderr
    assert submitted.stdout.strip() == "cli-run"
    assert "loading" in submitted.stderr
    duplicate = jqbench("submit", "--models", "a", "--config", str(config), "--run-id", "cli-run",
                        env=env)
    one_error_line(duplicate, 2, "exists already")

    status = jqbench("status", "cli-run", "--json", env=env)
    assert status.returncode == 0, status.stderr
    payload = json.loads(status.stdout)
    assert payload["total"] == 4 and payload["finished"] == 0 and payload["done"] is False
    assert payload["models"]["a"] == {"total": 4, "pending": 4}

    output = tmp_path / "out"
    results = jqbench("results", "cli-run", "--output", str(output), env=env)
    assert results.returncode == 0, results.stderr
    run = json.loads((output / "cli-run" / "run.json").read_text())
    assert run["spec"]["levels"] == ["L1", "L4"] and run["spec"]["subset"] is True
    assert run["complete"] is False
    result = json.loads((output / "cli-run" / "result_a.json").read_text())
    assert result["statistics"]["all_scores"] == [] and result["scores"] is None

    unknown = jqbench("status", "no-such-run", env=env)
    one_error_line(unknown, 2, "no run 'no-such-run'")


def test_options_take_several_values_after_one_flag() -> None:
    from orchestrator.cli import expand_multi_value_options as expand

    assert expand(["submit", "--models", "a", "b", "--iterations", "2", "-l", "L1", "L4",
                   "--wait"]) == ["submit", "--models", "a", "--models", "b", "--iterations",
                                  "2", "-l", "L1", "-l", "L4", "--wait"]
    assert expand(["status", "r1", "--json"]) == ["status", "r1", "--json"]
    assert expand(["submit", "--models=a", "b"]) == ["submit", "--models=a", "b"]
