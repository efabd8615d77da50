"""Fixtures of the realserver tests: the llama-server binary and tiny models.

Without the binary these tests skip, saying how to build it; under CI=true they fail
(scripts/test.sh builds it before their phase).
"""

from pathlib import Path

import pytest

from tests.realserver.binary import ENV_VAR, cached_binary, llama_server_binary
from tests.realserver.tiny_gguf import write_tiny_model
from tests.required import missing


@pytest.fixture(scope="session")
def llama_server_bin() -> Path:
    """The real llama-server to test."""
    binary = llama_server_binary()
    if binary is None:
        reason = (f"no llama-server binary at {cached_binary()} (nor in ${ENV_VAR}): "
                  "run scripts/build-llama-server.sh")
        missing(reason)
    return binary


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny GGUF model file."""
    return write_tiny_model(tmp_path_factory.mktemp("model") / "tiny.gguf")
