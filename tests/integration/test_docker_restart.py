"""The Docker daemon, stopped mid-scoring and started again, loses nothing: the sandbox it
killed is our failure (retried, never scored as the model's), the run completes, nothing is
generated or scored more often than the policy allows, and no sandbox is left behind.

The daemon stopped is a second dockerd of the test's own (its own socket, data root, exec
root, pid file and containerd namespaces, no bridge, no iptables), never the daemon CI runs
on; the sandbox image is copied into it. The workers reach it through DOCKER_HOST.

Sandboxes started are counted from that daemon's events, streamed while the test runs (a
daemon keeps its events in memory only: a restart forgets them); model calls from the fake
server's request log."""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors
import pytest
import requests.exceptions
import yaml
from docker.types import CancellableStream

from fakellm import FakeLlamaServer, canned_answers
from orchestrator.following import current_progress
from orchestrator.localstack import LocalStack
from worker.dispatch import SCORE_QUEUE, llm_queue
from worker.records import AttemptStatus, InfraStage
from worker.sandbox import LABEL_RUN
from worker.settings import Settings
from worker.store import RecordStore

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.redis, pytest.mark.chaos,
              pytest.mark.timeout(240)]

DEFAULTS = Settings()
#: How long the daemon stays down: well within the default retry window of a sandbox start
#: (JQ_INFRA_BACKOFF_S 2 s, doubling, JQ_INFRA_RETRIES 5: about 60 s).
DOWN_S = 5.0
#: Sweeps every second here (not the default 30 s): a stopped sandbox left on the daemon is
#: removed by the next sweep after its unit let go of its lease.
SWEEP_S = 1.0
#: L4 is not a chain link, so both units score side by side; the daemon stops once the first
#: sandbox runs (L1's take about 1 s, L4's about 8 s: usually both are caught).
LEVELS = ("L1", "L4")
#: The canned reference answers' points (both profiles).
REFERENCE_POINTS = {"L1": 25.0, "L4": 15.0}
#: The retry window at default settings, at its longest (+25 % jitter), plus the scoring.
BOUND_S = 1.25 * sum(min(DEFAULTS.infra_backoff_s * 2 ** n, DEFAULTS.infra_backoff_max_s)
                     for n in range(DEFAULTS.infra_retries)) + 30


