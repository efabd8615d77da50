"""The CLI as a user meets it: real processes, real Redis, a fake llama-server over HTTP.
Errors must be one line on stderr with the documented exit code, never a traceback."""

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    assert "warning: no Celery worker answered" in submitted.stderr  # still submitted
    duplicate = jqbench("submit", "--models", "a", "--config", str(config), "--run-id", "cli-run",
                        env=env)
    one_error_line(duplicate, 2, "exists already with another spec (levels L1 L4 stored, "
                                 "L1 L2 L3 L4 L5 asked; iterations 2 stored, 1 asked)")
    again = jqbench("submit", "--models", "a", "--levels", "L1", "L4", "--iterations", "2",
                    "--config", str(config), "--run-id", "cli-run", env=env)
    assert again.returncode == 0 and again.stdout.strip() == "cli-run", again.stderr
    assert "exists already with the same spec; nothing sent" in again.stderr

    status = jqbench("status", "cli-run", "--json", env=env)
    assert status.returncode == 0, status.stderr
    payload = json.loads(status.stdout)
    assert payload["total"] == 4 and payload["finished"] == 0 and payload["done"] is False
    assert payload["cancelled"] is False
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


# --- bad input, as a new user types it --------------------------------------------------------

@pytest.mark.parametrize("run_id", ["a/b", "a:b", "a b", "..", "", "x" * 81])
def test_a_run_id_keys_or_file_names_dislike_is_refused_first(tmp_path: Path,
                                                              run_id: str) -> None:
    """Refused before Redis is even asked (none answers at this REDIS_URL)."""
    config = models_file(tmp_path, a="http://127.0.0.1:9/v1")
    result = jqbench("submit", "--models", "a", "--config", str(config), "--run-id", run_id,
                     env={"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    one_error_line(result, 2, "run id")


@pytest.mark.parametrize("iterations", ["0", "-1"])
def test_iterations_below_one_are_a_usage_error(tmp_path: Path, iterations: str) -> None:
    config = models_file(tmp_path, a="http://127.0.0.1:9/v1")
    result = jqbench("submit", "--models", "a", "--iterations", iterations, "--config",
                     str(config))
    one_error_line(result, 2, f"--iterations must be at least 1 (got {iterations})")


@pytest.mark.parametrize("levels", ["", " ", ","])
def test_empty_levels_name_the_valid_ones(tmp_path: Path, levels: str) -> None:
    config = models_file(tmp_path, a="http://127.0.0.1:9/v1")
    result = jqbench("submit", "--models", "a", "--levels", levels, "--config", str(config))
    one_error_line(result, 2, "--levels is empty: choose from L1, L2, L3, L4, L5")


def test_an_inline_api_key_says_to_use_an_environment_variable(tmp_path: Path) -> None:
    config = tmp_path / "models.yaml"
    config.write_text("models:\n  a:\n    base_url: http://x/v1\n    api_key: sk-123\n")
    result = jqbench("submit", "--models", "a", "--config", str(config))
    one_error_line(result, 2, "name that variable with api_key_env")
    assert "sk-123" not in result.stderr


@pytest.mark.parametrize(("args", "fragment"), [
    (("submit", "--models", "a", "--timeout", "5"), "add --wait"),
    (("submit", "--models", "a", "--wait", "--timeout", "0"), "more than 0 seconds"),
    (("watch", "r1", "--timeout", "soon"), "Invalid value for '--timeout'"),
    (("submit",), "Missing option '--models'"),
])
def test_usage_errors_are_one_line_too(tmp_path: Path, args: tuple[str, ...],
                                       fragment: str) -> None:
    one_error_line(jqbench(*args), 2, fragment)


# --- cancel, watch, --timeout ------------------------------------------------------------------

def store_run(redis_url: str, run_id: str) -> None:
    from challenge.levels import Level
    from orchestrator.planning import build_run
    from worker.config import ModelConfig
    from worker.store import RecordStore

    run = build_run(run_id, {"m": ModelConfig(base_url="http://127.0.0.1:9/v1")},
                    [Level.L1, Level.L4], 1, {}, "img")
    store = RecordStore.from_url(redis_url)
    store.save_run(run)
    store.close()


@pytest.mark.redis
def test_watch_stops_at_its_timeout_and_says_how_to_follow_on(redis_url: str,
                                                              tmp_path: Path) -> None:
    store_run(redis_url, "w1")
    started = time.monotonic()
    result = jqbench("watch", "w1", "--timeout", "1", "--output", str(tmp_path),
                     env={"REDIS_URL": redis_url})
    assert result.returncode == 124, result.stderr
    assert 1.0 <= time.monotonic() - started < 30
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last == ("stopped following after 1 s; the run goes on. Follow it with: "
                    "jqbench watch w1")
    assert not (tmp_path / "w1").exists()  # nothing written: the run is not done


@pytest.mark.redis
def test_cancel_stops_a_run_and_following_it_ends_with_exit_1(redis_url: str,
                                                              tmp_path: Path) -> None:
    env = {"REDIS_URL": redis_url}
    store_run(redis_url, "c1")
    one_error_line(jqbench("cancel", "ghost", env=env), 2, "no run 'ghost'")

    cancelled = jqbench("cancel", "c1", env=env)
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.startswith("run c1 cancelled: no further unit starts")
    status = jqbench("status", "c1", env={**env, "COLUMNS": "200"})
    assert status.stdout.strip().splitlines()[-1] == "0/2 units finished: cancelled"

    watched = jqbench("watch", "c1", "--output", str(tmp_path), env=env)
    assert watched.returncode == 1, watched.stderr
    assert "Traceback" not in watched.stderr
    assert watched.stderr.strip().splitlines()[-1] == (
        "run c1 was cancelled; the results written cover what finished")
    run = json.loads((tmp_path / "c1" / "run.json").read_text())
    assert run["cancelled"] is True and run["complete"] is False
    resumed = jqbench("resume", "c1", env=env)
    one_error_line(resumed, 2, "was cancelled")


@pytest.mark.redis
def test_cancel_without_docker_says_so_in_one_line_and_cancels(redis_url: str,
                                                               tmp_path: Path) -> None:
    store_run(redis_url, "c2")
    env = {"REDIS_URL": redis_url, "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    result = jqbench("cancel", "c2", env=env)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Docker does not answer here")
    assert "Traceback" not in result.stderr
    status = jqbench("status", "c2", "--json", env={"REDIS_URL": redis_url})
    assert json.loads(status.stdout)["cancelled"] is True


@pytest.mark.redis
@pytest.mark.docker
def test_cancel_removes_the_runs_running_sandboxes(redis_url: str, docker_sandbox: Any) -> None:
    from worker.sandbox import LABEL_RUN, SandboxLimits

    run_id = f"c3-{os.getpid()}"
    store_run(redis_url, run_id)
    labels = {LABEL_RUN: run_id}
    ended: list[float] = []

    def score_forever() -> None:
        with contextlib.suppress(Exception):  # the container vanishes under it
            docker_sandbox.run({}, ["sleep", "60"], limits=SandboxLimits(wall_clock_s=90),
                               labels=labels)
        ended.append(time.monotonic())

    scoring = threading.Thread(target=score_forever, daemon=True)
    scoring.start()
    deadline = time.monotonic() + 30
    while not docker_sandbox.sandbox_containers(labels) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert docker_sandbox.sandbox_containers(labels), "the sandbox did not start"
    cancelled_at = time.monotonic()
    result = jqbench("cancel", run_id, env={"REDIS_URL": redis_url})
    assert result.returncode == 0, result.stderr
    assert "removed 1 of its sandbox container(s)" in result.stdout
    scoring.join(30)
    assert ended and ended[0] - cancelled_at < 30
    assert docker_sandbox.sandbox_containers(labels) == []


# --- workers and doctor ------------------------------------------------------------------------

@pytest.mark.redis
def test_submit_warns_about_a_queue_without_worker_and_doctor_shows_the_fix(
    tmp_path: Path, redis_url: str
) -> None:
    from orchestrator.localstack import LocalStack
    from orchestrator.workers import worker_census
    from worker.settings import Settings

    with FakeLlamaServer(canned_answers("reference"), slots=1, n_ctx=32768) as fake, \
            LocalStack() as stack:
        config = models_file(tmp_path, a=fake.base_url)
        stack.start_worker("cli-score", ["score"], 1, {"REDIS_URL": redis_url})
        deadline = time.monotonic() + 60
        while not worker_census(Settings(redis_url=redis_url)).listeners("score"):
            assert time.monotonic() < deadline, stack.children[0].log_tail()
        env = {"REDIS_URL": redis_url, "COLUMNS": "250"}

        submitted = jqbench("submit", "--models", "a", "--levels", "L1", "--config",
                            str(config), "--run-id", "warned", env=env)
        assert submitted.returncode == 0 and submitted.stdout.strip() == "warned"
        warnings = [line for line in submitted.stderr.splitlines() if "warning" in line]
        assert warnings == ["warning: no worker listens on llm.a; those units wait until one "
                            "starts, e.g. celery -A worker.app worker -Q llm.a -c 1 (see "
                            "jqbench doctor)"]

        doctor = jqbench("doctor", "--config", str(config), env=env)
        assert doctor.returncode == 1, doctor.stderr
        rows = {line.split("│")[1].strip(): line for line in doctor.stdout.splitlines()
                if line.startswith("│") and line.split("│")[1].strip()}
        assert "│ ok " in rows["redis"] and "│ ok " in rows["workers score"]
        assert "cli-score@" in rows["workers score"]
        assert "│ fail " in rows["workers llm.a"]
        assert "celery -A worker.app worker -Q llm.a -c 1" in rows["workers llm.a"]
        assert "│ ok " in rows["model a"]
        assert doctor.stderr.strip().splitlines()[-1].startswith("1 check(s) failed: ")
