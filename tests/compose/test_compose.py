"""The compose stack for real (issue 11): offline images, the demo profile with Flower, a
stop and up in the middle of a run, two projects that share only Redis, and the examples.

Each test brings up its own compose project (its own name, ports and volumes) and removes
every container, network and volume it made, whatever happened.
"""

import base64
import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.compose.stack import ROOT, Project, free_port, sandboxes

pytestmark = pytest.mark.compose

FLOWER_AUTH = "tester:compose-secret"
MODELS = ("demo-reference", "demo-flawed")
#: The demo's totals (README, "Two commands"): legacy, strict.
EXPECTED_TOTALS = {"demo-reference": (100, 100), "demo-flawed": (95, 73.1)}
SANDBOX_CAP = 2
"""JQ_SANDBOX_SLOTS in the demo test: three score workers must share it."""


def project(compose_cmd: list[str], images: dict[str, str], role: str, tmp_path: Path,
            **env: str) -> Project:
    """A project of our own: unique name, free loopback ports, results under tmp_path."""
    results = tmp_path / f"results-{role}"
    results.mkdir()
    return Project(compose_cmd, f"jqtest-{role}-{uuid.uuid4().hex[:6]}", env={
        **images,
        "FLOWER_BASIC_AUTH": FLOWER_AUTH,
        "JQ_REDIS_PORT": str(free_port()),
        "JQ_FLOWER_PORT": str(free_port()),
        "JQ_RESULTS_DIR": str(results),
        **env,
    }, profiles=["demo"])


@pytest.fixture
def cleanup() -> Iterator[list[Project]]:
    """Projects to remove at the end; the test fails if any of their things is left."""
    projects: list[Project] = []
    yield projects
    left = []
    for proj in reversed(projects):
        proj.down()
        left += proj.leftovers()
    assert not left, f"left behind: {left}"


def flower_get(port: int, path: str, auth: str | None = FLOWER_AUTH) -> Any:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if auth:
        request.add_header("Authorization",
                           "Basic " + base64.b64encode(auth.encode()).decode())
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


class Watcher(threading.Thread):
    """Polls Flower's API and counts the run's sandbox containers while a run goes on."""

    def __init__(self, flower_port: int, run_id: str) -> None:
        super().__init__(daemon=True)
        self.port = flower_port
        self.run_id = run_id
        self.stop = threading.Event()
        self.workers: dict[str, Any] = {}
        self.tasks: dict[str, Any] = {}
        self.max_sandboxes = 0
        self.host_config: dict[str, Any] = {}
        """A sandbox's HostConfig, as the score worker in its container created it."""
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stop.wait(1.0):
            running = running_sandboxes(self.run_id)
            self.max_sandboxes = max(self.max_sandboxes, len(running))
            if running and not self.host_config:
                inspected = subprocess.run(["docker", "inspect", running[0]], text=True,
                                           capture_output=True, check=False)
                if inspected.returncode == 0:  # else it ended meanwhile: the next one
                    self.host_config = json.loads(inspected.stdout)[0]["HostConfig"]
            try:
                self.workers.update(flower_get(self.port, "/api/workers?refresh=true"))
                self.tasks.update(flower_get(self.port, "/api/tasks"))
            except OSError as exc:  # Flower not up yet, or already stopping
                self.errors.append(str(exc))


def running_sandboxes(run_id: str) -> list[str]:
    out = subprocess.run(["docker", "ps", "-q", "--filter", f"label=org.jqbench.run_id={run_id}"],
                         text=True, capture_output=True, check=False).stdout
    return out.split()


