"""A model's attempts across several runs, pooled as one run's iterations.

Run A's iterations 1..5 and run B's 1..5 become iterations 1..10 of one pooled run, so the
per-run statistics (`orchestrator.statistics`, `orchestrator.levelstats`) apply unchanged.
Pooling needs runs that asked the same levels; whether their scores are comparable at all
(versions, sandbox, sampling) is `comparability.py`'s question.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.statistics import AttemptMap
from worker.errors import ConfigError
from worker.records import Attempt, Run, RunSpec
from worker.unit import Unit


@dataclass(frozen=True)
class RunRecords:
    """One stored run and its attempts (`RecordStore.get_attempts`)."""

    run: Run
    attempts: AttemptMap


@dataclass(frozen=True)
class Origin:
    """Where a pooled iteration came from."""

    run_id: str
    iteration: int


@dataclass(frozen=True)
class PooledModel:
    """One model's records from every given run that has it, as one run."""

    run: Run
    attempts: AttemptMap
    origins: dict[int, Origin]
    """Pooled iteration -> (run, iteration) it was."""


def pooled_id(run_ids: Sequence[str]) -> str:
    """The id of a pooled run: the runs' ids joined by '+' (a file-name-safe character)."""
    return "+".join(run_ids)


def pool_model(sources: Sequence[RunRecords], model: str) -> PooledModel:
    """`model`'s records from each run of `sources` that has it, iterations end to end.

    Raises:
        ConfigError: no run has the model, or the runs that have it asked different levels.
    """
    having = [s for s in sources if model in s.run.spec.models]
    if not having:
        raise ConfigError(f"no given run has the model {model!r} "
                          f"(runs: {', '.join(s.run.run_id for s in sources)})")
    levels = {tuple(sorted(s.run.spec.levels, key=lambda lv: lv.number)) for s in having}
    if len(levels) > 1:
        raise ConfigError(f"the runs of {model} asked different levels "
                          f"({'; '.join(' '.join(lv.value for lv in ls) for ls in levels)}): "
                          "their totals are not comparable")
    if len(having) == 1:
        only = having[0]
        return PooledModel(run=only.run, attempts=only.attempts, origins={
            i: Origin(only.run.run_id, i) for i in range(1, only.run.spec.iterations + 1)})
    run_id = pooled_id([s.run.run_id for s in having])
    first = having[0].run
    attempts: dict[Unit, Attempt] = {}
    origins: dict[int, Origin] = {}
    offset = 0
    for source in having:
        for unit, attempt in source.attempts.items():
            if unit.model == model and unit.iteration <= source.run.spec.iterations:
                iteration = offset + unit.iteration
                attempts[Unit(run_id, model, iteration, unit.level)] = attempt.model_copy(
                    update={"run_id": run_id, "iteration": iteration})
        for iteration in range(1, source.run.spec.iterations + 1):
            origins[offset + iteration] = Origin(source.run.run_id, iteration)
        offset += source.run.spec.iterations
    spec = RunSpec(models=[model], levels=first.spec.levels, iterations=offset,
                   subset=first.spec.subset)
    run = first.model_copy(update={"run_id": run_id, "spec": spec,
                                   "models": {model: first.models[model]}})
    return PooledModel(run=run, attempts=attempts, origins=origins)


def models_of(sources: Sequence[RunRecords]) -> list[str]:
    """Every model of the runs, in the order first seen."""
    return list(dict.fromkeys(m for s in sources for m in s.run.spec.models))
