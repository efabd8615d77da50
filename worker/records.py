"""What jqbench stores: the Run and one Attempt per unit (run, model, iteration, level).

Records are the source of truth for fan-in (status, results, regrade); Celery results are
never read. An Attempt keeps its scoring as one nested `ScoreReport`, as `score_answer`
returned it; records written before that (flat fields) still load.
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from challenge.levels import Level
from challenge.outcomes import TestOutcome
from challenge.points import LevelScore
from worker.config import ModelConfig
from worker.unit import Unit


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

    def units(self) -> list[Unit]:
        """Every planned unit, model by model, iteration by iteration, level by level."""
        return [Unit(self.run_id, model, iteration, level)
                for model in self.spec.models
                for iteration in range(1, self.spec.iterations + 1)
                for level in self.spec.levels]

    def shared_server(self, model: str) -> str | None:
        """The server `model` shares with others, model by model (`worker.driver`), or None."""
        config = self.models[model]
        return config.server if config.shares_a_server else None


class ModelLoad(BaseModel):
    """One model loaded on a shared GPU server by a run's driver (`worker.driver`)."""

    run_id: str
    server: str
    model: str
    started_at: datetime
    load_s: float
    """Until the server said the model was loaded (router), or until a one-token warm-up
    request was answered (llama-swap, which loads on a model's first request)."""
    finished_at: datetime | None = None
    """When the driver was done with the model (unloaded it, or moved on)."""
    slots_configured: int | None = None
    slots_reported: int | None = None
    """The slots models.yaml gives its server, and those the server reported for the model
    once loaded (router: `/slots`; None where it does not say)."""


class ScoreReport(BaseModel):
    """The outcome of scoring one answer for one level, under each requested profile."""

    level: Level
    status: Literal["ok", "no_code"]
    """"no_code": no profile found code in the answer; the sandbox was not started."""
    scores: dict[str, float] = Field(default_factory=dict)
    """Profile -> points of the level."""
    level_scores: dict[str, LevelScore] = Field(default_factory=dict)
    tests: list[TestOutcome] = Field(default_factory=list)
    """Every planned test once, in plan order (empty when nothing ran)."""
    extracted: dict[str, dict[str, str]] = Field(default_factory=dict)
    """Profile -> path -> code, as extracted from the answer."""
    sandbox_exit_code: int | None = None
    sandbox_timed_out: bool = False
    sandbox_oom_killed: bool = False
    sandbox_output: str = ""
    """The sandbox's stderr and stray stdout (without the report), capped."""
    python: str | None = None
    pytest: str | None = None
    duration_s: float = 0.0
    sandbox_phases_s: dict[str, float] = Field(default_factory=dict)
    """Host side of the sandbox run, in seconds (see `ExecResult.phases_s`)."""
    runner_timing: dict[str, float] = Field(default_factory=dict)
    """The runner's side, from its signed report: setup_s (start to the first test), tests_s
    (first test to the last result), cpu_s (the container's CPU time until the report)."""


class AttemptStatus(StrEnum):
    GENERATED = "generated"
    """The model answered (or failed as a model outcome); scoring is pending."""
    SCORED = "scored"
    """Final: points under every profile."""
    INFRA_ERROR = "infra_error"
    """Final for now: our side failed; never scored, the iteration is incomplete."""
    RESUMED = "resumed"
    """An infra_error sent again by `resume`: pending until its unit runs."""


class InfraStage(StrEnum):
    """Where our side failed, for an infra_error."""

    GENERATE = "generate"
    """The model server could not be reached (connection, 5xx, still loading)."""
    SCORE = "score"
    """The sandbox could not run (Docker down, image missing)."""
    CONTEXT = "context"
    """Our configuration: the prompt does not fit the server's context per slot, or the
    server cut it (`worker.context_fit`); `resume` once the server has more context."""
    INTERNAL = "internal"
    """An unexpected error of jqbench itself; `resume` retries it like the others."""


class GenOutcome(StrEnum):
    OK = "ok"
    NO_CODE = "no_code"
    """The answer held no code (also: empty answer)."""
    TRUNCATED = "truncated"
    """Cut by max_tokens; still extracted and scored, as the original did."""
    MODEL_ERROR = "model_error"
    """The server refused this input again after one retry, or it timed out twice."""


class RetryNote(BaseModel):
    """One failed try that was tried again: why, and after how long."""

    kind: str
    """"loading", "infra", "context" or "timeout"."""
    message: str
    delay_s: float
    status: int | None = None
    """The HTTP status the server answered, when it refused (None: no answer at all)."""


