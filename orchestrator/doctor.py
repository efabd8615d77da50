"""`jqbench doctor`: is this set-up ready to run a benchmark? Each check says what is wrong
and the command that fixes it; nothing is changed.

Checks: Redis answers; Docker answers and has the sandbox image; a worker consumes every
model's queue and `score`; every model's server answers, with enough slots and context.
"""

import math
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

from challenge.answers import REFERENCE, canned_answer
from challenge.extraction import extract_code_legacy
from challenge.levels import CHAINED_LEVELS, LEVELS
from challenge.prompts import build_prompt
from orchestrator.planning import select_models
from orchestrator.workers import WorkerCensus, run_queues, worker_census, worker_command
from worker.config import ModelConfig, load_models
from worker.dispatch import SCORE_QUEUE
from worker.errors import ConfigError, RedisUnavailable, ServiceUnavailable
from worker.records import EndpointFacts
from worker.sandbox import SandboxUnavailable, sandbox_image_facts
from worker.settings import Settings
from worker.store import RecordStore

CHARS_PER_TOKEN = 3
"""A cautious guess for code and English: real tokenizers give 3 to 4 characters a token."""


class Verdict(StrEnum):
    OK = "ok"
    WARN = "warn"
    """Works, but something will likely go wrong (a short context, too few slots)."""
    FAIL = "fail"
    """A run cannot finish like this."""


@dataclass(frozen=True)
class Check:
    name: str
    verdict: Verdict
    detail: str
    """What was found; what is wrong, when something is."""
    fix: str = ""
    """The command (or the edit) that fixes it."""


def diagnose(settings: Settings, models_file: Path, names: Sequence[str] | None = None,
             *, inspect_timeout_s: float = 1.0) -> list[Check]:
    """Every check, in the order a set-up is built: Redis, Docker, workers, model servers.

    Raises:
        ConfigError: `names` names a model the models file does not have.
    """
    redis_check = check_redis(settings)
    models, models_check = _models(models_file, names)
    census = (worker_census(settings, inspect_timeout_s)
              if redis_check.verdict is Verdict.OK else None)
    checks = [redis_check, check_sandbox(settings, census)]
    if models_check is not None:
        checks.append(models_check)
    checks += check_queues(census, run_queues(models))
    checks += [check_model(name, config, settings.loading_wait_s)
               for name, config in models.items()]
    return checks


def _models(path: Path, names: Sequence[str] | None
            ) -> tuple[dict[str, ModelConfig], Check | None]:
    try:
        available = load_models(path)
    except ConfigError as exc:
        return {}, Check("models file", Verdict.FAIL, str(exc),
                         "cp models.example.yaml models.yaml and describe your servers "
                         "(or pass --config / set JQ_MODELS_FILE)")
    return (select_models(available, names, str(path)) if names else available), None


def check_redis(settings: Settings) -> Check:
    try:
        store = RecordStore.from_url(settings.redis_url)
    except RedisUnavailable as exc:
        return Check("redis", Verdict.FAIL, str(exc),
                     "start redis-server (scripts/setup.sh), or set REDIS_URL")
    store.close()
    return Check("redis", Verdict.OK, "answers (REDIS_URL)")


def check_sandbox(settings: Settings, census: WorkerCensus | None) -> Check:
    """Docker and the sandbox image; only a warning when Docker does not answer here but
    score workers run on other hosts (they need it there, not here)."""
    try:
        facts = sandbox_image_facts(settings)
    except SandboxUnavailable as exc:
        image_missing = "image" in exc.message
        fix = ("scripts/build-sandbox-image.sh" if image_missing
               else "start dockerd (scripts/setup.sh does), or point DOCKER_HOST at a daemon")
        elsewhere = remote_score_workers(census)
        if elsewhere and not image_missing:
            return Check("docker", Verdict.WARN, f"{exc.message}; scoring runs on "
                         f"{', '.join(elsewhere)}, which need Docker there", fix)
        return Check("docker", Verdict.FAIL, exc.message, fix)
    return Check("docker", Verdict.OK, f"sandbox image {facts.image} ({facts.image_id[:19]})")


def remote_score_workers(census: WorkerCensus | None, host: str | None = None) -> list[str]:
    """Score workers on other hosts than this one (Celery names workers `name@host`)."""
    here = host or socket.gethostname()
    listeners = census.listeners(SCORE_QUEUE) if census else []
    return [w for w in listeners if w.rpartition("@")[2] != here]


