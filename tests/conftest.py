"""Shared fixtures: real services started for the tests (never mocked, except the LLM).

Under CI=true a missing service fails the test; elsewhere it skips with the reason.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import pytest
import redis

from tests.required import missing
from worker.sandbox import SandboxLimits
from worker.slots import default_sandbox_slots, host_memory_mb

if TYPE_CHECKING:
    from challenge.levels import Level
    from worker._docker import DockerSandbox
    from worker.scorer import ScoreReport


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

#: Sandboxes scoring at once: the product's default cap (JQ_SANDBOX_SLOTS unset: 3 per core),
#: more than the host has cores, so determinism is checked where workers run by default.
SCORING_CONCURRENCY = default_sandbox_slots(os.cpu_count() or 1, host_memory_mb(),
                                            SandboxLimits().memory_mb)


def _uses(item: pytest.Item, fixture: str) -> bool:
    return fixture in getattr(item, "fixturenames", ())


class ScoringPoolRun:
    """The session's scorings, started in the background with the session's first test:
    the tests that do not read them run meanwhile (mostly waiting on Redis, Celery and fake
    servers), and the readers, which run last, wait for what is left."""

    def __init__(self, needed: "dict[tuple[str, Level, SandboxLimits], list[set]]",
                 sandbox: "DockerSandbox") -> None:
        from challenge.levels import Profile
        from worker.scorer import score_answer

        def score(key: "tuple[str, Level, SandboxLimits]", n: int) -> "ScoreReport":
            answer, level, limits = key
            profiles = tuple(p for p in Profile if p in needed[key][n])
            return score_answer(answer, level, sandbox, limits, profiles=profiles,
                                labels={"org.jqbench.run_id": f"pytest-pool-{level.value}-{n}"})

        self._executor = ThreadPoolExecutor(max_workers=SCORING_CONCURRENCY,
                                            thread_name_prefix="scoring-pool")
        # The answers needing most rounds first: their extra rounds start at once, not in a
        # tail; each answer's rounds stay in round order in `reports`.
        self._futures = {
            (key, n): self._executor.submit(score, key, n)
            for n in reversed(range(max(map(len, needed.values()), default=0)))
            for key, rounds in needed.items() if len(rounds) > n
        }
        self._keys = list(needed)

    def reports(self) -> "dict[tuple[str, Level, SandboxLimits], list[ScoreReport]]":
        rounds = sorted(self._futures, key=lambda job: job[1])
        reports: dict = {key: [] for key in self._keys}
        for key, n in rounds:
            reports[key].append(self._futures[(key, n)].result())
        return reports

    def cancel(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="session")
def scoring_pool_run(request: pytest.FixtureRequest) -> "Iterator[ScoringPoolRun]":
    """Merges what the selected tests' modules ask of the pool and starts it (see
    `scoring_pool`)."""
    needed: dict[tuple[str, Level, SandboxLimits], list[set]] = {}
    users = [item.module for item in request.session.items
             if isinstance(item, pytest.Function) and _uses(item, "scoring_pool")]
    for module in dict.fromkeys(users):
        for key, rounds in module.POOLED_SCORINGS.items():
            merged = needed.setdefault(key, [])
            merged.extend(set() for _ in range(len(rounds) - len(merged)))
            for profiles, wanted in zip(merged, rounds, strict=False):
                profiles.update(wanted)
    run = ScoringPoolRun(needed, request.getfixturevalue("docker_sandbox"))
    yield run
    run.cancel()


#: Niceness of the rest of the session once the background scorings run (see below).
REST_OF_SESSION_NICE = 10


@pytest.fixture(scope="session", autouse=True)
def _start_the_background_work_early(request: pytest.FixtureRequest) -> None:
    """With the session's first test: the local suite runs and the scoring pool, when any
    selected test reads them. Then the session's own thread yields the CPU to them.

    Their outcomes are what the determinism checks judge (the legacy suites' fixed 0.1 s
    waits included), while the rest of the session (pytest, and the Celery workers, fake
    servers and other processes its tests start later, which inherit this niceness) is not
    under test there. Under Linux, niceness is per thread: the pool's threads and the suite
    runs, started before, keep theirs. The machine stays loaded: the pool runs more
    sandboxes than the host has cores (docs/scoring.md §10).
    """
    started = False
    for read, starter in (("local_suite_runs", "local_suite_runs"),
                          ("scoring_pool", "scoring_pool_run")):
        if any(_uses(item, read) for item in request.session.items):
            request.getfixturevalue(starter)
            started = True
    if started:
        os.nice(REST_OF_SESSION_NICE)


@pytest.fixture(scope="session")
def scoring_pool(scoring_pool_run: ScoringPoolRun
                 ) -> "dict[tuple[str, Level, SandboxLimits], list[ScoreReport]]":
    """Reports of `score_answer`, several rounds each, each round's profiles from one sandbox.

    A test module that reads them says what it needs in a module constant `POOLED_SCORINGS`
    (tests/pooled.py): (answer, level, limits) -> the profiles of each round it reads, e.g.
    `((LEGACY, STRICT), (STRICT,))`: two rounds, the second read for strict outcomes only
    (a profile nobody reads is not run). The needs of the modules of the selected tests are
    merged round by round: one answer (at one level, under one set of limits) is scored as
    often as the most demanding module needs, not once per module. Everything is scored in
    one pool of SCORING_CONCURRENCY sandboxes, a round of every answer after the other (an
    answer's rounds run apart, each beside other answers), started with the session's first
    test, beside the tests that do not read it. Values: the reports, in rounds.
    """
    return scoring_pool_run.reports()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that read the scoring pool run last, so that every other test runs while
    the pool, started with the first test, scores (docs/scoring.md §10)."""
    readers = [item for item in items if _uses(item, "scoring_pool")]
    others = [item for item in items if not _uses(item, "scoring_pool")]
    items[:] = others + readers


# --- The legacy suites under plain local pytest (tests/challenge/test_challenge_suites_run.py)

#: No configuration file (our pyproject must not apply), no cache written beside the suites.
LOCAL_PYTEST_ARGS = ("-q", "-p", "no:cacheprovider", "-c", os.devnull, "--rootdir", ".")
#: Locally, without a candidate host: the L5 suite's `candidate_queue` is the candidate's
#: `queue` package loaded under another name (its relative imports work; the name `queue`
#: stays the standard library's, as it must in a pytest process).
LOCAL_CANDIDATE_QUEUE = """\
import importlib.util, pathlib, sys
_package = pathlib.Path(__file__).resolve().parent / "candidate" / "queue"
_spec = importlib.util.spec_from_file_location(
    "candidate_queue_package", _package / "__init__.py",
    submodule_search_locations=[str(_package)])
_module = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _module
_spec.loader.exec_module(_module)
JobQueue = _module.JobQueue
"""


class LocalSuiteRun(NamedTuple):
    """One canned answer's legacy suites, running under plain pytest in its own folder."""

    process: "subprocess.Popen[str]"
    report: Path
    """pytest's JUnit XML report, once it ended."""
    has_code: bool


@pytest.fixture(scope="session")
def local_suite_runs(tmp_path_factory: pytest.TempPathFactory
                     ) -> Iterator[dict[tuple["Level", str], LocalSuiteRun]]:
    """Every canned answer's legacy suites, started at once (they mostly sleep: the suites'
    fixed waits); the scoring pool starts them before its own work, so the two overlap."""
    from challenge.answers import FLAVOURS, canned_answer
    from challenge.bundle import build_bundle
    from challenge.levels import Level

    started: dict[tuple[Level, str], LocalSuiteRun] = {}
    for level in Level:
        for flavour in FLAVOURS:
            root = tmp_path_factory.mktemp(f"{level.value}_{flavour}")
            bundle = build_bundle(canned_answer(level, flavour), level)
            for rel, text in bundle.files.items():
                path = root / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(text.encode())
            (root / "legacy").mkdir(exist_ok=True)
            (root / "legacy" / "candidate_queue.py").write_text(LOCAL_CANDIDATE_QUEUE)
            suites = list(dict.fromkeys(t.file for t in bundle.plan.tests))
            report = root / "report.xml"
            local_env = dict(os.environ)  # L1-L4: `import job_queue` finds the candidate
            if level is not Level.L5:  # (never at L5: its `queue` would shadow the stdlib's)
                local_env["PYTHONPATH"] = str(root / "legacy" / "candidate")
            process = subprocess.Popen(
                [sys.executable, "-m", "pytest", *LOCAL_PYTEST_ARGS, f"--junitxml={report}",
                 *suites],
                cwd=root / "legacy", stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True, env=local_env)
            started[(level, flavour)] = LocalSuiteRun(process, report,
                                                      bool(bundle.extracted["legacy"]))
    yield started
    for run in started.values():
        run.process.kill()
        run.process.wait()
        if run.process.stdout:
            run.process.stdout.close()
