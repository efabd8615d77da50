"""The sandbox seam: run a few files and one command in a throwaway, locked-down place.

Scoring talks to a `Sandbox` only. The real one runs Docker containers
(`worker._docker.DockerSandbox`, the only module that imports `docker`); the functions at the
end of this module are the public way to get it or to ask Docker about sandboxes, and import
the Docker SDK only when called. Tests of the logic around it can pass a fake. A fake is
never a fallback when Docker is missing: that is a `SandboxUnavailable` the user sees.

What counts as what (docs/architecture.md, Outcomes):
- anything the command does (non-zero exit, out of memory, wall-clock kill) is a result
  value, an `ExecResult`: a model outcome, scored;
- anything that stops us from running it (daemon down, image missing, API error) raises
  `SandboxUnavailable`: an infrastructure outcome, retried and never scored.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict, Field

from challenge.plan import DEFAULT_RUNNER_LIMITS, RunnerLimits
from worker.errors import ServiceUnavailable

if TYPE_CHECKING:
    from worker.settings import Settings
    from worker.store import RecordStore

LABEL_RUN = "org.jqbench.run_id"
"""Label of every sandbox container: the run it scores for."""
LABEL_WORKER = "org.jqbench.worker_id"
"""Label of every sandbox container: the worker (process) that started it."""
KEY_FILE = ".key"
"""A file of the run that only the container's root may read (mode 0400): the report key,
which the in-container launcher reads and deletes before the runner or any candidate
starts."""
LABEL_LEASE = "org.jqbench.lease"
"""Label of a score worker's sandbox: `{unit key}:score={lease token}` (worker.score)."""


class SandboxLimits(BaseModel):
    """Resource limits of one sandbox run; settings in production, short in tests."""

    model_config = ConfigDict(frozen=True)

    memory_mb: int = Field(512, gt=0)
    """Memory of the whole container (RAM + swap + its tmpfs files), in MiB."""
    pids: int = Field(1024, gt=8)
    """Processes and threads in the container at once (a fork bomb stops here)."""
    cpu_shares: int | None = Field(512, ge=2, le=262144)
    """CPU weight (Docker's --cpu-shares; None: Docker's default, 1024); a weight only
    divides CPU under contention, so fixed waits keep their timing."""
    cpus: float | None = Field(None, gt=0)
    """CPU quota in cores, or None for no quota (the default). A CFS quota throttles the
    whole container for the rest of a period once it is spent, which breaks tests that
    check fixed 0.1 s waits; when set, the period is kept short (10 ms) to limit that."""
    wall_clock_s: float = Field(300.0, gt=0)
    """Whole container, enforced inside (`timeout -s KILL`) and from the host."""
    runner: RunnerLimits = DEFAULT_RUNNER_LIMITS
    """What the runner inside enforces: per-test timeout, tests at once, output cap."""


@dataclass(frozen=True)
class ExecResult:
    """What one sandbox run did (output decoded as UTF-8, capped at the source)."""

    exit_code: int
    """The command's exit status; 137 when it was SIGKILLed (wall clock, OOM)."""
    stdout: str
    stderr: str
    timed_out: bool
    """The wall-clock limit killed the command (inside the container or from the host)."""
    duration_s: float
    oom_killed: bool = False
    """The container hit its memory limit and the kernel killed a process in it."""
    phases_s: Mapping[str, float] = field(default_factory=dict)
    """Seconds per step of the run where the sandbox measures them (Docker: create, start,
    send the files, run from started to exited (the sending included), inspect, remove)."""


@dataclass(frozen=True)
class ImageFacts:
    """Which sandbox image scores, for a run's fingerprint."""

    image: str
    """The name asked for, e.g. "jqbench-sandbox:latest"."""
    image_id: str
    """Its content id, "sha256:..."."""


