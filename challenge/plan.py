"""What the sandbox receives: the files to write under /work and the tests to run there.

This is the contract between `challenge` (which builds it, purely) and the in-container runner
(`challenge/runner/runner.py`, which executes it). Paths are relative to /work.
"""

from pydantic import BaseModel, ConfigDict, Field

from challenge.levels import Level, Profile


class RunnerLimits(BaseModel):
    """What the in-container runner enforces, defined once and passed whole: settings ->
    `SandboxLimits.runner` -> `build_bundle` -> plan.json -> the runner's scheduler."""

    model_config = ConfigDict(frozen=True)

    test_timeout_s: float = Field(60.0, gt=0)
    """Wall-clock limit of one test's process; on expiry the test is an error."""
    max_parallel: int = Field(32, gt=0)
    """How many tests run at once inside one sandbox (each uses about 8 processes and
    threads: keep the sandbox's pids limit well above 8 times this)."""
    output_cap_bytes: int = Field(4000, ge=0)
    """Captured output kept per test (its tail), and of the sandbox as a whole."""


DEFAULT_RUNNER_LIMITS = RunnerLimits()


class CandidateSpec(BaseModel):
    """Where a test's queue comes from: a candidate host imports `module` from `dir`, in a
    process and uid of its own; the test sees it through a proxy module named `proxy_as`."""

    model_config = ConfigDict(frozen=True)

    dir: str
    """Directory (relative to /work) the candidate host imports from."""
    module: str
    """Module or package the candidate host imports ("job_queue", or "queue" at L5)."""
    proxy_as: str
    """Name under which the test imports the proxy ("job_queue"; "candidate_queue" at L5,
    where the name `queue` belongs to the standard library on the test's side)."""


class PlannedTest(BaseModel):
    """One pytest test function, run on its own in a fresh child process."""

    profile: Profile
    id: str
    """Stable id reported back, e.g. "L2::retry_then_success"."""
    cwd: str
    """Directory (relative to /work) the test runs in; it is also sys.path[0]."""
    file: str
    """Suite file, relative to `cwd`."""
    function: str
    """Test function name inside `file`."""
    candidate: CandidateSpec | None = None
    """The candidate's queue, served to the test across the trust boundary."""
    cpu_nice: int = 0
    """Niceness of the test's process. Legacy tests wait fixed times, so they are the ones a
    busy CPU can fail; strict tests wait with deadlines, so they yield the CPU to them."""
    settle_sleeps: bool = False
    """The test's own fixed sleeps are settled (challenge/runner/settle.py): past their
    length while the queue still has work ready to run, so a busy CPU cannot shorten them."""


class SandboxPlan(BaseModel):
    """The run description the runner reads from /work/plan.json."""

    tests: list[PlannedTest]
    limits: RunnerLimits = DEFAULT_RUNNER_LIMITS


class Bundle(BaseModel):
    """Everything one scoring run needs: files (text) and the plan."""

    level: Level
    files: dict[str, str] = Field(default_factory=dict)
    """Path relative to /work -> content (suites, candidate code, conftest)."""
    plan: SandboxPlan
    extracted: dict[str, dict[str, str]] = Field(default_factory=dict)
    """Per profile: the candidate files extracted from the answer (empty when no code)."""
