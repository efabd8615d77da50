"""Shared fixtures: real services started for the tests (never mocked, except the LLM).

Under CI=true a missing service fails the test; elsewhere it skips with the reason.
"""

import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest
import redis

if TYPE_CHECKING:
    from challenge.levels import Level
    from worker._docker import DockerSandbox
    from worker.sandbox import SandboxLimits
    from worker.scorer import ScoreReport

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


# --- One scoring pool: every score_answer run of the session's Docker scoring tests ----------

#: Sandboxes scoring at once: more than the host has cores, on purpose (docs/scoring.md §10).
SCORING_CONCURRENCY = 2 * (os.cpu_count() or 1) + 2


@pytest.fixture(scope="session")
def scoring_pool(
    request: pytest.FixtureRequest, docker_sandbox: "DockerSandbox"
) -> "dict[tuple[str, Level, SandboxLimits], list[ScoreReport]]":
    """Reports of `score_answer` (both profiles from one sandbox run), several rounds each.

    A test module that reads them says what it needs in a module constant `POOLED_SCORINGS`:
    (answer, level, limits) -> rounds. The needs of the modules of the selected tests that use
    this fixture are merged: one answer (at one level, under one set of limits) is scored as
    often as the most demanding module needs, not once per module. Then everything is scored
    in one pool of SCORING_CONCURRENCY sandboxes, a round of every answer after the other:
    an answer's rounds run apart, each beside other answers. Values: the reports, in rounds.
    """
    from challenge.levels import Profile
    from worker.scorer import score_answer

    needed: dict[tuple[str, Level, SandboxLimits], int] = {}
    users = [item.module for item in request.session.items
             if isinstance(item, pytest.Function) and "scoring_pool" in item.fixturenames]
    for module in dict.fromkeys(users):
        for key, rounds in module.POOLED_SCORINGS.items():
            needed[key] = max(rounds, needed.get(key, 0))
    # The answers needing most rounds first: their extra rounds start at once, not in a tail.
    jobs = [(key, n) for n in reversed(range(max(needed.values(), default=0)))
            for key, rounds in needed.items() if rounds > n]

    def score(job: tuple[tuple[str, "Level", "SandboxLimits"], int]) -> "ScoreReport":
        (answer, level, limits), n = job
        return score_answer(answer, level, docker_sandbox, limits,
                            profiles=(Profile.LEGACY, Profile.STRICT),
                            labels={"org.jqbench.run_id": f"pytest-pool-{level.value}-{n}"})

    reports: dict[tuple[str, Level, SandboxLimits], list[ScoreReport]] = {k: [] for k in needed}
    with ThreadPoolExecutor(max_workers=SCORING_CONCURRENCY) as pool:
        for (key, _), report in zip(jobs, pool.map(score, jobs), strict=True):
            reports[key].append(report)
    return reports
