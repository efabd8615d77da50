"""The machine a bench ran on, for its JSON and markdown (cores, memory, Docker, Python)."""

import os
import platform
import subprocess
from pathlib import Path
from typing import Any


def memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


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
