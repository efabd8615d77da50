"""Where the real llama-server binary is: `JQ_LLAMA_SERVER`, else the cache of
scripts/build-llama-server.sh (the version pinned there)."""

import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "scripts" / "build-llama-server.sh"
ENV_VAR = "JQ_LLAMA_SERVER"
#: Read once at import: the suite's autouse fixture clears JQ_* variables for each test.
_FROM_ENV = os.environ.get(ENV_VAR)


def pinned_version() -> str:
    """The llama-cpp-python version scripts/build-llama-server.sh builds from."""
    found = re.search(r"^LLAMA_CPP_PYTHON_VERSION=(\S+)$", BUILD_SCRIPT.read_text(),
                      re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no LLAMA_CPP_PYTHON_VERSION= line in {BUILD_SCRIPT}")
    return found.group(1)


def cached_binary() -> Path:
    """The path scripts/build-llama-server.sh caches the binary at (it may not exist)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "jqbench" / f"llama-server-{pinned_version()}" / "llama-server"


def llama_server_binary() -> Path | None:
    """The binary to test, or None when there is none (then the tests say how to build)."""
    path = Path(_FROM_ENV) if _FROM_ENV else cached_binary()
    return path if path.is_file() and os.access(path, os.X_OK) else None
