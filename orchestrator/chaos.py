"""A chaos run: a real local stack (durable Redis, fake llama-servers, Celery workers, Docker
scoring) benchmarked while a driver kills and restarts workers, Redis and model servers at
random moments drawn from a fixed seed. Used by `bench/chaos.py` and the CI chaos test.

What it reports is what "nothing lost, nothing duplicated" means in numbers: every unit ends
scored (or recorded as `infra_error`), and the model calls and sandboxes beyond one per unit
stay within what the injected faults could have cut (`extra_bound_*`).
"""

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from challenge.levels import Level
from fakellm import FakeLlamaServer, LatencyModel, canned_answers
from orchestrator.localstack import Child, LocalStack, free_port
from worker.dispatch import SCORE_QUEUE, llm_queue
from worker.errors import RedisUnavailable
from worker.records import AttemptStatus
from worker.sandbox import LABEL_RUN
from worker.store import RecordStore

FAULTS = ("kill-llm-worker", "kill-score-worker", "restart-redis", "restart-model-server")
SCORE_CONCURRENCY = 2


@dataclass(frozen=True)
class ChaosConfig:
    seed: int = 1
    models: int = 2
    levels: tuple[Level, ...] = (Level.L1, Level.L4)
    iterations: int = 2
    faults: int = 6
    """Faults injected at most (fewer when the run is done first)."""
    gap_s: tuple[float, float] = (2.0, 6.0)
    """Pause before each fault, drawn uniformly."""
    lease_s: float = 10.0
    sweep_s: float = 2.0
    latency_s: float = 1.5
    """Each model call's duration, so that faults find calls in flight."""
    timeout_s: float = 600.0


@dataclass
class ChaosReport:
    seed: int
    units: int
    faults: list[str] = field(default_factory=list)
    """What was injected, in order, with the second it happened."""
    scored: int = 0
    infra_errors: int = 0
    lost: int = 0
    """Units with no final record when the run was over: must be 0."""
    model_calls: int = 0
    extra_model_calls: int = 0
    extra_bound_model_calls: int = 0
    sandboxes: int = 0
    extra_scorings: int = 0
    extra_bound_scorings: int = 0
    sandboxes_left: int = 0
    wall_s: float = 0.0
    complete: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def _kill_group(child: Child) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.process.pid, signal.SIGKILL)
    child.process.wait(10)


class _Stack:
    """The stack under test, with a way to hit each of its parts."""

    def __init__(self, config: ChaosConfig, workdir: Path, sandbox_image: str) -> None:
        self.config = config
        self.local = LocalStack(workdir=workdir)
        self.redis_url = self.local.start_redis(durable=True)
        self.redis_port = int(self.redis_url.rsplit(":", 1)[1].split("/")[0])
        self.models = [f"chaos-m{i + 1}" for i in range(config.models)]
        self.ports = {m: free_port() for m in self.models}
        self.servers: dict[str, list[FakeLlamaServer]] = {m: [] for m in self.models}
        for model in self.models:
            self._start_server(model)
        self.env = {"REDIS_URL": self.redis_url, "JQ_SANDBOX_IMAGE": sandbox_image,
                    "JQ_LEASE_S": str(config.lease_s), "JQ_SWEEP_S": str(config.sweep_s),
                    "JQ_INFRA_BACKOFF_S": "1"}
        self.llm_workers = {m: self._start_llm_worker(m) for m in self.models}
        self.score_worker = self._start_score_worker()
        self.generation = 0

    def _start_server(self, model: str) -> None:
        server = FakeLlamaServer(canned_answers("reference"), port=self.ports[model], slots=1,
                                 alias=model, latency=LatencyModel(base_s=self.config.latency_s))
        self.servers[model].append(server.start())

    def _start_llm_worker(self, model: str) -> Child:
        return self.local.start_worker(f"llm-{model}-{time.monotonic_ns()}", [llm_queue(model)],
                                       1, self.env)

    def _start_score_worker(self) -> Child:
        return self.local.start_worker(f"score-{time.monotonic_ns()}", [SCORE_QUEUE],
                                       SCORE_CONCURRENCY, self.env)

    def inject(self, fault: str, rng: random.Random) -> str:
        """Do `fault` to a part chosen by `rng`; returns what was done."""
        if fault == "kill-llm-worker":
            model = rng.choice(self.models)
            _kill_group(self.llm_workers[model])
            self.llm_workers[model] = self._start_llm_worker(model)
            return f"{fault} {model}"
        if fault == "kill-score-worker":
            _kill_group(self.score_worker)
            self.score_worker = self._start_score_worker()
            return fault
        if fault == "restart-redis":
            redis = next(c for c in reversed(self.local.children)
                         if c.name == f"redis-{self.redis_port}")
            redis.stop()
            time.sleep(1.0)
            self.local.start_redis(port=self.redis_port, durable=True)
            return fault
        model = rng.choice(self.models)
        self.servers[model][-1].stop()
        time.sleep(1.0)
        self._start_server(model)
        return f"{fault} {model}"

    def close(self) -> None:
        self.local.stop()
        for instances in self.servers.values():
            for server in instances:
                server.stop()


