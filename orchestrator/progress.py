"""Where a run stands, computed from its records only (works mid-run, from any machine)."""

from collections import Counter
from collections.abc import Mapping
from enum import StrEnum

from pydantic import BaseModel

from challenge.levels import Level
from worker.flow import chained_levels
from worker.records import Attempt, AttemptStatus, Run

AttemptMap = Mapping[tuple[str, int, Level], Attempt]


class UnitState(StrEnum):
    PENDING = "pending"
    """Queued, generating, or generated and waiting for its score."""
    SCORED = "scored"
    INFRA_ERROR = "infra_error"
    BLOCKED = "blocked"
    """An earlier link of its chain hit an infrastructure error: it waits for `resume`."""


def unit_state(run: Run, attempts: AttemptMap, model: str, iteration: int, level: Level
               ) -> UnitState:
    attempt = attempts.get((model, iteration, level))
    if attempt is not None:
        if attempt.status is AttemptStatus.SCORED:
            return UnitState.SCORED
        if attempt.status is AttemptStatus.INFRA_ERROR:
            return UnitState.INFRA_ERROR
        return UnitState.PENDING
    chain = chained_levels(run)
    if level in chain:
        for earlier in chain[: chain.index(level)]:
            previous = attempts.get((model, iteration, earlier))
            if (previous is not None and previous.status is AttemptStatus.INFRA_ERROR
                    and previous.infra_stage == "generate"):
                return UnitState.BLOCKED
    return UnitState.PENDING


class ModelProgress(BaseModel):
    model: str
    total: int
    counts: dict[str, int]

    @property
    def finished(self) -> int:
        return self.total - self.counts.get(UnitState.PENDING.value, 0)


class RunProgress(BaseModel):
    run_id: str
    models: list[ModelProgress]

    @property
    def done(self) -> bool:
        """No unit can move on by itself any more."""
        return all(m.finished == m.total for m in self.models)

    @property
    def complete(self) -> bool:
        """Every unit scored: the run's statistics cover all requested iterations."""
        return all(m.counts.get(UnitState.SCORED.value, 0) == m.total for m in self.models)

    @property
    def finished(self) -> int:
        return sum(m.finished for m in self.models)

    @property
    def total(self) -> int:
        return sum(m.total for m in self.models)


def run_progress(run: Run, attempts: AttemptMap) -> RunProgress:
    models = []
    for model in run.spec.models:
        counts: Counter[str] = Counter()
        for iteration in range(1, run.spec.iterations + 1):
            for level in run.spec.levels:
                counts[unit_state(run, attempts, model, iteration, level).value] += 1
        models.append(ModelProgress(model=model, total=sum(counts.values()), counts=dict(counts)))
    return RunProgress(run_id=run.run_id, models=models)
