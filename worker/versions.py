"""Versions recorded with every run and scoring."""

from functools import cache
from importlib.metadata import PackageNotFoundError, version

from challenge.fingerprint import challenge_fingerprint


@cache
def harness_version() -> str:
    try:
        return version("jqbench")
    except PackageNotFoundError:
        return "0+unknown"


@cache
def scoring_version() -> str:
    """Changes whenever the harness or the challenge's prompts and suites change."""
    return f"{harness_version()}+{challenge_fingerprint()[:12]}"