def _chat_calls(servers: list[FakeLlamaServer]) -> int:
    return sum(1 for s in servers for r in s.requests if r.path.endswith("/chat/completions"))


class _SandboxCounter(threading.Thread):
    """Counts the run's sandbox containers as Docker creates them, live: the daemon keeps
    only its last few hundred events, too few to count a long run afterwards."""

    def __init__(self, run_id: str) -> None:
        super().__init__(name="chaos-sandbox-counter", daemon=True)
        import docker

        self._client = docker.from_env()
        self._label = f"{LABEL_RUN}={run_id}"
        self._events = self._client.events(decode=True, filters={
            "type": "container", "event": "create", "label": self._label})
        self.created = 0

    def run(self) -> None:
        with contextlib.suppress(Exception):  # ends when the stream is closed
            for _ in self._events:
                self.created += 1

    def left(self) -> int:
        """The run's sandbox containers that still exist."""
        return len(self._client.containers.list(all=True, filters={"label": self._label}))

    def close(self) -> None:
        self._events.close()
        self.join(5)
        self._client.close()


def run_chaos(config: ChaosConfig, workdir: Path, sandbox_image: str,
              run_id: str = "chaos") -> ChaosReport:
    """Run one benchmark under injected faults and measure what it cost."""
    rng = random.Random(config.seed)
    started = time.monotonic()
    counter = _SandboxCounter(run_id)
    counter.start()
    stack = _Stack(config, workdir, sandbox_image)
    units = config.models * len(config.levels) * config.iterations
    report = ChaosReport(seed=config.seed, units=units)
    try:
        models_file = workdir / "models.yaml"
        models_file.write_text(yaml.safe_dump({"models": {
            m: {"base_url": stack.servers[m][-1].base_url} for m in stack.models}}))
        submitted = subprocess.run(
            [sys.executable, "-m", "orchestrator", "submit", "--models", *stack.models,
             "--levels", *[lv.value for lv in config.levels], "--iterations",
             str(config.iterations), "--config", str(models_file), "--run-id", run_id],
            env={**os.environ, **stack.env}, capture_output=True, text=True, timeout=120)
        if submitted.returncode != 0:
            raise RuntimeError(f"submit failed: {submitted.stderr}")
        store = RecordStore.from_url(stack.redis_url, check=False)
        for _ in range(config.faults):
            time.sleep(rng.uniform(*config.gap_s))
            if _done(store, run_id):
                break
            fault = rng.choice(FAULTS)
            what = stack.inject(fault, rng)
            report.faults.append(f"{time.monotonic() - started:.1f}s {what}")
        while not _done(store, run_id):
            if time.monotonic() - started > config.timeout_s:
                break
            time.sleep(1.0)
        report.wall_s = round(time.monotonic() - started, 1)
        _count(report, store, run_id, stack, config)
        time.sleep(config.lease_s + 2 * config.sweep_s)  # dead workers' sandboxes go
        report.sandboxes, report.sandboxes_left = counter.created, counter.left()
        report.extra_scorings = max(0, report.sandboxes - report.scored)
    finally:
        stack.close()
        counter.close()
    return report


def _done(store: RecordStore, run_id: str) -> bool:
    """Every planned unit has a final record (Redis may be restarting: not done yet)."""
    try:
        run = store.get_run(run_id)
        if run is None:
            return False
        attempts = store.get_attempts(run)
    except RedisUnavailable:
        return False
    final = {AttemptStatus.SCORED, AttemptStatus.INFRA_ERROR}
    return len(attempts) == len(run.units()) and all(a.status in final
                                                     for a in attempts.values())


def _count(report: ChaosReport, store: RecordStore, run_id: str, stack: _Stack,
           config: ChaosConfig) -> None:
    run = store.get_run(run_id)
    attempts = store.get_attempts(run) if run else {}
    report.scored = sum(a.status is AttemptStatus.SCORED for a in attempts.values())
    report.infra_errors = sum(a.status is AttemptStatus.INFRA_ERROR for a in attempts.values())
    report.lost = report.units - report.scored - report.infra_errors
    report.complete = report.scored == report.units
    report.model_calls = sum(_chat_calls(s) for s in stack.servers.values())
    report.extra_model_calls = max(0, report.model_calls - report.units)
    kinds = [f.split()[1] for f in report.faults]
    # What each fault can cut: the calls or sandboxes in flight at that moment.
    report.extra_bound_model_calls = (kinds.count("kill-llm-worker")
                                      + kinds.count("restart-model-server")
                                      + kinds.count("restart-redis") * config.models)
    report.extra_bound_scorings = (kinds.count("kill-score-worker")
                                   + kinds.count("restart-redis")) * SCORE_CONCURRENCY
