"""The Docker sandbox: one throwaway, locked-down container per run (the only `docker` user).

Per run: create the container (read-only root, tmpfs /work (root's, 0755) and /tmp, uid 0
with only CAP_SETUID, CAP_SETGID and CAP_KILL, which the in-container launcher needs to run
the trusted runner and each candidate under uids of their own (docs/trust-boundary.md), no
network, no-new-privileges, pids/memory/swap limits, no core dumps, labels), attach
to it before it starts, start it, stream an in-memory tar of the files on its stdin (no
bind mounts: the worker may itself run in a container), read stdout and stderr from the
same attach stream into capped buffers, wait with a host-side deadline (wall clock +
margin; on expiry: kill), and remove the container in every case. The wall clock is also
enforced inside (`timeout -s KILL`) so a container whose worker died still ends.

Docker's own failures (daemon down, image missing, API errors) raise SandboxUnavailable.
"""

import contextlib
import dataclasses
import logging
import os
import shlex
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import docker
import docker.errors
import requests.exceptions
from docker.types import LogConfig, Ulimit
from docker.utils.socket import STDERR, frames_iter

from worker._archive import build_archive
from worker.sandbox import (
    KEY_FILE,
    LABEL_LEASE,
    LABEL_RUN,
    LABEL_WORKER,
    ExecResult,
    ImageFacts,
    SandboxLimits,
    SandboxUnavailable,
)
from worker.text import safe_text

logger = logging.getLogger(__name__)

LABEL_ROLE = "org.jqbench.role"
ROLE = "sandbox"
SANDBOX_USER = "0:0"
"""The launcher starts as root: without CAP_CHOWN, CAP_DAC_OVERRIDE and CAP_FOWNER it can
only read and write its own files, and it can change uid (docs/trust-boundary.md)."""
SANDBOX_CAPS = ["SETUID", "SETGID", "KILL"]

BUILD_HINT = "build it with scripts/build-sandbox-image.sh (or set JQ_SANDBOX_IMAGE)"
DAEMON_HINT = "start the Docker daemon, or point DOCKER_HOST at one"

HOST_MARGIN_S = 15.0
"""How much longer than the wall clock the host waits before it kills the container."""
STDOUT_CAP_BYTES = 8 << 20
"""Stdout kept (its tail): the runner's report, the last line, must fit."""
STDERR_CAP_BYTES = 256 << 10
CPU_PERIOD_US = 10_000
"""CFS period when a CPU quota is set: short, so a throttled container pauses briefly."""
API_TIMEOUT_S = 60
"""Timeout of ordinary Docker API calls (create, start, remove)."""
NOFILE_LIMIT = 4096


def _number(value: float) -> str:
    """`timeout`'s duration argument, without exponent notation."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def shell_command(command: list[str], wall_clock_s: float) -> list[str]:
    """The container's argv: unpack the tar from stdin into /work, then run under timeout."""
    script = (
        "cd /work && tar -x --no-same-owner && "
        f"exec timeout -s KILL {_number(wall_clock_s)} {shlex.join(command)}"
    )
    return ["sh", "-c", script]


class StreamTail:
    """The last `cap` bytes of a container's stream, and how many were dropped before them.

    Unlike the in-container runner's buffer (which stays within its cap), the "dropped"
    marker is put in front of the kept bytes, never over them: the runner's report is the
    last line of stdout and must reach the host whole.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.data = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        excess = len(self.data) - self.cap
        if excess > 0:
            del self.data[:excess]
            self.dropped += excess

    def text(self) -> str:
        prefix = f"[... {self.dropped} bytes dropped]\n" if self.dropped else ""
        return safe_text(prefix + self.data.decode("utf-8", "replace"))


class _StreamReader(threading.Thread):
    """Reads the attach socket until EOF (the container stopped) into capped buffers."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(name="sandbox-attach", daemon=True)
        self.sock = sock
        self.stdout = StreamTail(STDOUT_CAP_BYTES)
        self.stderr = StreamTail(STDERR_CAP_BYTES)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for stream, payload in frames_iter(self.sock, tty=False):  # type: ignore[no-untyped-call]
                (self.stderr if stream == STDERR else self.stdout).add(payload)
        except OSError as exc:
            self.error = exc


