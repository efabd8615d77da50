"""`build_report`: a `Report` from one or more runs' records (pure: no I/O, no clock)."""

from collections.abc import Sequence
from datetime import datetime

from challenge.levels import Profile
from orchestrator.levelstats import model_levels, reported_number
from orchestrator.report.comparability import differences
from orchestrator.report.model import ModelReport, ProfileReport, Report
from orchestrator.report.pooling import RunRecords, models_of, pool_model, pooled_id
from orchestrator.report.rows import attempt_rows
from orchestrator.statistics import model_statistics, scored_profiles
from worker.records import Attempt
from worker.unit import Unit


def report_profiles(sources: Sequence[RunRecords]) -> list[Profile]:
    """Profiles with points in every scored record of every run (legacy always)."""
    every: dict[Unit, Attempt] = {}
    for source in sources:
        every |= dict(source.attempts)
    return scored_profiles(every)


def build_report(sources: Sequence[RunRecords], now: datetime) -> Report:
    """The report of `sources`; a model in several runs has its iterations pooled."""
    if not sources:
        raise ValueError("a report needs at least one run")
    profiles = report_profiles(sources)
    models = []
    for model in models_of(sources):
        pooled = pool_model(sources, model)
        speeds = [speed for a in pooled.attempts.values()
                  if (speed := reported_number(a.timings, "predicted_per_second")) is not None]
        models.append(ModelReport(
            model=model,
            run_ids=list(dict.fromkeys(o.run_id for o in pooled.origins.values())),
            iteration_origins=[f"{o.run_id}#{o.iteration}"
                               for _, o in sorted(pooled.origins.items())],
            profiles={p: ProfileReport(
                statistics=model_statistics(pooled.run, pooled.attempts, model, p),
                levels=model_levels(pooled.run, pooled.attempts, model, p))
                for p in profiles},
            mean_tokens_per_s=sum(speeds) / len(speeds) if speeds else None,
        ))
    run_ids = [s.run.run_id for s in sources]
    first = sources[0].run
    return Report(
        title=f"jqbench {pooled_id(run_ids)}",
        run_ids=run_ids,
        generated_at=now,
        levels=sorted(first.spec.levels, key=lambda lv: lv.number),
        profiles=profiles,
        models=models,
        rows=attempt_rows(sources),
        warnings=[f"not comparable: {d}" for d in differences(sources)],
    )
