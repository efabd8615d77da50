"""Where a run stands, computed from its records (and its cancel flag) only; works mid-run,
from any machine."""

from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from worker import chain
from worker.records import Attempt, AttemptStatus, Run
from worker.unit import Unit

AttemptMap = Mapping[Unit, Attempt]
"""A run's attempts keyed by unit, as `RecordStore.get_attempts` gives them."""


class UnitState(StrEnum):
    PENDING = "pending"
    """Queued, generating, or generated and waiting for its score."""
    SCORED = "scored"
    INFRA_ERROR = "infra_error"
    BLOCKED = "blocked"
    """An earlier link of its chain hit an infrastructure error: it waits for `resume`."""


def unit_state(run: Run, attempts: AttemptMap, unit: Unit) -> UnitState:
    attempt = attempts.get(unit)
    if attempt is not None:
        if attempt.status is AttemptStatus.SCORED:
            return UnitState.SCORED
        if attempt.status is AttemptStatus.INFRA_ERROR:
            return UnitState.INFRA_ERROR
        return UnitState.PENDING
    if chain.is_blocked(run, unit, attempts):
        return UnitState.BLOCKED
    return UnitState.PENDING


class ModelProgress(BaseModel):
    model: str
    total: int
    counts: dict[str, int]
    left_s: float | None = None
    """Estimated seconds until its pending units are done, from its own pace so far (see
    `time_left_s`); None before its first unit finished, 0 when nothing is pending."""

    @property
    def finished(self) -> int:
        return self.total - self.counts.get(UnitState.PENDING.value, 0)


class RunProgress(BaseModel):
    run_id: str
    models: list[ModelProgress]
    cancelled: bool = False
    """`jqbench cancel` set the run's flag: no further unit starts."""

    @property
    def done(self) -> bool:
        """No unit can move on by itself any more (a cancelled run is done)."""
        return self.cancelled or all(m.finished == m.total for m in self.models)

    @property
    def complete(self) -> bool:
        """Every unit scored: the run's statistics cover all requested iterations."""
        return all(m.counts.get(UnitState.SCORED.value, 0) == m.total for m in self.models)

    @property
    def finished(self) -> int:
        return sum(m.finished for m in self.models)

    @property
    def left_s(self) -> float | None:
        """The slowest model's estimate (models run side by side); None while any model
        with pending units has no pace yet."""
        estimates = [m.left_s for m in self.models if m.counts.get(UnitState.PENDING.value)]
        if any(e is None for e in estimates):
            return None
        return max((e for e in estimates if e is not None), default=0.0)

    @property
    def total(self) -> int:
        return sum(m.total for m in self.models)

    def as_json(self) -> dict[str, object]:
        """The shape of `jqbench status --json` and run.json's "progress"."""
        return {
            "run_id": self.run_id, "done": self.done, "complete": self.complete,
            "cancelled": self.cancelled,
            "finished": self.finished, "total": self.total,
            "models": {m.model: {"total": m.total, **m.counts} for m in self.models},
            "left_s": _rounded(self.left_s),
            "models_left_s": {m.model: _rounded(m.left_s) for m in self.models},
        }


def run_progress(run: Run, attempts: AttemptMap, *, cancelled: bool = False,
                 now: datetime | None = None) -> RunProgress:
    """Where `run` stands; `cancelled` is its flag in the store (`RecordStore.is_cancelled`).
    With `now`, each model's time left is estimated too (`time_left_s`)."""
    counts: dict[str, Counter[str]] = {model: Counter() for model in run.spec.models}
    for unit in run.units():
        counts[unit.model][unit_state(run, attempts, unit).value] += 1
    return RunProgress(run_id=run.run_id, cancelled=cancelled, models=[
        ModelProgress(model=model, total=sum(c.values()), counts=dict(c),
                      left_s=None if now is None else time_left_s(
                          attempts, model, c.get(UnitState.PENDING.value, 0), now))
        for model, c in counts.items()
    ])


def time_left_s(attempts: AttemptMap, model: str, pending: int, now: datetime
                ) -> float | None:
    """Pending units divided by the model's pace: units it finished (scored or failed on
    our side) per second since its first model call. None without a finished unit."""
    if pending == 0:
        return 0.0
    mine = [a for u, a in attempts.items() if u.model == model]
    starts = [a.gen_started_at for a in mine if a.gen_started_at is not None]
    finished = sum(a.status in (AttemptStatus.SCORED, AttemptStatus.INFRA_ERROR) for a in mine)
    if not starts or not finished:
        return None
    elapsed = (now - min(starts)).total_seconds()
    if elapsed <= 0:
        return None
    return pending * elapsed / finished


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