def assert_results(results: Path, run_id: str, levels: int) -> None:
    """The run's files are on the host: complete, every unit scored, the demo's totals."""
    run_dir = results / run_id
    run = json.loads((run_dir / "run.json").read_text())
    assert run["complete"] is True, run["progress"]
    assert run["progress"]["counts"] == {"scored": levels * len(MODELS)}, run["progress"]
    for model in MODELS:
        attempts = sorted((run_dir / "attempts" / model / "iter1").glob("L*.json"))
        assert len(attempts) == levels, attempts
        for attempt in attempts:
            assert json.loads(attempt.read_text())["status"] == "scored", attempt
        if levels == 5:
            result = json.loads((run_dir / f"result_{model}.json").read_text())
            legacy, strict = EXPECTED_TOTALS[model]
            assert (result["scores"]["total"], result["scores_strict"]["total"]) == \
                (legacy, strict), model


@pytest.mark.timeout(420)
def test_demo_profile_runs_a_benchmark_that_flower_shows(compose_cmd, images, tmp_path,
                                                         cleanup):
    run_id = f"compose-demo-{uuid.uuid4().hex[:6]}"
    demo = project(compose_cmd, images, "demo", tmp_path, JQ_DEMO_RUN_ID=run_id,
                   JQ_SANDBOX_SLOTS=str(SANDBOX_CAP))
    cleanup.append(demo)
    watcher = Watcher(int(demo.env["JQ_FLOWER_PORT"]), run_id)
    watcher.start()
    started = time.monotonic()
    # the README's command, with three score workers sharing the host's sandbox cap
    process = demo.popen("up", "--exit-code-from", "demo", "--scale", "score-worker=3")
    try:
        output, _ = process.communicate(timeout=360)
    finally:
        watcher.stop.set()
        if process.poll() is None:
            process.kill()
    print(f"compose demo: {time.monotonic() - started:.1f} s")
    assert process.returncode == 0, output[-6000:]
    assert_results(Path(demo.env["JQ_RESULTS_DIR"]), run_id, levels=5)

    # Flower, with basic auth: the workers, their queues, a finished generate and score
    # task of each model, each task readable as run:model:iteration:level:stage
    queues = {q["name"] for w in watcher.workers.values() for q in w.get("active_queues", [])}
    assert {"score", "llm.demo-reference", "llm.demo-flawed"} <= queues, watcher.workers
    score_workers = [name for name in watcher.workers if name.startswith("jqbench-score-")]
    assert len(score_workers) == 3, sorted(watcher.workers)
    for model in MODELS:
        for name, stage in (("jqbench.generate", "gen"), ("jqbench.score", "score")):
            done = [tid for tid, task in watcher.tasks.items() if task["name"] == name
                    and task["state"] == "SUCCESS" and model in task["args"]]
            assert done, f"Flower saw no finished {name} of {model}: {watcher.tasks}"
            assert all(tid.startswith(f"{run_id}:{model}:1:L") and tid.endswith(f":{stage}")
                       for tid in done), done
    # started from a container, a sandbox keeps every hardening flag (worker/_docker.py)
    host = watcher.host_config
    assert host, "no sandbox was seen running"
    assert host["ReadonlyRootfs"] is True and host["NetworkMode"] == "none"
    assert host["CapDrop"] == ["ALL"]
    assert sorted(c.removeprefix("CAP_") for c in host["CapAdd"]) == ["KILL", "SETGID", "SETUID"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert (host["Memory"], host["PidsLimit"]) == (512 * 2**20, 1024)
    assert not host.get("Binds") and not host.get("Mounts"), "files go through the API only"
    # three score workers, one cap per Docker daemon: reached, never passed
    assert watcher.max_sandboxes == SANDBOX_CAP, watcher.max_sandboxes
    assert not sandboxes(run_id)

    # the stack is down (the demo ended it); Flower starts again with what it had seen
    seen = {tid for tid, task in watcher.tasks.items() if task["state"] == "SUCCESS"}
    demo.run("up", "--detach", "flower", timeout=120)
    deadline, tasks = time.monotonic() + 60, {}
    while time.monotonic() < deadline and not tasks:
        with contextlib.suppress(OSError):
            tasks = flower_get(int(demo.env["JQ_FLOWER_PORT"]), "/api/tasks")
        time.sleep(1)
    restored = {tid for tid, task in tasks.items() if task["state"] == "SUCCESS"}
    assert seen and seen <= restored, f"lost across Flower's restart: {seen - restored}"


@pytest.mark.timeout(420)
def test_down_mid_run_loses_nothing_and_up_completes_it(compose_cmd, images, tmp_path,
                                                        cleanup):
    run_id = f"compose-stop-{uuid.uuid4().hex[:6]}"
    # slow fake models (a generate takes seconds), a short soft shutdown: units are caught in
    # flight and handed back. Lease (120 s) and sweep (30 s) keep their defaults: the run
    # completes soon after `up` only if the units came back through the queue, not the lease.
    stack = project(compose_cmd, images, "stop", tmp_path, JQ_DEMO_TOKENS_PER_S="60",
                    JQ_SOFT_SHUTDOWN_S="3")
    cleanup.append(stack)
    services = ["redis", "flower", "score-worker", "fake-reference", "fake-flawed", "llm-demo"]
    stack.run("up", "--detach", "--wait", *services, timeout=240)
    submit = ["run", "--rm", "demo", "jqbench", "submit", "--config",
              "/etc/jqbench/demo-models.yaml", "--models", *MODELS, "--levels", "L1", "L4",
              "--iterations", "1", "--run-id", run_id, "--output", "/results"]
    stack.run(*submit, timeout=120)
    deadline = time.monotonic() + 120
    status: dict[str, Any] = {"finished": 0}
    # stop once a unit is done: the next ones are generating (a unit's first lease renewal
    # comes 40 s in, so a unit left to its lease would go again only about 100 s after `up`)
    while status["finished"] < 1 and time.monotonic() < deadline:
        status = json.loads(stack.run("run", "--rm", "--no-deps", "demo", "jqbench",
                                      "status", run_id, "--json").stdout)
    worker_log = stack.popen("logs", "--follow", "--no-color", "llm-demo")
    stopped = time.monotonic()
    stack.run("down", "--timeout", "60", timeout=180)  # keeps the volumes: Redis's data
    down_s = time.monotonic() - stopped
    log, _ = worker_log.communicate(timeout=30)
    # a generate was running: the soft shutdown waited for it, then handed it back
    assert "Initiating Soft Shutdown" in log, log[-4000:]
    assert all(item.startswith("volume") for item in stack.leftovers()), stack.leftovers()
    assert not sandboxes(run_id), "a clean stop leaves no sandbox"
    assert down_s < 60, f"down took {down_s:.1f} s: the soft shutdown did not end in time"

    restarted = time.monotonic()
    stack.run("up", "--detach", "--wait", *services, timeout=240)
    stack.run("run", "--rm", "demo", "jqbench", "watch", run_id, "--output", "/results",
              "--timeout", "240", timeout=300)
    print(f"stop mid-run: status before down {status}; down {down_s:.1f} s; "
          f"up to complete {time.monotonic() - restarted:.1f} s")
    assert_results(Path(stack.env["JQ_RESULTS_DIR"]), run_id, levels=2)
    assert time.monotonic() - restarted < 60, "the handed-back units waited for their lease"
    assert status["finished"] < status["total"], f"the run ended before the stop: {status}"


@pytest.mark.timeout(420)
def test_two_projects_sharing_only_redis_run_a_benchmark(compose_cmd, images, tmp_path,
                                                         cleanup):
    """A control host (Redis with a password, Flower) and a worker host (fake servers, model
    and score workers) as two projects; the only thing between them is Redis on a network
    of their own."""
    run_id = f"compose-hosts-{uuid.uuid4().hex[:6]}"
    network = f"jqtest-link-{uuid.uuid4().hex[:6]}"
    subprocess.run(["docker", "network", "create", network], check=True, capture_output=True)
    password = uuid.uuid4().hex
    link = {"JQ_LINK_NETWORK": network}
    files = (ROOT / "docker-compose.yml", ROOT / "tests" / "compose" / "link.yml")
    control = project(compose_cmd, images, "control", tmp_path, REDIS_PASSWORD=password,
                      JQ_REDIS_URL=f"redis://:{password}@redis:6379/0", **link)
    control.files = files
    workers = project(compose_cmd, images, "workers", tmp_path,
                      JQ_REDIS_URL=f"redis://:{password}@control-redis:6379/0", **link)
    workers.files = files
    cleanup += [control, workers]
    try:
        control.run("up", "--detach", "--wait", "redis", timeout=120)
        control.run("up", "--detach", "flower", "--no-deps", timeout=120)
        workers.run("up", "--detach", "--wait", "--no-deps", "score-worker", "fake-reference",
                    "fake-flawed", "llm-demo", timeout=240)
        result = workers.run("run", "--rm", "--no-deps", "demo", "jqbench", "submit",
                             "--config", "/etc/jqbench/demo-models.yaml", "--models", *MODELS,
                             "--levels", "L1", "L4", "--iterations", "1", "--run-id", run_id,
                             "--output", "/results", "--wait", "--timeout", "240", timeout=300)
        assert run_id in result.stdout
        assert_results(Path(workers.env["JQ_RESULTS_DIR"]), run_id, levels=2)
        # the worker project has no Redis of its own
        assert "redis" not in workers.run("ps", "--services").stdout.split()
        # the control host's Redis refuses who has no password
        refused = control.run("exec", "-T", "-e", "REDISCLI_AUTH=", "redis", "redis-cli",
                              "ping", check=False)
        assert "NOAUTH" in refused.stdout + refused.stderr, refused
        # Flower on the control host sees the worker host's workers
        flower_port = int(control.env["JQ_FLOWER_PORT"])
        deadline = time.monotonic() + 60
        alive: dict[str, bool] = {}
        while time.monotonic() < deadline and len(alive) < 2:
            with contextlib.suppress(OSError):
                alive = {k: v for k, v in
                         flower_get(flower_port, "/api/workers?status=true").items() if v}
            time.sleep(1)
        assert len(alive) >= 2, alive
    finally:
        for proj in (workers, control):
            proj.down()
        subprocess.run(["docker", "network", "rm", network], check=False, capture_output=True)


def test_flower_refuses_to_start_without_auth(compose_cmd, images, tmp_path, cleanup):
    stack = project(compose_cmd, images, "noauth", tmp_path, FLOWER_BASIC_AUTH="")
    stack.profiles = []
    cleanup.append(stack)
    result = stack.run("run", "--rm", "--no-deps", "flower", check=False, timeout=120)
    assert result.returncode == 2, stack.history()
    assert "set FLOWER_BASIC_AUTH" in result.stderr + result.stdout


def test_flower_api_refuses_calls_without_credentials(compose_cmd, images, tmp_path, cleanup):
    stack = project(compose_cmd, images, "auth", tmp_path)
    stack.profiles = []
    cleanup.append(stack)
    stack.run("up", "--detach", "--wait", "flower", "score-worker", timeout=240)
    port = int(stack.env["JQ_FLOWER_PORT"])
    for auth in (None, "tester:wrong"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            flower_get(port, "/api/workers", auth=auth)
        refused.value.close()
        assert refused.value.code == 401, auth
    assert isinstance(flower_get(port, "/api/tasks"), dict)


def config(compose_cmd: list[str], *args: str, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("JQ_", "REDIS_", "LLAMA_", "FLOWER_", "MODEL"))}
    return subprocess.run([*compose_cmd, *args, "config"], cwd=ROOT, text=True,
                          capture_output=True, env={**clean, **(env or {})}, check=False,
                          timeout=60)


def test_gpu_profile_example_is_valid(compose_cmd):
    result = config(compose_cmd, "-f", "docker-compose.yml", "-f", "deploy/gpu-host.yml",
                    "--env-file", "deploy/gpu-host.env.example", "--profile", "gpu")
    assert result.returncode == 0, result.stderr
    server = result.stdout[result.stdout.index("  llama-server:"):]
    for expected in ("driver: nvidia", "- gpu", "/models/qwen35-27b-q3.gguf", "--parallel",
                     "- \"16384\"", "/srv/models", "published: \"8080\""):
        assert expected in server, expected
    worker = result.stdout[result.stdout.index("  llm-worker:"):]
    assert "SLOTS: \"1\"" in worker and "MODEL: qwen35-27b-q3" in worker
    # without the env file it names a missing variable (compose reports one, in no set order)
    bare = config(compose_cmd, "-f", "docker-compose.yml", "-f", "deploy/gpu-host.yml",
                  "--profile", "gpu")
    assert bare.returncode != 0, bare.stdout
    assert any(f"required variable {name} is missing a value: set {name}" in bare.stderr
               for name in ("LLAMA_SERVER_IMAGE", "LLAMA_MODEL_FILE", "LLAMA_MODEL_DIR",
                            "MODEL")), bare.stderr


def test_control_host_redis_requires_a_password(compose_cmd):
    files = ["-f", "docker-compose.yml", "-f", "deploy/control-host.yml"]
    refused = config(compose_cmd, *files)
    assert refused.returncode != 0 and "REDIS_PASSWORD" in refused.stderr
    result = config(compose_cmd, *files, "--env-file", "deploy/control-host.env.example")
    assert result.returncode == 0, result.stderr
    assert "host_ip: 0.0.0.0" in result.stdout and "change-me-long-random" in result.stdout
    scoring = config(compose_cmd, "--env-file", "deploy/scoring-host.env.example")
    assert scoring.returncode == 0, scoring.stderr
    assert "control.example.internal:6379" in scoring.stdout
    # the default stack publishes Redis and Flower on loopback only
    default = config(compose_cmd)
    assert default.returncode == 0, default.stderr
    assert default.stdout.count("host_ip: 127.0.0.1") == 2
    assert "0.0.0.0" not in default.stdout


@pytest.mark.timeout(400)
def test_compose_builds_the_images_offline_from_local_bases(compose_cmd, offline_build):
    """`docker compose --profile build build` (what the README's demo runs first) with the
    debootstrap bases and a wheel folder in the build context: the build: sections and the
    Dockerfiles' offline paths, for the harness and the sandbox."""
    tag = uuid.uuid4().hex[:6]
    wheels = ROOT / "build" / f"compose-wheels-{tag}"
    harness, sandbox = f"jqbench:compose-build-{tag}", f"jqbench-sandbox:compose-build-{tag}"
    shutil.copytree(offline_build["JQ_WHEELS"], wheels)
    stack = Project(compose_cmd, f"jqtest-build-{tag}", profiles=["build"], env={
        "JQ_HARNESS_IMAGE": harness, "JQ_SANDBOX_IMAGE": sandbox,
        "JQ_BUILD_BASE_IMAGE": offline_build["JQ_BASE_IMAGE"],
        "JQ_BUILD_WHEELS": str(wheels.relative_to(ROOT)),
        "JQ_BUILD_SANDBOX_BASE_IMAGE": "jqbench-sandbox-base:bookworm"})
    try:
        stack.run("build", timeout=360)
        checks = {harness: "jqbench --help >/dev/null && python3 -c 'import flower' "
                           "&& command -v jqbench-flower",
                  sandbox: "python3 -c 'import pytest; assert pytest.__version__ == \"7.2.1\"'"}
        for image, script in checks.items():
            check = subprocess.run(["docker", "run", "--rm", image, "sh", "-c", script],
                                   text=True, capture_output=True, timeout=120, check=False)
            assert check.returncode == 0, f"{image}: {check.stdout}{check.stderr}"
    finally:
        shutil.rmtree(wheels, ignore_errors=True)
        subprocess.run(["docker", "rmi", "-f", harness, sandbox], capture_output=True,
                       check=False)