def check_queues(census: WorkerCensus | None, queues: dict[str, int | None]) -> list[Check]:
    """One check per queue: does any worker consume it?"""
    checks = []
    for queue, concurrency in queues.items():
        name, fix = f"workers {queue}", worker_command(queue, concurrency)
        listeners = census.listeners(queue) if census else []
        if census is None:
            checks.append(Check(name, Verdict.FAIL, "not asked: Redis does not answer",
                                "start Redis first"))
        elif census.error:
            checks.append(Check(name, Verdict.FAIL, f"no worker answered ({census.error})", fix))
        elif not census.workers:
            checks.append(Check(name, Verdict.FAIL, "no Celery worker answered at all", fix))
        elif not listeners:
            checks.append(Check(name, Verdict.FAIL, "no worker listens on it", fix))
        else:
            checks.append(Check(name, Verdict.OK, ", ".join(listeners)))
    return checks


def check_model(name: str, config: ModelConfig, loading_wait_s: float = 0.0) -> Check:
    """Ask the model's server about itself (not waiting while it loads), then judge it."""
    from orchestrator.endpoints import check_endpoint

    label = f"model {name}"
    if config.server_kind == "commands":
        return Check(label, Verdict.OK, f"started on demand by the worker of servers."
                     f"{config.server} (kind commands): not running now, nothing to check")
    api_key = os.environ.get(config.api_key_env) if config.api_key_env else None
    if config.api_key_env and api_key is None:
        return Check(label, Verdict.FAIL, f"environment variable {config.api_key_env} is "
                     "not set", f"export {config.api_key_env}=<the server's API key>")
    try:
        facts = check_endpoint(name, config, api_key=api_key, loading_wait_s=0.0)
    except ServiceUnavailable as exc:
        message = str(exc).removeprefix(f"{label}: ")
        loading = "answered 503" in message
        return Check(label, Verdict.WARN if loading else Verdict.FAIL, message,
                     "wait until it has loaded the model (submit waits up to "
                     f"{loading_wait_s:g} s)" if loading else
                     f"start llama-server for {name} at {config.root_url}, or correct its "
                     "base_url in the models file")
    return judge_endpoint(name, config, facts, longest_prompt_tokens())


def judge_endpoint(name: str, config: ModelConfig, facts: EndpointFacts, prompt_tokens: int
                   ) -> Check:
    """Health was fine: compare the server's slots and context with what a run needs."""
    label = f"model {name}"
    found = [f"{facts.root_url} healthy", f"slots {_known(facts.total_slots)}",
             f"n_ctx {_known(facts.n_ctx)} per slot"]
    problems, fixes = [], []
    if facts.total_slots is not None and facts.total_slots < config.slots:
        problems.append(f"the server has {facts.total_slots} slot(s) but the models file "
                        f"says slots: {config.slots}, so requests queue at the server")
        fixes.append(f"set slots: {facts.total_slots} (or llama-server --parallel "
                     f"{config.slots})")
    needed = prompt_tokens + config.max_tokens
    if facts.n_ctx is not None and facts.n_ctx < needed:
        problems.append(f"n_ctx {facts.n_ctx} per slot < about {needed} tokens (longest "
                        f"prompt ~{prompt_tokens} + max_tokens {config.max_tokens}): long "
                        "answers get cut or refused")
        slots = facts.total_slots or config.slots
        fixes.append(f"llama-server -c {needed * slots} (the context is shared by "
                     f"--parallel {slots}), or a lower max_tokens")
    if problems:
        return Check(label, Verdict.WARN, "; ".join(problems), "; ".join(fixes))
    return Check(label, Verdict.OK, ", ".join(found))


@cache
def longest_prompt_tokens() -> int:
    """Tokens of the longest prompt, estimated: the L2 and L3 prompts embed the previous
    level's code, here the reference answer's (a model's may be longer)."""
    longest, handed_on = 0, None
    for level in LEVELS:
        longest = max(longest, len(build_prompt(level, handed_on)))
        if level in CHAINED_LEVELS:
            handed_on = extract_code_legacy(canned_answer(level, REFERENCE))
    return math.ceil(longest / CHARS_PER_TOKEN)


def _known(value: object) -> str:
    return "unknown" if value is None else str(value)
