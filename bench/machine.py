"""The machine a bench ran on, for its JSON and markdown (cores, memory, Docker, Python)."""

import os
import platform
import subprocess
from typing import Any

from worker.slots import host_memory_mb


def memory_gb() -> float | None:
    memory_mb = host_memory_mb()
    return None if memory_mb is None else round(memory_mb / 1024, 1)


def docker_version() -> str | None:
    try:
        return subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                              capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def describe() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "memory_gb": memory_gb(), "docker": docker_version(),
            "python": platform.python_version()}


def line(machine: dict[str, Any]) -> str:
    """One markdown line: '2 cores, 23.5 GB, Docker 20.10, Python 3.11.7'."""
    return (f"{machine['cores']} cores, {machine['memory_gb']} GB, Docker {machine['docker']}, "
            f"Python {machine['python']}")