_REPORT_FIELDS = ("extracted", "tests", "scores", "level_scores", "sandbox_exit_code",
                  "sandbox_output")


class Attempt(BaseModel):
    run_id: str
    model: str
    iteration: int
    level: Level
    status: AttemptStatus
    infra_stage: InfraStage | None = None
    """Where our side failed, when status is infra_error (or resumed from one)."""
    gen_outcome: GenOutcome | None = None
    """Set once the model answered (or failed as a model outcome); None before."""
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
    """Time the generate task waited in its queue."""
    slot_wait_s: float = 0.0
    """Time its tries waited for a free slot of the server (`worker.inflight`)."""
    prompt_tokens_counted: int | None = None
    """The prompt's tokens by the server's own template and tokenizer (None: it cannot
    say); a reply that read fewer was cut (`worker.context_fit`)."""
    context_warning: str | None = None
    """A model's first unit: whether chained prompts may outgrow the context."""
    tries: int = 0
    retries: list[RetryNote] = Field(default_factory=list)
    """Every try of the model call that was tried again, in order."""
    server_build: str | None = None
    """The server's build stamp (`system_fingerprint`) on the answer of the final try."""

    handoff_code: str = ""
    """L1-L3: the legacy extraction, embedded by the next chained level's prompt."""
    report: ScoreReport | None = None
    """The scoring, whole, as `score_answer` returned it."""
    scoring_version: str | None = None
    score_retries: list[RetryNote] = Field(default_factory=list)
    """Sandbox starts that were tried again."""
    previous_scores: list[dict[str, Any]] = Field(default_factory=list)
    """Earlier scorings kept by regrade: {scoring_version, scores, scored_at}."""

    gen_host: str | None = None
    score_host: str | None = None
    enqueued_at: datetime | None = None
    gen_started_at: datetime | None = None
    gen_finished_at: datetime | None = None
    score_enqueued_at: datetime | None = None
    score_queued_s: float | None = None
    """Time the score task waited in its queue."""
    score_started_at: datetime | None = None
    score_finished_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _nest_flat_scoring(cls, data: Any) -> Any:
        """Records written before `report` existed kept its fields flat: nest them."""
        if not isinstance(data, dict) or data.get("report") is not None:
            return data
        if not any(data.get(name) for name in _REPORT_FIELDS):
            return data
        data = dict(data)
        flat = {name: data.pop(name) for name in _REPORT_FIELDS if name in data}
        versions = data.pop("sandbox_versions", None) or {}
        duration = data.pop("score_duration_s", None)
        data["report"] = {
            **{k: v for k, v in flat.items() if v is not None},
            "level": data.get("level"),
            "status": "ok" if flat.get("tests") else "no_code",
            "python": versions.get("python"),
            "pytest": versions.get("pytest"),
            "duration_s": duration or 0.0,
        }
        return data

    @property
    def unit(self) -> Unit:
        return Unit(self.run_id, self.model, self.iteration, self.level)

    @property
    def key(self) -> str:
        return self.unit.key

    @property
    def failed_at_generate(self) -> bool:
        """Our side failed before the model answered: the unit must generate again."""
        return (self.status in (AttemptStatus.INFRA_ERROR, AttemptStatus.RESUMED)
                and self.gen_outcome is None)

    @property
    def scores(self) -> dict[str, float]:
        """Profile -> points; empty until scored."""
        return self.report.scores if self.report else {}

    @property
    def level_scores(self) -> dict[str, LevelScore]:
        return self.report.level_scores if self.report else {}

    @property
    def tests(self) -> list[TestOutcome]:
        return self.report.tests if self.report else []

    @property
    def extracted(self) -> dict[str, dict[str, str]]:
        return self.report.extracted if self.report else {}

    @property
    def has_code(self) -> bool:
        return any(self.extracted.values())

    def record_scoring(self, report: ScoreReport, scoring_version: str) -> None:
        """Make `report` this attempt's scoring: status scored, any infra error cleared."""
        self.status = AttemptStatus.SCORED
        self.infra_stage = None
        if self.gen_outcome is not GenOutcome.MODEL_ERROR:
            self.error = ""
        self.report = report
        self.scoring_version = scoring_version

    def record_infra_error(self, stage: InfraStage, error: str) -> None:
        self.status = AttemptStatus.INFRA_ERROR
        self.infra_stage = stage
        self.error = error
