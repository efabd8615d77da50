"""Cancelling a run: set its flag (every unit checks it before it starts), then remove its
sandbox containers still running on this machine's Docker."""

from collections.abc import Callable
from dataclasses import dataclass, field

from orchestrator.progress import run_progress
from orchestrator.submission import load_run, open_store
from worker.records import Run
from worker.sandbox import SandboxUnavailable, remove_run_sandboxes
from worker.settings import Settings
from worker.store import RecordStore

RemoveSandboxes = Callable[[Settings, str], list[str]]
"""Removes a run's sandbox containers, returns their ids (`worker.sandbox` by default)."""


@dataclass(frozen=True)
class Cancelled:
    run: Run
    complete: bool = False
    """Every unit was scored already: nothing was cancelled."""
    already: bool = False
    """The run was cancelled before."""
    removed: list[str] = field(default_factory=list)
    """Ids of the sandbox containers removed."""
    docker_error: str = ""
    """Why no container could be removed (Docker does not answer here); the flag is set."""


def cancel(settings: Settings, run_id: str, *, store: RecordStore | None = None,
           remove_sandboxes: RemoveSandboxes = remove_run_sandboxes) -> Cancelled:
    """Cancel `run_id`. Model calls under way finish (their answers are kept); nothing
    further starts, and the run's sandboxes on this machine's Docker are removed.

    Raises:
        ConfigError: no such run.
        ServiceUnavailable: Redis does not answer.
    """
    store = store or open_store(settings)
    run = load_run(store, run_id, settings.redis_url)
    already = store.is_cancelled(run_id)
    if not already and run_progress(run, store.get_attempts(run)).complete:
        return Cancelled(run, complete=True)
    store.cancel_run(run_id)
    try:
        removed = remove_sandboxes(settings, run_id)
    except SandboxUnavailable as exc:
        return Cancelled(run, already=already, docker_error=str(exc))
    return Cancelled(run, already=already, removed=removed)
