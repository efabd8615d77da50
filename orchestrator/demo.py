"""The demo stack: a complete local jqbench with built-in fake llama-servers.

Two fake models (one answers with the reference solutions, one with typical flaws), a real
Redis (started when REDIS_URL is not set), real Celery workers and Docker scoring. The CLI's
`demo` command submits a run against it and follows it like `submit --wait`.
"""

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from orchestrator.localstack import LocalStack
from worker.dispatch import SCORE_QUEUE, llm_queue
from worker.sandbox import sandbox_image_facts
from worker.settings import Settings

WORKERS_WAIT_S = 60.0
"""How long the demo waits for its workers to answer before it submits."""

DEMO_MODELS = {"demo-reference": "reference", "demo-flawed": "flawed"}
"""Model name -> the fake server's canned answer flavour."""


@dataclass(frozen=True)
class DemoStack:
    settings: Settings
    """The caller's settings, pointed at the demo's Redis."""
    models_file: Path
    models: list[str]
    workdir: Path
    """Where the children's logs are."""


@contextmanager
def demo_stack(settings: Settings, notify: Callable[[str], None]) -> Iterator[DemoStack]:
    """Start the demo's services; stop them all when the block ends.

    Raises:
        SandboxUnavailable: Docker or the sandbox image is missing (checked before anything
            starts).
    """
    sandbox_image_facts(settings)
    with LocalStack() as stack:
        redis_url = os.environ.get("REDIS_URL") or stack.start_redis()
        models = {}
        for name, flavour in DEMO_MODELS.items():
            server = stack.start_fake_server(name, flavour, tokens_per_s=2000.0)
            models[name] = {"base_url": f"{server.url}/v1", "slots": 1}
            notify(f"fake llama-server {name} ({flavour} answers) at {server.url}")
        config = stack.workdir / "models.yaml"
        config.write_text(yaml.safe_dump({"models": models}))
        env = {"REDIS_URL": redis_url, "JQ_SANDBOX_IMAGE": settings.sandbox_image}
        stack.start_worker("llm", [llm_queue(m) for m in models], len(models), env,
                           restart_on_failure=True)
        stack.start_worker("score", [SCORE_QUEUE], settings.effective_sandbox_slots, env,
                           restart_on_failure=True)
        demo_settings = settings.model_copy(update={"redis_url": redis_url})
        _wait_for_workers(demo_settings, [*map(llm_queue, models), SCORE_QUEUE], notify)
        notify(f"workers started (logs in {stack.workdir})")
        yield DemoStack(settings=demo_settings, models_file=config, models=list(models),
                        workdir=stack.workdir)


def _wait_for_workers(settings: Settings, queues: list[str], notify: Callable[[str], None],
                      timeout_s: float = WORKERS_WAIT_S) -> None:
    """Until a worker listens on every queue, so that the run starts at once (and submit
    does not warn about workers that are still starting)."""
    from orchestrator.workers import worker_census

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        census = worker_census(settings)
        if not census.error and not census.missing(queues):
            return
    notify(f"warning: the workers did not answer within {timeout_s:g} s; the run waits in "
           "its queues until they do")
