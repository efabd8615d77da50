"""What a report holds: per model and profile, the run statistics and the level statistics;
the attempt rows; and whatever makes its numbers less comparable. Built by `build.py`,
shown by `markdown.py` and `html.py`."""

from datetime import datetime

from pydantic import BaseModel

from challenge.levels import Level, Profile
from orchestrator.levelstats import LevelStatistics
from orchestrator.report.rows import AttemptRow
from orchestrator.statistics import ModelStatistics


class ProfileReport(BaseModel):
    """One model under one profile."""

    statistics: ModelStatistics
    levels: list[LevelStatistics]


class ModelReport(BaseModel):
    model: str
    run_ids: list[str]
    """The runs its iterations come from, in order (pooled end to end)."""
    iteration_origins: list[str]
    """Pooled iteration i (1-based) -> "run_id#iteration", at index i - 1."""
    profiles: dict[Profile, ProfileReport]
    mean_tokens_per_s: float | None
    """Over every attempt that reported a speed."""


class Report(BaseModel):
    title: str
    run_ids: list[str]
    generated_at: datetime
    levels: list[Level]
    """Levels of the report, in order (the first run's)."""
    profiles: list[Profile]
    """Profiles with points in every scored record of every run."""
    models: list[ModelReport]
    rows: list[AttemptRow]
    warnings: list[str]
    """What makes numbers of different runs less comparable, and other caveats."""
