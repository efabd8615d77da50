"""The orchestrator uses only the worker's public, light modules, and the commands that only
read records load neither the LLM client nor the Docker SDK."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from challenge.levels import Level
from orchestrator.planning import build_run
from worker.config import ModelConfig
from worker.store import RecordStore

ORCHESTRATOR = Path(__file__).resolve().parents[2] / "orchestrator"

#: Worker modules the orchestrator may import: records, the store, the chain rules, settings
#: and config, sending by task name, the reconciler, the public sandbox functions, and the
#: scoring function.
PUBLIC_WORKER_MODULES = frozenset({
    "worker", "worker.app", "worker.chain", "worker.config", "worker.dispatch",
    "worker.errors", "worker.reconcile", "worker.records", "worker.sandbox", "worker.scorer",
    "worker.settings",
    "worker.store", "worker.unit", "worker.versions",
})

#: Packages `status` and `results` must never load.
HEAVY = ("openai", "docker", "httpx2", "celery")


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names
                      if node.module == "worker"}
    return found


def test_orchestrator_imports_only_public_worker_modules() -> None:
    offending = {
        f"{path.relative_to(ORCHESTRATOR.parent)}: {name}"
        for path in ORCHESTRATOR.rglob("*.py")
        for name in imported_modules(path)
        if name.split(".")[0] == "worker" and name not in PUBLIC_WORKER_MODULES
    }
    assert not offending


def test_the_check_itself_sees_a_private_import(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("from worker._docker import DockerSandbox\nimport worker.tasks\n")
    assert {"worker._docker", "worker.tasks"} <= imported_modules(probe)


def loaded_packages(*argv: str, env: dict[str, str]) -> tuple[set[str], str]:
    """Top-level packages a `python -X importtime ARGV` run imported."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("JQ_")}
    done = subprocess.run([sys.executable, "-X", "importtime", *argv],
                          env={**clean, **env}, capture_output=True, text=True, timeout=60)
    packages = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            packages.add(name.split(".")[0])
    return packages, done.stdout + done.stderr


@pytest.mark.redis
@pytest.mark.parametrize("command", ["status", "results"])
def test_reading_commands_stay_light(command: str, redis_url: str, tmp_path: Path) -> None:
    run = build_run("light-run", {"m": ModelConfig(base_url="http://127.0.0.1:9/v1")},
                    [Level.L1], 1, {}, "img")
    RecordStore.from_url(redis_url).save_run(run)
    argv = [command, "light-run"] + (["--output", str(tmp_path)] if command == "results" else [])
    packages, output = loaded_packages("-m", "orchestrator", *argv, env={"REDIS_URL": redis_url})
    assert "orchestrator" in packages and "redis" in packages, output
    assert not packages & set(HEAVY), output
    if command == "results":
        assert (tmp_path / "light-run" / "run.json").exists()


def test_the_import_check_sees_heavy_packages() -> None:
    """The check above would pass vacuously if importtime's output changed."""
    packages, output = loaded_packages(
        "-c", "import orchestrator.endpoints, worker.tasks, worker._docker", env={})
    assert set(HEAVY) <= packages, output
