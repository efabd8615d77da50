"""Which Celery workers listen on which queues, asked over the broker (`inspect`).

`submit` warns about a queue nobody consumes; `doctor` reports every queue. Celery is
imported only when asked.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from worker.config import ModelConfig
from worker.dispatch import GPU_QUEUE_PREFIX, SCORE_QUEUE, gpu_queue, llm_queue
from worker.settings import Settings

QUICK_TIMEOUT_S = 1.0
"""How long workers get to answer (inspect always waits this long)."""


@dataclass(frozen=True)
class WorkerCensus:
    """The workers that answered, each with the queues it consumes."""

    workers: dict[str, frozenset[str]] = field(default_factory=dict)
    """Worker name (`name@host`) -> its queues."""
    error: str = ""
    """Why the broker could not be asked (then `workers` is empty)."""

    def listeners(self, queue: str) -> list[str]:
        return sorted(w for w, queues in self.workers.items() if queue in queues)

    def missing(self, queues: Iterable[str]) -> list[str]:
        """The queues no answering worker consumes."""
        return [q for q in queues if not self.listeners(q)]


def worker_census(settings: Settings, timeout_s: float = QUICK_TIMEOUT_S) -> WorkerCensus:
    """Ask every worker on the broker which queues it consumes.

    Never raises for the broker's sake: call it only once Redis answered (when it does not,
    the broker's own connection retries take seconds), and read `error`.
    """
    from worker.app import create_app

    app = create_app(settings)
    try:
        replies = app.control.inspect(timeout=timeout_s).active_queues()
    except Exception as exc:  # kombu and redis raise several unrelated types for "no broker"
        return WorkerCensus(error=f"{type(exc).__name__}: {exc}")
    finally:
        app.close()
    return WorkerCensus(workers={
        str(name): frozenset(str(q.get("name")) for q in queues or [] if isinstance(q, dict))
        for name, queues in (replies or {}).items()
    })


def run_queues(models: Mapping[str, ModelConfig]) -> dict[str, int | None]:
    """The queues a run's work goes through, each with the concurrency its workers should
    have: a model's slots, or None for scoring (the host's sandbox cap). A model on a shared
    GPU server also needs its server's driver queue `gpu.<server>` (concurrency: its slots)."""
    queues: dict[str, int | None] = {llm_queue(name): config.slots
                                     for name, config in models.items()}
    for config in models.values():
        if config.shares_a_server and config.server:
            queues[gpu_queue(config.server)] = config.slots
    return {**queues, SCORE_QUEUE: None}


def worker_command(queue: str, concurrency: int | None = None) -> str:
    """The README's command to start a worker on `queue` (scoring: as many processes as the
    host's sandbox cap; a shared GPU server: its server worker, which consumes its models'
    queues too)."""
    if queue.startswith(GPU_QUEUE_PREFIX):
        server = queue.removeprefix(GPU_QUEUE_PREFIX)
        return f"python -m worker --server {server} --config models.yaml"
    if queue == SCORE_QUEUE and concurrency is None:
        return "python -m worker --score"
    return f"celery -A worker.app worker -Q {queue} -c {concurrency or 1}"


def missing_workers_warning(census: WorkerCensus, queues: Mapping[str, int | None]
                            ) -> str | None:
    """One line for `submit` when some of the run's queues (see `run_queues`) have no
    worker; None when all do."""
    if census.error or not census.workers:
        why = f" ({census.error})" if census.error else ""
        return (f"warning: no Celery worker answered{why}; the run waits in its queues until "
                "workers start (jqbench doctor shows how)")
    missing = census.missing(queues)
    if not missing:
        return None
    return (f"warning: no worker listens on {', '.join(missing)}; those units wait until one "
            f"starts, e.g. {worker_command(missing[0], queues[missing[0]])} (see jqbench doctor)")
