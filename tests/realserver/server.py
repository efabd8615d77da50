"""Starting a real llama-server on a free loopback port and reading what it logged."""

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from orchestrator.localstack import free_port

#: Loading a tiny model takes milliseconds; the process start and a router's first listing
#: are what this waits for.
READY_TIMEOUT_S = 60.0

_LAUNCH = re.compile(r"id +(\d+) \| task (\d+) \| processing task")
_RELEASE = re.compile(r"id +(\d+) \| task (\d+) \| stop processing")
_DEFERRED = re.compile(r"defer task, id_task")


@dataclass
class RunningServer:
    """A llama-server we started: its root URL (no /v1) and its log."""

    process: "subprocess.Popen[bytes]"
    url: str
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str, headers: dict[str, str] | None = None) -> Any:
        """GET a JSON endpoint; raises for a status other than 200."""
        response = httpx2.get(f"{self.url}{path}", headers=headers, timeout=10.0)
        response.raise_for_status()
        return response.json()

    def text(self, path: str) -> str:
        """GET a text endpoint (/metrics); raises for a status other than 200."""
        response = httpx2.get(f"{self.url}{path}", timeout=10.0)
        response.raise_for_status()
        return response.text


def server_args(port: int, extra: Sequence[str]) -> list[str]:
    """What every test server gets: loopback, one thread (the machine has two cores)."""
    return ["--host", "127.0.0.1", "--port", str(port), "--threads", "1",
            "--threads-batch", "1", *extra]


@contextmanager
def llama_server(binary: Path, args: Sequence[str], log_path: Path,
                 headers: dict[str, str] | None = None) -> Iterator[RunningServer]:
    """Start `binary` with `args` (no --host/--port: those are chosen here) and yield once
    /health answers 200; stop it (SIGTERM, then SIGKILL) at the end."""
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen([str(binary), *server_args(port, args)], stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    server = RunningServer(process, f"http://127.0.0.1:{port}", log_path)
    try:
        _wait_ready(server, headers)
        yield server
    finally:
        _stop(process)


def _wait_ready(server: RunningServer, headers: dict[str, str] | None) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"llama-server exited with {server.process.returncode}:\n"
                               f"{_tail(server.log())}")
        try:
            response = httpx2.get(f"{server.url}/health", headers=headers, timeout=2.0)
            if response.status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"llama-server not ready after {READY_TIMEOUT_S} s:\n"
                               f"{_tail(server.log())}")
        time.sleep(0.1)


def _stop(process: "subprocess.Popen[bytes]") -> None:
    """SIGTERM to the server's process group (a router's model instances too), SIGKILL
    after 15 s."""
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait(5)
    _signal_group(process, signal.SIGKILL)  # any instance left behind


def _signal_group(process: "subprocess.Popen[bytes]", signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class SlotActivity:
    """What the server's log says about its slots over a whole run."""

    tasks: int
    """Tasks a slot processed (chat completions; tokenizing takes no slot)."""
    peak: int
    """Most tasks processing at once."""
    deferred: int
    """Tasks that found no free slot and waited inside the server (needs -v)."""


def slot_activity(log: str) -> SlotActivity:
    """Replay the log's slot launches and releases in order."""
    busy: set[int] = set()
    tasks = peak = deferred = 0
    for line in log.splitlines():
        if launched := _LAUNCH.search(line):
            busy.add(int(launched.group(1)))
            tasks += 1
            peak = max(peak, len(busy))
        elif released := _RELEASE.search(line):
            busy.discard(int(released.group(1)))
        elif _DEFERRED.search(line):
            deferred += 1
    return SlotActivity(tasks=tasks, peak=peak, deferred=deferred)
