"""`challenge` stays pure: importing it pulls in no service client (checked in a fresh process).

`challenge.runner` is skipped: its modules are scripts run inside the container with their
own sys.path (stdlib only), not importable as parts of the package.
"""

import json
import subprocess
import sys

FORBIDDEN = ("redis", "docker", "celery", "kombu", "openai", "httpx", "httpx2")

SCRIPT = """
import importlib, json, pkgutil, sys
import challenge
for info in pkgutil.iter_modules(challenge.__path__, "challenge."):
    if info.name != "challenge.runner":
        importlib.import_module(info.name)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {forbidden!r})))
"""


def test_importing_challenge_imports_no_service_clients():
    """Every module of the package is imported; none may bring in a service client."""
    script = SCRIPT.format(forbidden=set(FORBIDDEN))
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
