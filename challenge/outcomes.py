"""Per-test outcomes as the sandbox runner reports them, shared by scoring and records."""

from typing import Literal

from pydantic import BaseModel

from challenge.levels import Profile

OutcomeKind = Literal["passed", "failed", "error", "skipped"]
Cause = Literal["import_error", "timeout", "void"]
"""Why a test did not pass, where the harness knows it for certain: the answer could not be
imported (a syntax error included), the test ran out of time (its own limit or the sandbox's),
or a pass was voided. None: the test's own verdict (an assertion, an exception)."""


class TestOutcome(BaseModel):
    """One test of one profile, as the harness saw it run (never as the candidate claimed)."""

    __test__ = False  # not a pytest test class

    profile: Profile
    id: str
    """Stable test id, e.g. "L1::add_job_returns_job_id"."""
    outcome: OutcomeKind
    duration_s: float = 0.0
    message: str = ""
    """Short reason for a failure or error (assertion text, timeout, crash)."""
    output: str = ""
    """Captured stdout/stderr of the test's process, capped at the source."""
    cause: Cause | None = None
