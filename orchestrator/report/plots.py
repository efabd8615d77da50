"""The report's five charts, from a `Report` (its statistics and attempt rows) to inline SVG.

1. every iteration's total per model (a strip plot per profile, score bands behind, the
   mean and its 95 % t interval);
2. level x model pass rate (a heatmap per profile);
3. legacy against strict (each complete iteration a point, the line y = x);
4. score against tokens per second (each complete iteration: its total against the mean
   speed of its attempts);
5. model time per level (mean bars from `LevelStatistics.model_time_s`, every attempt a dot).
"""

from collections import defaultdict
from dataclasses import dataclass

from challenge.levels import Profile
from orchestrator.inference import SCORE_BANDS
from orchestrator.report.model import ModelReport, Report
from orchestrator.report.rows import AttemptRow
from orchestrator.report.svg import (
    BarGroup,
    Cell,
    DotRow,
    Point,
    dot_rows,
    fmt,
    grouped_bars,
    heatmap,
    nice_max,
    scatter,
)


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    svg: str
    note: str = ""


def _bands(maximum: float) -> list[tuple[float, str]]:
    """The original's bands for totals out of 100; none for a subset run's other maximum."""
    if maximum != 100:
        return [(maximum, "")]
    return [(min(upper, 100.0), name) for upper, name in SCORE_BANDS]


def _maximum(report: Report) -> float:
    for model in report.models:
        for profile in model.profiles.values():
            return float(profile.statistics.max_points)
    return 100.0


def iteration_rows(report: Report, model: ModelReport, iteration: int) -> list[AttemptRow]:
    """The attempt rows of `model`'s pooled iteration (1-based)."""
    origin = model.iteration_origins[iteration - 1] if iteration <= len(
        model.iteration_origins) else ""
    run_id, _, number = origin.rpartition("#")
    return [r for r in report.rows if r.model == model.model and r.run_id == run_id
            and str(r.iteration) == number]


def scores_chart(report: Report, profile: Profile) -> Chart:
    maximum = _maximum(report)
    rows = []
    for index, model in enumerate(report.models):
        stats = model.profiles[profile].statistics
        bands = stats.score_bands or [""] * len(stats.all_scores)
        tips = [f"{model.model}, iteration {it}: {fmt(float(s))}" + (f" ({b})" if b else "")
                for it, s, b in zip(stats.complete_iterations, stats.all_scores, bands,
                                    strict=True)]
        interval = (stats.mean_ci95[0], stats.mean_ci95[1]) if stats.mean_ci95 else None
        rows.append(DotRow(label=model.model, colour=index,
                           values=[float(s) for s in stats.all_scores], tips=tips,
                           mean=stats.avg_score, interval=interval))
    title = f"Every iteration's total, {profile.value}"
    return Chart(f"scores-{profile.value}", title,
                 dot_rows(rows, maximum, _bands(maximum), title),
                 "Each dot is one complete iteration; the tall tick is the mean, the "
                 "whiskers its 95 % t interval (from two iterations on).")


def heatmap_chart(report: Report, profile: Profile) -> Chart:
    columns = [level.value for level in report.levels]
    cells = []
    for model in report.models:
        by_level = {ls.level: ls for ls in model.profiles[profile].levels}
        row = []
        for level in report.levels:
            ls = by_level.get(level)
            if ls is None or ls.pass_rate is None:
                row.append(Cell(None, "–", f"{model.model} {level.value}: nothing scored"))
                continue
            ci = ls.pass_rate_ci95
            tip = (f"{model.model} {level.value}: {ls.full_points}/{ls.scored} with full "
                   f"points" + (f", 95 % Wilson [{ci[0]:.0%}, {ci[1]:.0%}]" if ci else ""))
            row.append(Cell(ls.pass_rate, f"{ls.full_points}/{ls.scored}", tip))
        cells.append(row)
    title = f"Pass rate (full points) by level, {profile.value}"
    return Chart(f"heatmap-{profile.value}", title,
                 heatmap(columns, [m.model for m in report.models], cells, title),
                 "Bright is high. L2 and L3 build on the same iteration's earlier code, so "
                 "their rates are conditional on it.")


