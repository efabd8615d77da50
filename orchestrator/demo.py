"""The demo stack: a complete local jqbench with built-in fake llama-servers.

Two fake models (one answers with the reference solutions, one with typical flaws), a real
Redis (started when REDIS_URL is not set), real Celery workers and Docker scoring. The CLI's
`demo` command submits a run against it and follows it like `submit --wait`.
"""

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from orchestrator.localstack import LocalStack
from worker.dispatch import SCORE_QUEUE, llm_queue
from worker.sandbox import sandbox_image_facts
from worker.settings import Settings

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
        stack.start_worker("score", [SCORE_QUEUE], os.cpu_count() or 1, env,
                           restart_on_failure=True)
        notify(f"workers started (logs in {stack.workdir})")
        yield DemoStack(settings=settings.model_copy(update={"redis_url": redis_url}),
                        models_file=config, models=list(models), workdir=stack.workdir)
