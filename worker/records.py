"""What jqbench stores: the Run and one Attempt per (run, model, iteration, level).

Records are the source of truth for fan-in (status, results, regrade); Celery results are
never read.
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from challenge.levels import Level
from challenge.outcomes import TestOutcome
from challenge.points import LevelScore
from worker.config import ModelConfig


def utc_now() -> datetime:
    return datetime.now(UTC)


class RunSpec(BaseModel):
    models: list[str]
    levels: list[Level]
    iterations: int
    subset: bool = False
    """True when not all five levels run: totals are then out of the selected levels' points."""


class EndpointFacts(BaseModel):
    """What a model's server said about itself when the run was submitted."""

    root_url: str
    model_ids: list[str] = Field(default_factory=list)
    total_slots: int | None = None
    n_ctx: int | None = None
    build_info: str | None = None
    model_path: str | None = None


class Fingerprint(BaseModel):
    """Everything that could change a score besides the model's answer."""

    harness_version: str
    challenge_sha256: str
    sandbox_image: str
    sandbox_image_id: str | None = None
    sandbox_python: str | None = None
    sandbox_pytest: str | None = None


class Run(BaseModel):
    run_id: str
    created_at: datetime = Field(default_factory=utc_now)
    spec: RunSpec
    models: dict[str, ModelConfig]
    """Config snapshot; api keys are never in it (only the variable's name)."""
    endpoints: dict[str, EndpointFacts] = Field(default_factory=dict)
    fingerprint: Fingerprint


class AttemptStatus(StrEnum):
    GENERATED = "generated"
    """The model answered (or failed as a model outcome); scoring is pending."""
    SCORED = "scored"
    """Final: points under every profile."""
    INFRA_ERROR = "infra_error"
    """Final for now: our side failed; never scored, the iteration is incomplete."""
    RESUMED = "resumed"
    """An infra_error sent again by `resume`: pending until its unit runs."""


class GenOutcome(StrEnum):
    OK = "ok"
    NO_CODE = "no_code"
    """The answer held no code (also: empty answer)."""
    TRUNCATED = "truncated"
    """Cut by max_tokens; still extracted and scored, as the original did."""
    MODEL_ERROR = "model_error"
    """The server refused this input again after one retry, or it timed out twice."""


class Attempt(BaseModel):
    run_id: str
    model: str
    iteration: int
    level: Level
    status: AttemptStatus
    infra_stage: str | None = None
    """"generate" or "score" when status is infra_error."""
    gen_outcome: GenOutcome | None = None
    error: str = ""

    prompt: str = ""
    request: dict[str, Any] = Field(default_factory=dict)
    """The request body as sent (without credentials)."""
    accumulated_from: Level | None = None
    """The level whose extracted code the prompt embeds as "Current implementation"."""
    answer: str = ""
    reasoning_content: str | None = None
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None
    call_duration_s: float | None = None
    """Model call of the final try."""
    queued_s: float | None = None
    tries: int = 0

    handoff_code: str = ""
    """L1-L3: the legacy extraction, embedded by the next chained level's prompt."""
    extracted: dict[str, dict[str, str]] = Field(default_factory=dict)
    """Per profile: path -> code."""
    tests: list[TestOutcome] = Field(default_factory=list)
    scores: dict[str, float] = Field(default_factory=dict)
    level_scores: dict[str, LevelScore] = Field(default_factory=dict)
    sandbox_exit_code: int | None = None
    sandbox_output: str = ""
    sandbox_versions: dict[str, str] = Field(default_factory=dict)
    """Python and pytest versions the sandbox reported."""
    score_duration_s: float | None = None
    scoring_version: str | None = None
    previous_scores: list[dict[str, Any]] = Field(default_factory=list)
    """Earlier scorings kept by regrade: {scoring_version, scores, scored_at}."""

    gen_host: str | None = None
    score_host: str | None = None
    enqueued_at: datetime | None = None
    gen_started_at: datetime | None = None
    gen_finished_at: datetime | None = None
    score_started_at: datetime | None = None
    score_finished_at: datetime | None = None

    @property
    def key(self) -> str:
        return attempt_key(self.run_id, self.model, self.iteration, self.level)

    @property
    def failed_at_generate(self) -> bool:
        """Our side failed before the model answered: the unit must generate again."""
        return (self.status in (AttemptStatus.INFRA_ERROR, AttemptStatus.RESUMED)
                and self.infra_stage == "generate")

    @property
    def has_code(self) -> bool:
        return any(self.extracted.values())


def attempt_key(run_id: str, model: str, iteration: int, level: Level) -> str:
    """`{run}:{model}:{iteration}:{level}`, the stem of task ids and record keys."""
    return f"{run_id}:{model}:{iteration}:{level.value}"


def task_id(run_id: str, model: str, iteration: int, level: Level, stage: str) -> str:
    return f"{attempt_key(run_id, model, iteration, level)}:{stage}"