class Dockerd:
    """A dockerd of our own, beside (never instead of) the daemon CI uses."""

    def __init__(self, root: Path, binary: str) -> None:
        self.root = root
        self.binary = binary
        self.url = f"unix://{root / 'docker.sock'}"
        self.log_path = root / "dockerd.log"
        self.namespace = "jqbench-" + "".join(c for c in root.name if c.isalnum())
        self.process: subprocess.Popen[bytes] | None = None
        (root / "daemon.json").write_text("{}")  # not the host's /etc/docker/daemon.json

    def argv(self) -> list[str]:
        # In a network namespace of its own: a dockerd with --bridge=none deletes the host's
        # docker0 as it starts, which would cut CI's daemon off from its own bridge.
        return [
            "unshare", "--net", "--",
            self.binary, "--config-file", str(self.root / "daemon.json"), "-H", self.url,
            "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec"),
            "--pidfile", str(self.root / "dockerd.pid"),
            # its own containerd namespaces, should it find a system containerd to share
            "--containerd-namespace", self.namespace,
            "--containerd-plugins-namespace", f"{self.namespace}-plugins",
            # no network of its own: sandboxes run with none
            "--bridge=none", "--iptables=false", "--ip-forward=false", "--ip-masq=false",
        ]

    def client(self, timeout_s: int = 60) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.url, timeout=timeout_s)

    def start(self) -> None:
        """Start it (again, on the same data root) and wait until it answers."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.argv(), stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                with contextlib.closing(self.client(5)) as client:
                    client.ping()
                return
            except (docker.errors.DockerException, requests.exceptions.RequestException):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"dockerd did not start:\n{self.log_tail()}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM (as `systemctl stop docker`): it stops its containers and exits."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # its group: it and its containerd
            self.process.wait(10)

    def log_tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def remove(self) -> None:
        """Stopped, its mounts gone (normally none are left), its folders removed."""
        self.stop()
        prefix = f"{self.root}/"
        with open("/proc/self/mountinfo") as mounts:
            points = [line.split()[4] for line in mounts]
        for point in sorted((p for p in points if p.startswith(prefix)), reverse=True):
            subprocess.run(["umount", "-l", point], check=False, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def dockerd(sandbox_image: str) -> Iterator[Dockerd]:
    """A second dockerd, with the sandbox image copied from CI's daemon."""
    binary = shutil.which("dockerd")
    if binary is None:
        pytest.skip("dockerd is not installed: this test runs a Docker daemon of its own")
    if os.geteuid() != 0:
        pytest.skip("a Docker daemon of its own needs root")
    # short: unix socket paths are limited to 107 bytes, and containerd's lie below this
    daemon = Dockerd(Path(tempfile.mkdtemp(prefix="jq-dockerd-", dir="/tmp")), binary)
    try:
        daemon.start()
        with contextlib.closing(docker.from_env(timeout=300)) as main, \
                contextlib.closing(daemon.client(300)) as second:
            for _ in second.api.load_image(main.api.get_image(sandbox_image,
                                                              chunk_size=1 << 20)):
                pass
            assert second.images.get(sandbox_image).id == main.images.get(sandbox_image).id
        yield daemon
    finally:
        daemon.remove()


class Creations(threading.Thread):
    """Ids of the containers of one run created on a daemon, from its live event stream;
    connects again (replaying from the start) when the daemon goes away and comes back."""

    def __init__(self, daemon: Dockerd, run_id: str) -> None:
        super().__init__(name="docker-events", daemon=True)
        self.daemon_under_test = daemon
        self.run_id = run_id
        self.since = int(time.time()) - 1
        self.ids: set[str] = set()
        self.stopped = threading.Event()
        self._stream: CancellableStream | None = None

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                with contextlib.closing(self.daemon_under_test.client(5)) as client:
                    self._stream = client.events(
                        since=self.since, decode=True,
                        filters={"type": "container", "event": "create",
                                 "label": f"{LABEL_RUN}={self.run_id}"})
                    for event in self._stream:
                        self.ids.add(event["id"])
            except (docker.errors.DockerException, requests.exceptions.RequestException,
                    OSError, AttributeError):
                pass  # the daemon went away, or __exit__ closed the stream under us
            self.stopped.wait(0.1)

    def __enter__(self) -> "Creations":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        if self._stream is not None:
            with contextlib.suppress(Exception):
                self._stream.close()
        self.join(10)

    def count(self) -> int:
        """Creations so far (events arrive as they happen; a moment for the last)."""
        time.sleep(0.5)
        return len(self.ids)


def wait_for(what: str, check: Callable[[], bool], timeout_s: float,
             logs: Callable[[], str], poll_s: float = 0.1) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout_s, f"no {what} in {timeout_s:g} s\n{logs()}"
        time.sleep(poll_s)
    return time.monotonic() - started


def run_containers(daemon_client: docker.DockerClient, run_id: str,
                   status: str | None = None) -> list:
    filters: dict[str, str] = {"label": f"{LABEL_RUN}={run_id}"}
    if status:
        filters["status"] = status
    return daemon_client.containers.list(all=True, filters=filters, ignore_removed=True)


