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

RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
"""A run id is part of Redis keys (`:` separates their fields), of task ids and of a folder
name: no `/`, `:` or spaces, no leading `.` (`..`, hidden folders) or `-` (read as an option)."""

LEVEL_CHOICES = ", ".join(LEVELS)


def new_run_id() -> str:
    return f"{utc_now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def validate_run_id(run_id: str) -> str:
    if not RUN_ID_PATTERN.match(run_id):
        raise ConfigError(f"run id {run_id!r}: use 1 to 80 letters, digits, '.', '_' or '-', "
                          "starting with a letter or digit")
    return run_id


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
    validate_run_id(run_id)
    if iterations < 1:
        raise ConfigError(f"--iterations must be at least 1 (got {iterations})")
    ordered = [lv for lv in LEVELS if lv in set(levels)]
    if not ordered:
        raise ConfigError(f"no level selected: choose from {LEVEL_CHOICES}")
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


def spec_differences(stored: Run, wanted: Run) -> list[str]:
    """What a new request for an existing run id asks differently (empty: the same run).

    Compared: models, levels, iterations and each model's configuration; not what the servers
    said about themselves, nor the fingerprint (a resubmission only follows the stored run).
    """
    differences = [
        f"{what} {_words(old)} stored, {_words(new)} asked"
        for what, old, new in (
            ("models", stored.spec.models, wanted.spec.models),
            ("levels", [lv.value for lv in stored.spec.levels],
             [lv.value for lv in wanted.spec.levels]),
            ("iterations", [stored.spec.iterations], [wanted.spec.iterations]),
        )
        if old != new
    ]
    for model in (m for m in wanted.spec.models if m in stored.models):
        old_config = stored.models[model].model_dump(mode="json")
        new_config = wanted.models[model].model_dump(mode="json")
        differences += [
            f"model {model} {key} {old_config[key]!r} stored, {new_config[key]!r} asked"
            for key in new_config if old_config.get(key) != new_config[key]
        ]
    return differences


def _words(values: Sequence[object]) -> str:
    return " ".join(str(v) for v in values) or "(none)"
