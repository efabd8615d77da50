"""Starting the parts of a local jqbench as child processes: redis-server, fake llama-servers,
Celery workers. Used by `jqbench demo`, the end-to-end tests and bench/."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis

from worker.errors import ConfigError, ServiceUnavailable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Child:
    """A child process we started and must stop."""

    name: str
    process: subprocess.Popen[bytes]
    url: str = ""
    log_path: Path | None = None
    terminated: bool = False
    restart_on_failure: bool = False
    """Started again when it exits by itself with an error, as compose's restart policy
    does for workers (see `LocalStack.supervise`)."""
    restarts: int = 0

    def terminate(self) -> None:
        """Ask the child to stop (SIGTERM, once)."""
        if self.process.poll() is None and not self.terminated:
            self.process.send_signal(signal.SIGTERM)
            self.terminated = True

    def stop(self, timeout_s: float = 15.0) -> None:
        """Terminate the child and wait for it; kill it after `timeout_s`."""
        if self.process.poll() is not None:
            return
        self.terminate()
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class LocalStack:
    """Children started for one local run; stop() ends them all, newest first."""

    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="jqbench-")))
    children: list[Child] = field(default_factory=list)
    _launches: dict[int, tuple[list[str], dict[str, str] | None]] = field(default_factory=dict)
    _supervisor: threading.Event | None = None

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> "LocalStack":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Workers and servers are told to stop all at once (a warm Celery shutdown takes
        seconds each), then waited for; Redis goes last, so they can still reach it."""
        if self._supervisor is not None:
            self._supervisor.set()
        redis = [c for c in self.children if c.name.startswith("redis")]
        others = [c for c in reversed(self.children) if c not in redis]
        for child in others:
            child.terminate()
        for child in [*others, *reversed(redis)]:
            child.stop()
        self.children.clear()

    def _spawn(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None
               ) -> Child:
        log_path = self.workdir / f"{name}.log"
        child = Child(name, self._launch(list(argv), env, log_path, "wb"), log_path=log_path)
        self._launches[id(child)] = (list(argv), env)
        self.children.append(child)
        return child

    @staticmethod
    def _launch(argv: list[str], env: dict[str, str] | None, log_path: Path, mode: str
                ) -> subprocess.Popen[bytes]:
        # the child inherits the log file; our copy of the handle is closed once it is started
        with log_path.open(mode) as log:
            return subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})}, start_new_session=True,
            )

    def supervise(self, interval_s: float = 1.0) -> None:
        """Start children marked `restart_on_failure` again when they die on their own
        (exit code other than 0, or killed), until the stack stops: what compose's
        `restart: unless-stopped` does for a worker that crashed."""
        if self._supervisor is not None:
            return
        stopped = self._supervisor = threading.Event()

        def watch() -> None:
            while not stopped.wait(interval_s):
                for child in list(self.children):
                    code = child.process.poll()
                    if (child.restart_on_failure and code not in (None, 0)
                            and not child.terminated and not stopped.is_set()
                            and child.log_path is not None):
                        argv, env = self._launches[id(child)]
                        with child.log_path.open("ab") as log:
                            log.write(f"\n[localstack] exited with {code}; started again\n"
                                      .encode())
                        child.process = self._launch(argv, env, child.log_path, "ab")
                        child.restarts += 1

        threading.Thread(target=watch, name="localstack-supervisor", daemon=True).start()

    def start_redis(self, *, port: int = 0, durable: bool = False) -> str:
        """A redis-server on loopback; returns its URL once it answers.

        `durable`: append-only file, fsynced on every write (as compose runs it), in this
        stack's folder, so a redis-server started again on the same port keeps its data.
        """
        binary = shutil.which("redis-server")
        if binary is None:
            raise ConfigError(
                "redis-server is not installed (Debian: apt-get install -y redis-server), "
                "or point REDIS_URL at a running Redis"
            )
        port = port or free_port()
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if durable else [
            "--appendonly", "no"]
        child = self._spawn(f"redis-{port}", [
            binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            *persistence, "--dir", str(self.workdir),
        ])
        child.url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(child.url)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if child.process.poll() is not None or time.monotonic() > deadline:
                    raise ServiceUnavailable(f"redis-server did not start: {child.log_tail()}"
                                             ) from None
                time.sleep(0.05)
        client.close()
        return child.url

    def start_fake_server(self, name: str, answers: str, *, slots: int = 1,
                          tokens_per_s: float = 0.0, extra_args: Sequence[str] = ()) -> Child:
        """A fake llama-server in its own process; returns once it listens."""
        log_requests = self.workdir / f"{name}.requests.jsonl"
        child = self._spawn(name, [
            sys.executable, "-m", "fakellm", "--port", "0", "--answers", answers,
            "--slots", str(slots), "--alias", name, "--tokens-per-s", str(tokens_per_s),
            "--log-requests", str(log_requests), *extra_args,
        ])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for line in (child.log_path.read_text(errors="replace").splitlines()
                         if child.log_path and child.log_path.exists() else []):
                if line.startswith("listening on "):
                    child.url = line.removeprefix("listening on ").strip()
                    return child
            if child.process.poll() is not None:
                break
            time.sleep(0.05)
        raise ServiceUnavailable(f"fake server {name} did not start: {child.log_tail()}")

    def start_server_worker(self, name: str, server: str, config: Path,
                            env: dict[str, str]) -> Child:
        """The worker of a shared GPU server (`python -m worker --server`): its drivers and
        its models' generate tasks."""
        return self._spawn(name, [sys.executable, "-m", "worker", "--server", server,
                                  "--config", str(config), "--loglevel", "INFO"], env)

    def start_worker(self, name: str, queues: Sequence[str], concurrency: int,
                     env: dict[str, str], *, restart_on_failure: bool = False) -> Child:
        """A Celery worker process (prefork pool) consuming `queues`; with
        `restart_on_failure`, started again if it crashes (see `supervise`)."""
        if restart_on_failure:
            self.supervise()
        child = self._spawn(name, [
            sys.executable, "-m", "celery", "-A", "worker.app", "worker",
            "-Q", ",".join(queues), "-c", str(concurrency), "-n", f"{name}@%h",
            "--loglevel", "INFO", "--without-gossip", "--without-mingle",
        ], env)
        child.restart_on_failure = restart_on_failure
        return child