def jqbench(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator", *args],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=180)


def chats(server: FakeLlamaServer) -> Counter[str]:
    return Counter(str(r.level) for r in server.requests
                   if r.path.endswith("/chat/completions"))


class Scene:
    """One run on a local stack whose workers (and CLI) use the test's dockerd."""

    def __init__(self, tmp_path: Path, stack: LocalStack, server: FakeLlamaServer,
                 daemon: Dockerd, redis_url: str, sandbox_image: str, run_id: str,
                 extra_env: dict[str, str]) -> None:
        self.stack = stack
        self.daemon = daemon
        self.run_id = run_id
        self.config = tmp_path / "models.yaml"
        self.config.write_text(yaml.safe_dump({"models": {"m": {"base_url": server.base_url}}}))
        self.env = {"REDIS_URL": redis_url, "JQ_SANDBOX_IMAGE": sandbox_image,
                    "DOCKER_HOST": daemon.url, "JQ_SWEEP_S": str(SWEEP_S), **extra_env}
        self.store = RecordStore.from_url(redis_url)

    def start(self) -> None:
        self.stack.start_worker("llm", [llm_queue("m")], 1, self.env)
        self.stack.start_worker("score", [SCORE_QUEUE], 2, self.env)
        submitted = jqbench("submit", "--models", "m", "--levels", *LEVELS, "--config",
                            str(self.config), "--run-id", self.run_id, env=self.env)
        assert submitted.returncode == 0, submitted.stderr

    def logs(self) -> str:
        return "\n".join([*(f"--- {c.name}\n{c.log_tail()}" for c in self.stack.children),
                          f"--- dockerd\n{self.daemon.log_tail()}"])

    def progress(self) -> dict:
        run = self.store.get_run(self.run_id)
        assert run is not None
        return current_progress(self.store, run).as_json()

    def attempts(self) -> dict:
        run = self.store.get_run(self.run_id)
        assert run is not None
        return {str(unit.level): attempt for unit, attempt in self.store.get_attempts(run).items()}

    def stop_daemon_mid_scoring(self) -> None:
        """Once a sandbox of the run runs: the daemon stops (killing it), stays down
        DOWN_S, and starts again on the same data root."""
        with contextlib.closing(self.daemon.client()) as client:
            wait_for("running sandbox", lambda: bool(run_containers(client, self.run_id,
                                                                    "running")),
                     90, self.logs)
        self.daemon.stop()
        time.sleep(DOWN_S)
        self.daemon.start()

    def check_no_sandbox_left(self, main: docker.DockerClient) -> float:
        """A living worker removes what the stop left (a stopped sandbox of the run)."""
        with contextlib.closing(self.daemon.client()) as client:
            took = wait_for("removal of the run's sandboxes",
                            lambda: not run_containers(client, self.run_id),
                            10 * SWEEP_S + 10, self.logs, poll_s=0.5)
        assert run_containers(main, self.run_id) == [], "nothing of the run on CI's daemon"
        return took

    def check_no_traceback(self) -> None:
        for child in self.stack.children:
            text = child.log_path.read_text(errors="replace") if child.log_path else ""
            assert "Traceback" not in text, f"{child.name}:\n{text[-6000:]}"


def test_docker_daemon_restart_mid_scoring_is_retried(
    tmp_path: Path, redis_url: str, sandbox_image: str, dockerd: Dockerd
) -> None:
    """At the default retry policy a daemon back within its window costs nothing: every
    unit is scored (none infra_error), with the reference answers' full points."""
    started = time.monotonic()
    with FakeLlamaServer(canned_answers("reference")) as server, \
            LocalStack(workdir=tmp_path / "stack") as stack, \
            Creations(dockerd, "dockerdown") as creations, \
            contextlib.closing(docker.from_env()) as main:
        scene = Scene(tmp_path, stack, server, dockerd, redis_url, sandbox_image,
                      "dockerdown", {})
        scene.start()
        scene.stop_daemon_mid_scoring()
        took = wait_for("finished run", lambda: scene.progress()["done"], BOUND_S,
                        scene.logs, poll_s=0.5)
        left = scene.check_no_sandbox_left(main)
        print(f"dockerd down {DOWN_S:g} s mid-scoring -> run done {took:.0f} s after it was "
              f"back, its stopped sandboxes removed {left:.0f} s later; "
              f"{time.monotonic() - started:.0f} s in all; {creations.count()} sandboxes "
              f"for {len(LEVELS)} units; sandbox start retries "
              f"{ {lv: len(a.score_retries) for lv, a in scene.attempts().items()} }")

        assert scene.progress()["models"]["m"] == {"total": 2, "scored": 2}
        attempts = scene.attempts()
        for level, attempt in attempts.items():
            assert attempt.status is AttemptStatus.SCORED
            points = REFERENCE_POINTS[level]
            assert attempt.scores == {"legacy": points, "strict": points}, \
                f"{level}: the stop was scored as the model's failure: {attempt.report}"
        retries = {level: len(a.score_retries) for level, a in attempts.items()}
        assert sum(retries.values()) >= 1, "the stop hit no sandbox start"
        assert all(r.kind == "infra" and r.message.startswith("sandbox: ")
                   for a in attempts.values() for r in a.score_retries)
        assert chats(server) == Counter(LEVELS), "every answer asked for exactly once"
        created = creations.count()
        # one sandbox per unit (both profiles in one run), plus at most one per failed try
        # (a try while the daemon is down creates none)
        assert len(LEVELS) <= created <= len(LEVELS) + sum(retries.values()), (created, retries)
        scene.check_no_traceback()
    with contextlib.closing(dockerd.client()) as client:
        assert run_containers(client, "dockerdown") == []


def test_docker_daemon_down_past_the_retries_then_resume(
    tmp_path: Path, redis_url: str, sandbox_image: str, dockerd: Dockerd
) -> None:
    """With no retries, the sandbox the stop killed ends as infra_error (stage score), not
    as a score; the run is done but incomplete; `resume` scores it once the daemon is back,
    without asking the model again."""
    with FakeLlamaServer(canned_answers("reference")) as server, \
            LocalStack(workdir=tmp_path / "stack") as stack, \
            Creations(dockerd, "dockerdown-resume") as creations, \
            contextlib.closing(docker.from_env()) as main:
        scene = Scene(tmp_path, stack, server, dockerd, redis_url, sandbox_image,
                      "dockerdown-resume", {"JQ_INFRA_RETRIES": "0"})
        scene.start()
        with contextlib.closing(dockerd.client()) as client:
            wait_for("running sandbox", lambda: bool(run_containers(
                client, scene.run_id, "running")), 90, scene.logs)
        dockerd.stop()
        # the run is done while the daemon is still down: nothing waits for it
        wait_for("finished run", lambda: scene.progress()["done"], 30, scene.logs,
                 poll_s=0.5)
        dockerd.start()
        attempts = scene.attempts()
        failed = [level for level, a in attempts.items()
                  if a.status is AttemptStatus.INFRA_ERROR]
        assert failed, {level: a.status for level, a in attempts.items()}
        for level in failed:
            assert attempts[level].infra_stage is InfraStage.SCORE
            assert attempts[level].report is None
        assert not scene.progress()["complete"]

        resumed = jqbench("resume", scene.run_id, "--wait", "--timeout", "120",
                          "--output", str(tmp_path / "results"), env=scene.env)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr + scene.logs()
        assert scene.progress()["models"]["m"] == {"total": 2, "scored": 2}
        for level, attempt in scene.attempts().items():
            points = REFERENCE_POINTS[level]
            assert attempt.scores == {"legacy": points, "strict": points}, attempt.report
        assert chats(server) == Counter(LEVELS), "resume asked the model for nothing"
        created = creations.count()
        # one per unit, plus the killed one(s): one try each, no retries
        assert len(LEVELS) <= created <= len(LEVELS) + len(failed), (created, failed)
        scene.check_no_sandbox_left(main)
        scene.check_no_traceback()
