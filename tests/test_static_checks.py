"""Static checks as tests, with the settings in pyproject.toml: `ruff check .` over the whole
repository, and strict mypy over the packages that are typed so far (TYPED_PACKAGES).

Each runs the tool of this interpreter (`python -m ruff`, `python -m mypy`, from the dev extra:
pip install -e ".[dev]" -c constraints.txt). A tool that is not installed skips its test, or
fails it when CI=true.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Packages that must pass mypy (strict, [tool.mypy] in pyproject.toml). Add a package here
#: once it passes.
TYPED_PACKAGES = ["challenge", "worker", "orchestrator", "fakellm"]
#: Below the per-test pytest timeout, so that a hanging tool fails with its own output.
TOOL_TIMEOUT_S = 100
#: mypy's cache lives outside the checkout, so a fresh clone on this machine starts warm.
MYPY_CACHE = Path(os.environ.get("JQ_MYPY_CACHE_DIR",
                                 Path.home() / ".cache" / "jqbench" / "mypy"))


def run_tool(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m module args` in the repository root; skips (CI: fails) when not installed."""
    if importlib.util.find_spec(module) is None:
        reason = f'{module} is not installed (pip install -e ".[dev]" -c constraints.txt)'
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True,
        timeout=TOOL_TIMEOUT_S, check=False,
    )


def test_ruff_check_passes() -> None:
    result = run_tool("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_passes_on_the_typed_packages() -> None:
    result = run_tool("mypy", "--cache-dir", str(MYPY_CACHE), *TYPED_PACKAGES)
    assert result.returncode == 0, result.stdout + result.stderr
