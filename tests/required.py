"""What a test needs that the machine may lack: under CI=true it must be there."""

import os
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI") == "true"


def missing(reason: str) -> NoReturn:
    """Fail in CI, skip elsewhere (saying what is missing and how to get it)."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)
