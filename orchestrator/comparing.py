"""`compare_models`: two models' records, from one or more runs, compared per profile
(`orchestrator.comparison`), with what makes their scores less comparable."""

from collections.abc import Sequence

from orchestrator.comparison import Comparison, compare_profile
from orchestrator.report.build import report_profiles
from orchestrator.report.comparability import differences
from orchestrator.report.pooling import PooledModel, RunRecords, pool_model
from worker.errors import ConfigError


def side(sources: Sequence[RunRecords], name: str) -> tuple[str, list[RunRecords]]:
    """`MODEL` (every given run that has it) or `MODEL@RUN_ID` (that run only)."""
    model, _, run_id = name.partition("@")
    if not run_id:
        return model, list(sources)
    chosen = [s for s in sources if s.run.run_id == run_id]
    if not chosen:
        raise ConfigError(f"{name}: run {run_id} is not among the given runs (add --run "
                          f"{run_id})")
    return model, chosen


def compare_models(sources: Sequence[RunRecords], name_a: str, name_b: str) -> Comparison:
    """Compare A and B under every profile both have points for.

    Raises:
        ConfigError: A and B are the same records, or a model is in none of its runs.
    """
    model_a, sources_a = side(sources, name_a)
    model_b, sources_b = side(sources, name_b)
    pooled_a: PooledModel = pool_model(sources_a, model_a)
    pooled_b: PooledModel = pool_model(sources_b, model_b)
    runs_a = sorted({o.run_id for o in pooled_a.origins.values()})
    runs_b = sorted({o.run_id for o in pooled_b.origins.values()})
    if model_a == model_b and runs_a == runs_b:
        raise ConfigError(f"{name_a} and {name_b} are the same records: name two models, or "
                          "one model in different runs (MODEL@RUN_ID)")
    used = [s for s in sources if s in sources_a or s in sources_b]
    profiles = report_profiles(used)
    return Comparison(
        model_a=name_a, model_b=name_b, runs_a=runs_a, runs_b=runs_b,
        mismatches=differences(used, [model_a, model_b]),
        profiles=[compare_profile(pooled_a.run, pooled_a.attempts, model_a,
                                  pooled_b.run, pooled_b.attempts, model_b, p)
                  for p in profiles])