class SandboxUnavailable(ServiceUnavailable):
    """We could not run the sandbox at all: an infrastructure failure, never a score.

    `str()` gives the message and the hint on one line, for the CLI.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(f"{message}; {hint}" if hint else message)
        self.message = message
        self.hint = hint


class Sandbox(Protocol):
    """Runs a command over a set of files in a fresh, isolated, resource-limited place."""

    def run(
        self,
        files: Mapping[str, bytes | str],
        command: list[str],
        *,
        limits: SandboxLimits,
        labels: Mapping[str, str] | None = None,
    ) -> ExecResult:
        """Write `files` under /work (paths relative to it), run `command` there as the
        container's root with only the capabilities to change uid and to kill (the command
        is the in-container launcher, which drops them for everything else it starts).

        Args:
            files: relative posix path -> content (str is written as UTF-8); root's files,
                mode 0644, but KEY_FILE mode 0400.
            command: argv, run with /work as the current directory.
            limits: memory, pids, CPU and wall clock of the run.
            labels: extra labels for the run (e.g. "org.jqbench.run_id").

        Returns:
            The result, also when the command failed, timed out or ran out of memory.

        Raises:
            SandboxUnavailable: the sandbox could not be run (infrastructure).
            ValueError: a file path is absolute, escapes /work, or collides with another.
        """
        ...


def sandbox_limits(settings: "Settings") -> SandboxLimits:
    """The limits the settings ask for."""
    return SandboxLimits(
        memory_mb=settings.sandbox_memory_mb, pids=settings.sandbox_pids,
        wall_clock_s=settings.sandbox_wall_clock_s,
        runner=RunnerLimits(test_timeout_s=settings.sandbox_test_timeout_s,
                            output_cap_bytes=settings.sandbox_output_cap_bytes),
        cpu_shares=settings.sandbox_cpu_shares, cpus=settings.sandbox_cpus,
    )


def docker_sandbox(settings: "Settings", worker_id: str | None = None) -> Sandbox:
    """The Docker sandbox on the daemon of the environment (DOCKER_HOST or the local socket)."""
    from worker._docker import DockerSandbox

    return DockerSandbox(settings.sandbox_image, worker_id=worker_id)


def scoring_sandbox(settings: "Settings", worker_id: str | None = None,
                    store: "RecordStore | None" = None) -> Sandbox:
    """The sandbox every scoring path uses: Docker, capped by its host's sandbox slots (one
    cap per Docker daemon through `store`'s Redis, or per slots directory without it)."""
    from worker._docker import DockerSandbox
    from worker.slots import SlotLimitedSandbox, daemon_slots, file_slots

    docker = DockerSandbox(settings.sandbox_image, worker_id=worker_id)  # its daemon_id
    slots = settings.effective_sandbox_slots
    hold = (file_slots(slots, settings.sandbox_slots_dir) if store is None
            else daemon_slots(store, docker.daemon_id, slots, settings.lease_s))
    return SlotLimitedSandbox(docker, hold)


def sandbox_image_facts(settings: "Settings") -> ImageFacts:
    """The sandbox image's id.

    Raises:
        SandboxUnavailable: Docker does not answer, or the image is missing.
    """
    from worker._docker import DockerSandbox

    return DockerSandbox(settings.sandbox_image).image_facts()


def remove_sandboxes(settings: "Settings", worker_ids: Iterable[str] | None = None) -> list[str]:
    """Remove leftover sandbox containers (see `DockerSandbox.cleanup_leftovers`); their ids."""
    from worker._docker import DockerSandbox

    return DockerSandbox(settings.sandbox_image).cleanup_leftovers(worker_ids)


def remove_run_sandboxes(settings: "Settings", run_id: str) -> list[str]:
    """Remove every sandbox container of `run_id` (e.g. when it is cancelled); their ids."""
    from worker._docker import DockerSandbox

    return DockerSandbox(settings.sandbox_image).remove_run(run_id)


def sweep_orphaned_sandboxes(settings: "Settings",
                             is_orphaned: "Callable[[str], bool]") -> list[str]:
    """Remove sandboxes (running or ended) whose lease label `is_orphaned` says lost its
    worker; a living worker removes its own when its scoring ends."""
    from worker._docker import DockerSandbox

    docker = DockerSandbox(settings.sandbox_image)
    removed = []
    for container_id, label in docker.leased_containers().items():
        if is_orphaned(label):
            docker.remove_container(container_id)
            removed.append(container_id)
    return removed