def _infra(action: str, exc: BaseException) -> SandboxUnavailable:
    if isinstance(exc, docker.errors.ImageNotFound):
        return SandboxUnavailable(f"sandbox image not found ({exc})", BUILD_HINT)
    return SandboxUnavailable(f"Docker failed to {action}: {exc}", DAEMON_HINT)


_DOCKER_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)


def _list(client: docker.DockerClient, filters: dict[str, Any]) -> list[Any]:
    """Containers (any state) matching `filters`. The SDK inspects each one it lists: one
    removed in between (a worker's own sandbox, just finished) is skipped, not an error
    that fails the whole listing."""
    return list(client.containers.list(all=True, filters=filters, ignore_removed=True))


class DockerSandbox:
    """`Sandbox` on a Docker daemon (the local socket, or DOCKER_HOST without TLS)."""

    def __init__(
        self,
        image: str,
        client: docker.DockerClient | None = None,
        worker_id: str | None = None,
    ) -> None:
        """Args:
            image: the sandbox image (built by scripts/build-sandbox-image.sh).
            client: a Docker client to use; by default one from the environment per call.
            worker_id: labels our containers, so `cleanup_leftovers` can find them.
        """
        self.image = image
        self._client = client
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self._daemon_id: str | None = None

    # --- plumbing --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _docker(self, action: str) -> Iterator[docker.DockerClient]:
        """The client for one operation (ours, closed afterwards, unless one was given);
        Docker's errors inside the block become SandboxUnavailable for `action`."""
        if self._client is not None:
            client, owned = self._client, False
        else:
            try:
                client, owned = docker.from_env(timeout=API_TIMEOUT_S), True
            except _DOCKER_ERRORS as exc:
                raise SandboxUnavailable(f"the Docker daemon is not reachable ({exc})",
                                         DAEMON_HINT) from exc
        try:
            yield client
        except _DOCKER_ERRORS as exc:
            raise _infra(action, exc) from exc
        finally:
            if owned:
                client.close()

    def labels_for(self, labels: Mapping[str, str] | None) -> dict[str, str]:
        """Our labels: the caller's (e.g. run id) plus role and worker id, which always win."""
        merged = {LABEL_RUN: "", **(labels or {})}
        merged.update({LABEL_ROLE: ROLE, LABEL_WORKER: self.worker_id})
        return merged

    def _create_kwargs(self, command: list[str], limits: SandboxLimits,
                       labels: dict[str, str]) -> dict[str, Any]:
        tmpfs_mb = max(16, limits.memory_mb // 2)
        kwargs: dict[str, Any] = dict(
            command=shell_command(command, limits.wall_clock_s),
            user=SANDBOX_USER,
            read_only=True,
            tmpfs={
                "/work": f"rw,exec,mode=0755,size={tmpfs_mb}m",
                "/tmp": f"rw,mode=1777,size={tmpfs_mb}m",
            },
            network_mode="none",
            cap_drop=["ALL"],
            cap_add=SANDBOX_CAPS,
            security_opt=["no-new-privileges"],
            pids_limit=limits.pids,
            mem_limit=f"{limits.memory_mb}m",
            memswap_limit=f"{limits.memory_mb}m",
            ulimits=[Ulimit(name="core", soft=0, hard=0),
                     Ulimit(name="nofile", soft=NOFILE_LIMIT, hard=NOFILE_LIMIT)],
            labels=labels,
            # detach=False with stdin_open makes docker-py set StdinOnce (as `docker run -i`):
            # the container's stdin closes when we half-close the attach socket.
            stdin_open=True,
            detach=False,
            log_config=LogConfig(type="none"),
        )
        if limits.cpu_shares is not None:
            kwargs["cpu_shares"] = limits.cpu_shares
        if limits.cpus is not None:
            kwargs["cpu_period"] = CPU_PERIOD_US
            kwargs["cpu_quota"] = max(1000, int(limits.cpus * CPU_PERIOD_US))
        return kwargs

    # --- Sandbox -------------------------------------------------------------------------------

    def run(
        self,
        files: Mapping[str, bytes | str],
        command: list[str],
        *,
        limits: SandboxLimits,
        labels: Mapping[str, str] | None = None,
    ) -> ExecResult:
        """Run `command` over `files` in a fresh container; see `worker.sandbox.Sandbox.run`."""
        archive = build_archive(files, modes={KEY_FILE: 0o400})
        phases: dict[str, float] = {}
        with self._docker("create the sandbox container") as client:
            began = time.monotonic()
            container = client.containers.create(
                self.image, **self._create_kwargs(command, limits, self.labels_for(labels))
            )
            phases["create"] = time.monotonic() - began
            try:
                result = self._run_container(client, container, archive, limits, phases)
            finally:
                began = time.monotonic()
                self._remove(container)
                phases["remove"] = time.monotonic() - began
        return dataclasses.replace(result, phases_s={k: round(v, 3) for k, v in phases.items()})

    def _run_container(self, client: docker.DockerClient, container: Any, archive: bytes,
                       limits: SandboxLimits, phases: dict[str, float]) -> ExecResult:
        deadline = time.monotonic() + limits.wall_clock_s + HOST_MARGIN_S
        try:
            attached = client.api.attach_socket(
                container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            )
        except _DOCKER_ERRORS as exc:
            raise _infra("attach to the sandbox container", exc) from exc
        sock: socket.socket = getattr(attached, "_sock", attached)
        reader = _StreamReader(sock)
        try:
            reader.start()
            started = time.monotonic()
            try:
                container.start()
            except _DOCKER_ERRORS as exc:
                raise _infra("start the sandbox container", exc) from exc
            phases["start"] = time.monotonic() - started
            self._send(sock, archive, deadline)
            phases["send"] = time.monotonic() - started - phases["start"]
            reader.join(max(0.0, deadline - time.monotonic()))
            host_killed = reader.is_alive()
            if host_killed:
                self._kill(container)
                reader.join(10)
            exit_code = self._wait(container, deadline)
            duration = time.monotonic() - started
            phases["run"] = duration - phases["start"]
            began = time.monotonic()
            state = self._state(container)
            phases["inspect"] = time.monotonic() - began
        finally:
            with contextlib.suppress(OSError):
                sock.close()
            attached.close()
        timed_out = host_killed or (exit_code in (124, 137)
                                    and duration >= limits.wall_clock_s - 0.5)
        return ExecResult(
            exit_code=exit_code,
            stdout=reader.stdout.text(),
            stderr=reader.stderr.text(),
            timed_out=timed_out,
            duration_s=round(duration, 3),
            oom_killed=bool(state.get("OOMKilled")),
        )

    def _send(self, sock: socket.socket, archive: bytes, deadline: float) -> None:
        """Stream the tar on the container's stdin, then close stdin (half-close)."""
        try:
            sock.settimeout(max(1.0, deadline - time.monotonic()))
            sock.sendall(archive)
            sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            raise SandboxUnavailable(f"could not send the files to the sandbox ({exc})",
                                     DAEMON_HINT) from exc
        finally:
            sock.settimeout(None)

    def _wait(self, container: Any, deadline: float) -> int:
        timeout = max(5, int(deadline - time.monotonic()) + 1)
        try:
            return int(container.wait(timeout=timeout).get("StatusCode", -1))
        except requests.exceptions.RequestException:
            self._kill(container)
        except docker.errors.DockerException as exc:
            raise _infra("wait for the sandbox container", exc) from exc
        try:
            return int(container.wait(timeout=30).get("StatusCode", -1))
        except _DOCKER_ERRORS as exc:
            raise _infra("wait for the killed sandbox container", exc) from exc

    def _state(self, container: Any) -> dict[str, Any]:
        try:
            container.reload()
        except _DOCKER_ERRORS as exc:
            raise _infra("inspect the sandbox container", exc) from exc
        state: dict[str, Any] = container.attrs.get("State", {})
        return state

    def _kill(self, container: Any) -> None:
        try:
            container.kill()
        except docker.errors.APIError as exc:  # already stopped
            logger.debug("kill %s: %s", container.short_id, exc)
        except _DOCKER_ERRORS as exc:
            raise _infra("kill the sandbox container", exc) from exc

    def _remove(self, container: Any) -> None:
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass
        except _DOCKER_ERRORS as exc:  # cleanup_leftovers will find it
            logger.warning("could not remove sandbox container %s: %s", container.short_id, exc)

    # --- facts and housekeeping ------------------------------------------------------------

    def daemon_id(self) -> str:
        """The Docker daemon's id (kept across its restarts): names the host the sandboxes
        run on, whichever container or machine starts them."""
        if self._daemon_id is None:
            with self._docker("ask the Docker daemon for its id") as client:
                self._daemon_id = str(client.info()["ID"])
        return self._daemon_id

    def image_facts(self) -> ImageFacts:
        """The image's id (for a run's fingerprint); SandboxUnavailable if it is missing."""
        with self._docker(f"find the sandbox image {self.image}") as client:
            image = client.images.get(self.image)
        return ImageFacts(image=self.image, image_id=str(image.id))

    def sandbox_containers(self, labels: Mapping[str, str] | None = None) -> list[str]:
        """Ids of sandbox containers (any worker, any state) that carry all of `labels`."""
        wanted = [f"{LABEL_ROLE}={ROLE}", *(f"{k}={v}" for k, v in (labels or {}).items())]
        with self._docker("list sandbox containers") as client:
            found = _list(client, {"label": wanted})
            return [str(c.id) for c in found]

    def leased_containers(self) -> dict[str, str]:
        """Sandbox containers (any state) that carry a lease label: id -> the label's value."""
        with self._docker("list sandbox containers") as client:
            found = _list(client, {"label": [f"{LABEL_ROLE}={ROLE}", LABEL_LEASE]})
            return {str(c.id): str(c.labels.get(LABEL_LEASE, "")) for c in found}

    def remove_container(self, container_id: str) -> None:
        """Remove one sandbox container (gone already is fine)."""
        with (self._docker("remove a sandbox container") as client,
              contextlib.suppress(docker.errors.NotFound)):
            client.containers.get(container_id).remove(force=True)

    def remove_run(self, run_id: str) -> list[str]:
        """Remove every sandbox container of a run, running or not; their ids."""
        with self._docker("remove a run's sandbox containers") as client:
            found = _list(client, {"label": [f"{LABEL_ROLE}={ROLE}", f"{LABEL_RUN}={run_id}"]})
            for container in found:
                self._remove(container)
            return [str(c.id) for c in found]

    def cleanup_leftovers(self, worker_ids: Iterable[str] | None = None) -> list[str]:
        """Remove leftover sandbox containers; return their ids.

        With `worker_ids`: every sandbox container of those (dead) workers, running or not.
        Without: every sandbox container that is no longer running (created, exited, dead),
        whoever made it: a live worker's containers are running, and a dead worker's end by
        themselves within their wall clock.
        """
        removed: list[str] = []
        with self._docker("clean up sandbox containers") as client:
            base = [f"{LABEL_ROLE}={ROLE}"]
            if worker_ids is not None:
                found = [c for wid in set(worker_ids)
                         for c in _list(client, {"label": [*base, f"{LABEL_WORKER}={wid}"]})]
            else:
                found = [c for status in ("created", "exited", "dead")
                         for c in _list(client, {"label": base, "status": status})]
            for container in found:
                self._remove(container)
                removed.append(str(container.id))
        return removed
