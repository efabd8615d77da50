"""Shared fixtures: real services started for the tests (never mocked, except the LLM).

Under CI=true a missing service fails the test; elsewhere it skips with the reason.
"""

import os
import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
import redis

if TYPE_CHECKING:
    from worker._docker import DockerSandbox

IN_CI = os.environ.get("CI") == "true"


def missing(reason: str) -> None:
    """Fail in CI, skip elsewhere."""
    if IN_CI:
        pytest.fail(f"required service missing in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never inherit a developer's jqbench settings."""
    for name in list(os.environ):
        if name.startswith("JQ_") or name == "REDIS_URL":
            monkeypatch.delenv(name, raising=False)


# --- Redis -----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    """A redis-server of our own on a free loopback port, for the whole session."""
    from orchestrator.localstack import LocalStack

    if shutil.which("redis-server") is None:
        missing("redis-server is not installed")
    with LocalStack() as stack:
        yield stack.start_redis()


@pytest.fixture
def redis_url(redis_server_url: str) -> Iterator[str]:
    """A flushed database (15) for one test."""
    url = redis_server_url.rsplit("/", 1)[0] + "/15"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


# --- Docker sandbox image ---------------------------------------------------------------------

@pytest.fixture(scope="session")
def sandbox_image() -> str:
    """The sandbox image name, after checking that Docker answers and the image exists."""
    import docker

    image = os.environ.get("JQ_SANDBOX_IMAGE", "jqbench-sandbox:latest")
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # the SDK raises several unrelated types for "no daemon"
        missing(f"no Docker daemon: {exc}")
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        missing(f"sandbox image {image} missing: run scripts/build-sandbox-image.sh")
    finally:
        client.close()
    return image


# --- Docker sandbox: worker/_docker.py (fixtures of the sandbox/runner tests) ----------------

@pytest.fixture(scope="session")
def docker_sandbox(sandbox_image: str) -> Iterator["DockerSandbox"]:
    """The real DockerSandbox, labelled with a worker id of this session only.

    At the end every container of that worker id is removed, so a leak in one test cannot
    pile up; tests that check removal look for their own run id label meanwhile.
    """
    import uuid

    from worker._docker import DockerSandbox

    sandbox = DockerSandbox(sandbox_image, worker_id=f"pytest-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    yield sandbox
    sandbox.cleanup_leftovers([sandbox.worker_id])
