"""Process-wide settings from the environment, built once at an entry point and passed down."""

import os
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseSettings):
    """Environment variables (docs/architecture.md, Configuration); units are in the names."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    redis_url: str = Field("redis://localhost:6379/0", validation_alias=_env("REDIS_URL"))
    """Broker and record store."""
    sandbox_image: str = Field("jqbench-sandbox:latest", validation_alias=_env("JQ_SANDBOX_IMAGE"))
    """Docker image the scoring sandbox runs (python3 + pytest)."""
    models_file: Path = Field(Path("models.yaml"), validation_alias=_env("JQ_MODELS_FILE"))
    """Default models.yaml for `submit`."""
    visibility_timeout_s: int = Field(6 * 3600, validation_alias=_env("JQ_VISIBILITY_TIMEOUT_S"))
    """Redis redelivers an unacknowledged task after this long; must exceed any task's run time."""
    unacked_restore_interval_s: int = Field(60, validation_alias=_env("JQ_UNACKED_RESTORE_S"))
    """How often workers look for tasks of dead workers past the visibility timeout."""
    lease_s: float = Field(120.0, gt=0, validation_alias=_env("JQ_LEASE_S"))
    """A unit in progress is sent again this long after its worker stopped renewing its lease
    (killed, host gone, network cut); the worker renews it every third of this."""
    sweep_interval_s: float = Field(30.0, gt=0, validation_alias=_env("JQ_SWEEP_S"))
    """How often every worker looks for lapsed leases (and sandboxes of dead workers)."""
    infra_retries: int = Field(5, validation_alias=_env("JQ_INFRA_RETRIES"))
    """Tries after the first for connection errors, 5xx and Docker failures."""
    infra_backoff_s: float = Field(2.0, validation_alias=_env("JQ_INFRA_BACKOFF_S"))
    """First back-off between infrastructure retries; doubles each time, with jitter."""
    infra_backoff_max_s: float = Field(60.0, validation_alias=_env("JQ_INFRA_BACKOFF_MAX_S"))
    loading_wait_s: float = Field(900.0, validation_alias=_env("JQ_LOADING_WAIT_S"))
    """How long a worker waits for a server that answers 503 "Loading model"."""
    sandbox_memory_mb: int = Field(512, validation_alias=_env("JQ_SANDBOX_MEMORY_MB"))
    sandbox_pids: int = Field(1024, validation_alias=_env("JQ_SANDBOX_PIDS"))
    sandbox_wall_clock_s: float = Field(300.0, validation_alias=_env("JQ_SANDBOX_WALL_CLOCK_S"))
    """Whole container, enforced inside (timeout -s KILL) and from the host."""
    sandbox_test_timeout_s: float = Field(60.0, validation_alias=_env("JQ_TEST_TIMEOUT_S"))
    """One test's process."""
    sandbox_output_cap_bytes: int = Field(4000, validation_alias=_env("JQ_OUTPUT_CAP_BYTES"))
    sandbox_cpu_shares: int = Field(512, ge=2, le=262144,
                                    validation_alias=_env("JQ_SANDBOX_CPU_SHARES"))
    """CPU weight of each sandbox (Docker's --cpu-shares; a process outside gets 1024): under
    contention every sandbox gets the same share however many threads it spins, and the
    harness (Redis, workers) comes first; unused CPU stays free to take (no throttling)."""
    sandbox_cpus: float | None = Field(None, gt=0, validation_alias=_env("JQ_SANDBOX_CPUS"))
    """A hard CPU quota per sandbox in cores; off by default (see SandboxLimits.cpus)."""
    sandbox_slots: int = Field(0, ge=0, validation_alias=_env("JQ_SANDBOX_SLOTS"))
    """Sandboxes running at once on this host (its Docker daemon), across processes; 0 = the
    default: 3 per core, at most 3/4 of the memory at the sandbox memory limit."""
    sandbox_slots_dir: Path = Field(Path("/tmp/jqbench-sandbox-slots"),
                                    validation_alias=_env("JQ_SANDBOX_SLOTS_DIR"))
    soft_shutdown_s: float = Field(0.0, ge=0, validation_alias=_env("JQ_SOFT_SHUTDOWN_S"))
    """Celery's worker_soft_shutdown_timeout: on a cold shutdown (SIGQUIT, or SIGTERM with
    REMAP_SIGTERM=SIGQUIT as the harness image sets) running tasks get this long to finish
    before they are handed back to the queue; 0 hands them back at once. Keep it below the
    stop grace period (compose sets both)."""
    worker_id: str = Field("", validation_alias=_env("JQ_WORKER_ID"))
    """Label for sandbox containers; defaults to host:pid."""

    @property
    def effective_sandbox_slots(self) -> int:
        from worker.slots import default_sandbox_slots, host_memory_mb

        return self.sandbox_slots or default_sandbox_slots(
            os.cpu_count() or 1, host_memory_mb(), self.sandbox_memory_mb)
