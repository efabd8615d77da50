"""A plain llama-server started and stopped by the GPU host's worker (server kind `commands`).

The command comes from the host's own models file (`config.server_commands`), never from a
run stored in Redis. It runs without a shell, in a session of its own (so a stop reaches
every process it started), with its output in a log file; it is asked to die with the
thread that started it, so a worker that is killed leaves no server holding the GPU.
A start counts as loaded when `/health` answers 200; a server that exits first, or stays
unhealthy past the wait, is a failed load with the end of its log.
"""

import contextlib
import ctypes
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx2

from worker.model_loading import ModelLoadFailed

#: How often /health is asked while the server starts.
POLL_S = 0.25
#: How long a server gets to stop after SIGTERM before SIGKILL.
STOP_GRACE_S = 20.0
_PR_SET_PDEATHSIG = 1


class ServerProcess:
    """One started llama-server."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process, self.log = process, log

    def stop(self) -> None:
        """SIGTERM its whole session, SIGKILL after a grace period; idempotent."""
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait()
        _signal_group(self.process.pid, signal.SIGKILL)  # anything it left behind
        self.log.unlink(missing_ok=True)

    def log_tail(self, chars: int = 600) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:].strip()
        except OSError:
            return ""


def start_server(command: list[str], root_url: str, wait_s: float) -> tuple[ServerProcess, float]:
    """Start `command` and wait until `root_url`/health answers 200; returns the process and
    the seconds it took.

    Raises:
        ModelLoadFailed: something already answers there, the command cannot start, it
            exited, or it was not healthy within `wait_s`.
    """
    if _healthy(root_url):
        raise ModelLoadFailed(f"a server already answers at {root_url} before the start: stop "
                              "it, or give this server another base_url")
    started = time.monotonic()
    handle, name = tempfile.mkstemp(prefix="jqbench-llama-server-", suffix=".log")
    log = Path(name)
    try:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=handle,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   preexec_fn=_die_with_parent)
    except OSError as exc:
        log.unlink(missing_ok=True)
        raise ModelLoadFailed(f"cannot start {command[0]}: {exc.strerror or exc}") from None
    finally:
        os.close(handle)
    server = ServerProcess(process, log)
    while not _healthy(root_url):
        if process.poll() is not None:
            tail = server.log_tail()
            server.stop()
            raise ModelLoadFailed(f"{command[0]} exited with {process.returncode} before "
                                  f"{root_url}/health answered: {tail}")
        if time.monotonic() - started > wait_s:
            server.stop()
            raise ModelLoadFailed(f"{root_url}/health did not answer 200 within {wait_s:g} s")
        time.sleep(POLL_S)
    return server, time.monotonic() - started


def _healthy(root_url: str) -> bool:
    try:
        return httpx2.get(f"{root_url}/health", timeout=5).status_code == 200
    except httpx2.HTTPError:
        return False


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def _die_with_parent() -> None:
    """In the child: SIGTERM when the thread that started it ends (Linux; elsewhere a no-op)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
