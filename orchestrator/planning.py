"""Turning a request into a stored Run and its first units of work."""

import re
import secrets
from collections.abc import Sequence

from challenge.fingerprint import challenge_fingerprint
from challenge.levels import LEVELS, Level
from worker.config import ModelConfig
from worker.errors import ConfigError
from worker.records import EndpointFacts, Fingerprint, Run, RunSpec, utc_now
from worker.versions import harness_version

RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,80}$")


def new_run_id() -> str:
    return f"{utc_now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def select_models(available: dict[str, ModelConfig], names: Sequence[str], source: str
                  ) -> dict[str, ModelConfig]:
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ConfigError(
            f"unknown model(s) {', '.join(unknown)} in {source}; known: {', '.join(available)}"
        )
    if len(set(names)) != len(names):
        raise ConfigError("a model is named twice in --models")
    return {n: available[n] for n in names}


def build_run(
    run_id: str,
    models: dict[str, ModelConfig],
    levels: Sequence[Level],
    iterations: int,
    endpoints: dict[str, EndpointFacts],
    sandbox_image: str,
) -> Run:
    if not RUN_ID_PATTERN.match(run_id):
        raise ConfigError(f"run id {run_id!r} may only use letters, digits, '.', '_' and '-'")
    if iterations < 1:
        raise ConfigError("--iterations must be at least 1")
    ordered = [lv for lv in LEVELS if lv in set(levels)]
    return Run(
        run_id=run_id,
        spec=RunSpec(models=list(models), levels=ordered, iterations=iterations,
                     subset=len(ordered) < len(LEVELS)),
        models=models,
        endpoints=endpoints,
        fingerprint=Fingerprint(
            harness_version=harness_version(),
            challenge_sha256=challenge_fingerprint(),
            sandbox_image=sandbox_image,
        ),
    )
