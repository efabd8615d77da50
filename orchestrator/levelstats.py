"""Per-level statistics of one model under one profile, from its Attempt records only.

Pure functions (no I/O, no clock), like `orchestrator.statistics`, whose per-model numbers
they complete: how often a level got full points (with a Wilson interval and the unbiased
pass@k), why it did not (`failure_cause`, from structured fields only, never from messages),
and what the model spent on it (tokens, tokens per second and model time, from llama.cpp's
`usage` and `timings`).

Choices where the design is silent:
- A level's rate counts every *scored* record of it, whether or not its iteration is
  complete: an infra error at L4 says nothing about L1. Records our side failed on are
  counted apart, as the cause "infra_error", outside the rate's trials.
- L2 and L3 prompts embed the same iteration's earlier code, so their attempts depend on it:
  pass@k and the interval treat iterations as independent, which they are, but a level's
  rate is conditional on that iteration's L1 (the report says so).
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from challenge.levels import MAX_POINTS, Level, Profile
from orchestrator.inference import pass_at_k, wilson_interval
from orchestrator.statistics import AttemptMap
from worker.records import Attempt, AttemptStatus, GenOutcome, Run


class FailureCause(StrEnum):
    """Why a level did not get full points, first match in this order."""

    INFRA_ERROR = "infra_error"
    """Our side failed (model server unreachable, sandbox down): never scored."""
    MODEL_ERROR = "model_error"
    """The server refused the input again after a retry, or timed out twice."""
    NO_CODE = "no_code"
    """The answer held no code (or was empty)."""
    TRUNCATED = "truncated"
    """Cut by max_tokens (scored as the original did; what broke it is most likely the cut)."""
    IMPORT_ERROR = "import_error"
    """The code could not be imported: a syntax error, a missing module, a crash at import."""
    TIMED_OUT = "timed_out"
    """A test ran out of time (its own limit or the sandbox's)."""
    TESTS_FAILED = "tests_failed"
    """The code ran and some tests failed (or were voided)."""


CAUSE_LABELS: dict[FailureCause, str] = {
    FailureCause.INFRA_ERROR: "infra error",
    FailureCause.MODEL_ERROR: "model error",
    FailureCause.NO_CODE: "no code",
    FailureCause.TRUNCATED: "truncated",
    FailureCause.IMPORT_ERROR: "syntax or import error",
    FailureCause.TIMED_OUT: "timed out",
    FailureCause.TESTS_FAILED: "tests failed",
}


class LevelStatistics(BaseModel):
    """One level of one model under one profile."""

    level: Level
    scored: int
    """Scored records of the level: the trials of its pass rate."""
    full_points: int
    """Of those, the ones with the level's full points (the original's "pass")."""
    pass_rate: float | None
    pass_rate_ci95: list[float] | None
    """Wilson 95 % interval [low, high] of the pass rate, as fractions."""
    pass_at_k: dict[int, float]
    """k (1 .. scored) -> the unbiased estimate of P(at least one of k attempts passes)."""
    causes: dict[FailureCause, int]
    """Every attempt that did not get full points, by its first cause (infra errors too)."""
    mean_points: float | None
    completion_tokens: float | None
    """Mean over the attempts that report it (llama.cpp's `usage`); None when none does."""
    tokens_per_s: float | None
    """Mean generation speed (`timings.predicted_per_second`)."""
    model_time_s: float | None
    """Mean model call of the final try."""


def is_full_points(attempt: Attempt, profile: Profile) -> bool:
    """The level got all its points under `profile` (a scored record only)."""
    points = attempt.scores.get(Profile(profile).value)
    return points is not None and points >= MAX_POINTS[attempt.level]


def failure_cause(attempt: Attempt, profile: Profile) -> FailureCause | None:
    """Why the attempt missed points under `profile`; None when it got them all or has no
    outcome yet. Reads status, gen_outcome and the harness's per-test causes only."""
    if attempt.status is AttemptStatus.INFRA_ERROR:
        return FailureCause.INFRA_ERROR
    if attempt.status is not AttemptStatus.SCORED or is_full_points(attempt, profile):
        return None
    if attempt.gen_outcome is GenOutcome.MODEL_ERROR:
        return FailureCause.MODEL_ERROR
    if attempt.gen_outcome is GenOutcome.NO_CODE or not attempt.extracted.get(profile.value):
        return FailureCause.NO_CODE
    if attempt.gen_outcome is GenOutcome.TRUNCATED:
        return FailureCause.TRUNCATED
    report = attempt.report
    tests = [t for t in (report.tests if report else []) if t.profile == profile]
    causes = {t.cause for t in tests if t.outcome != "passed"}
    if "import_error" in causes:
        return FailureCause.IMPORT_ERROR
    if "timeout" in causes or (report is not None and report.sandbox_timed_out):
        return FailureCause.TIMED_OUT
    return FailureCause.TESTS_FAILED


def level_statistics(run: Run, attempts: AttemptMap, model: str, level: Level,
                     profile: Profile) -> LevelStatistics:
    """`LevelStatistics` of `model` at `level` under `profile`, over the run's iterations."""
    profile = Profile(profile)
    records = [a for u, a in sorted(attempts.items())
               if u.model == model and u.level is Level(level)
               and u.iteration <= run.spec.iterations]
    scored = [a for a in records if a.status is AttemptStatus.SCORED and profile.value in a.scores]
    passed = sum(is_full_points(a, profile) for a in scored)
    interval = wilson_interval(passed, len(scored))
    causes = Counter(c for c in (failure_cause(a, profile) for a in records) if c is not None)
    return LevelStatistics(
        level=Level(level),
        scored=len(scored),
        full_points=passed,
        pass_rate=passed / len(scored) if scored else None,
        pass_rate_ci95=None if interval is None else [interval.low, interval.high],
        pass_at_k={k: pass_at_k(len(scored), passed, k) for k in range(1, len(scored) + 1)},
        causes={cause: causes[cause] for cause in FailureCause if causes[cause]},
        mean_points=_mean(a.scores[profile.value] for a in scored),
        completion_tokens=_mean(reported_number(a.usage, "completion_tokens") for a in records),
        tokens_per_s=_mean(reported_number(a.timings, "predicted_per_second") for a in records),
        model_time_s=_mean(a.call_duration_s for a in records),
    )


def model_levels(run: Run, attempts: AttemptMap, model: str, profile: Profile
                 ) -> list[LevelStatistics]:
    """`level_statistics` of each of the run's levels, in level order."""
    return [level_statistics(run, attempts, model, level, profile)
            for level in sorted(run.spec.levels, key=lambda lv: lv.number)]


def reported_number(mapping: Mapping[str, Any] | None, key: str) -> float | None:
    """A number the server reported (`usage`, `timings`): None when absent, not a number,
    or negative."""
    value = (mapping or {}).get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None