def legacy_strict_chart(report: Report) -> Chart | None:
    if Profile.STRICT not in report.profiles:
        return None
    maximum = _maximum(report)
    points = []
    for index, model in enumerate(report.models):
        legacy = model.profiles[Profile.LEGACY].statistics
        strict = model.profiles[Profile.STRICT].statistics
        strict_by_it = dict(zip(strict.complete_iterations, strict.all_scores, strict=True))
        for it, value in zip(legacy.complete_iterations, legacy.all_scores, strict=True):
            if it in strict_by_it:
                points.append(Point(float(value), float(strict_by_it[it]), index,
                                    f"{model.model}, iteration {it}: legacy {fmt(value)}, "
                                    f"strict {fmt(strict_by_it[it])}"))
    title = "Legacy against strict, per iteration"
    return Chart("legacy-strict", title,
                 scatter(points, maximum, maximum, "legacy total", "strict total", title,
                         diagonal=True),
                 "Points below the line lost points under strict tests.")


def speed_chart(report: Report) -> Chart | None:
    points = []
    for index, model in enumerate(report.models):
        for profile in report.profiles:
            stats = model.profiles[profile].statistics
            for it, value in zip(stats.complete_iterations, stats.all_scores, strict=True):
                speeds = [r.tokens_per_s for r in iteration_rows(report, model, it)
                          if r.tokens_per_s is not None]
                if not speeds:
                    continue
                speed = sum(speeds) / len(speeds)
                points.append(Point(speed, float(value), index,
                                    f"{model.model}, iteration {it}, {profile.value}: "
                                    f"{fmt(value)} at {speed:.0f} tokens/s",
                                    hollow=profile is Profile.LEGACY))
    if not points:
        return None
    title = "Total against generation speed"
    return Chart("speed", title,
                 scatter(points, nice_max(max(p.x for p in points) * 1.1), _maximum(report),
                         "tokens per second (iteration mean)", "total", title),
                 "Each complete iteration twice: a ring for legacy, a dot for strict.")


def time_chart(report: Report) -> Chart | None:
    per_attempt: dict[tuple[str, str], list[AttemptRow]] = defaultdict(list)
    for row in report.rows:
        if row.model_time_s is not None:
            per_attempt[(row.model, row.level)].append(row)
    groups = []
    for level in report.levels:
        bars: list[tuple[int, float | None, str]] = []
        dots: list[tuple[int, int, float, str]] = []
        for index, model in enumerate(report.models):
            first = next(iter(model.profiles.values()), None)
            by_level = {ls.level: ls for ls in first.levels} if first else {}
            mean = by_level[level].model_time_s if level in by_level else None
            bars.append((index, mean, f"{model.model} {level.value}: mean model time "
                         + (f"{mean:.2f} s" if mean is not None else "unknown")))
            for row in per_attempt.get((model.model, level.value), []):
                assert row.model_time_s is not None
                dots.append((index, index, row.model_time_s,
                             f"{model.model} {level.value} iteration {row.iteration}: "
                             f"{row.model_time_s:.2f} s"))
        groups.append(BarGroup(level.value, bars, dots))
    if not any(v is not None for g in groups for _, v, _ in g.bars):
        return None
    title = "Model time per level"
    return Chart("time", title, grouped_bars(groups, "seconds (model call)", title),
                 "Bars: mean time of the model call (final try); dots: each attempt.")


def charts(report: Report) -> list[Chart]:
    """Every chart the report's data allows, in page order."""
    found: list[Chart | None] = [scores_chart(report, p) for p in report.profiles]
    found += [heatmap_chart(report, p) for p in report.profiles]
    found += [legacy_strict_chart(report), speed_chart(report), time_chart(report)]
    return [c for c in found if c is not None]
