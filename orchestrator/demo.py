"""`jqbench demo`: a complete local run with built-in fake llama-servers.

Two fake models (one answers with the reference solutions, one with typical flaws), a real
Redis (started when REDIS_URL is not set), real Celery workers and Docker scoring.
"""

import os
from pathlib import Path

import yaml

from challenge.levels import LEVELS
from orchestrator.console import err
from orchestrator.localstack import LocalStack
from orchestrator.submitting import submit_run
from worker.dispatch import SCORE_QUEUE, llm_queue
from worker.settings import Settings

DEMO_MODELS = {"demo-reference": "reference", "demo-flawed": "flawed"}


def run_demo(settings: Settings, iterations: int, output: Path) -> int:
    _check_docker(settings)
    with LocalStack() as stack:
        redis_url = os.environ.get("REDIS_URL") or stack.start_redis()
        models = {}
        for name, flavour in DEMO_MODELS.items():
            server = stack.start_fake_server(name, flavour, tokens_per_s=2000.0)
            models[name] = {"base_url": f"{server.url}/v1", "slots": 1}
            err.print(f"fake llama-server {name} ({flavour} answers) at {server.url}",
                      markup=False, highlight=False)
        config = stack.workdir / "models.yaml"
        config.write_text(yaml.safe_dump({"models": models}))
        env = {"REDIS_URL": redis_url, "JQ_SANDBOX_IMAGE": settings.sandbox_image}
        stack.start_worker("llm", [llm_queue(m) for m in models], len(models), env)
        stack.start_worker("score", [SCORE_QUEUE], os.cpu_count() or 1, env)
        err.print(f"workers started (logs in {stack.workdir})", markup=False, highlight=False)
        demo_settings = settings.model_copy(update={"redis_url": redis_url})
        return submit_run(demo_settings, list(models), list(LEVELS), iterations, config, None,
                          output, wait=True)


def _check_docker(settings: Settings) -> None:
    """Fail before starting anything when the sandbox cannot run."""
    from worker._docker import DockerSandbox

    DockerSandbox(settings.sandbox_image).image_facts()
