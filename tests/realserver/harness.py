"""Driving jqbench against a real llama-server: models files, workers' settings, the CLI."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

#: Settings for the workers of these tests: quick retries, short sandbox limits.
WORKER_SETTINGS = {"JQ_INFRA_BACKOFF_S": "0.2", "JQ_TEST_TIMEOUT_S": "30",
                   "JQ_SANDBOX_WALL_CLOCK_S": "120"}


def write_models(path: Path, models: dict[str, dict[str, Any]],
                 servers: dict[str, dict[str, Any]] | None = None) -> Path:
    """A models.yaml with these `models:` (and `servers:`)."""
    data: dict[str, Any] = {"models": models}
    if servers:
        data["servers"] = servers
    path.write_text(yaml.safe_dump(data))
    return path


def worker_env(redis_url: str, sandbox_image: str | None = None) -> dict[str, str]:
    """The environment of the workers and the CLI of one test."""
    env = {"REDIS_URL": redis_url, **WORKER_SETTINGS}
    if sandbox_image:
        env["JQ_SANDBOX_IMAGE"] = sandbox_image
    return env


def jqbench(*args: str, env: dict[str, str], timeout_s: float = 300.0
            ) -> subprocess.CompletedProcess[str]:
    """`python -m orchestrator ARGS` with `env` added to ours."""
    return subprocess.run([sys.executable, "-m", "orchestrator", *args],
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=timeout_s)
