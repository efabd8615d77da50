"""summary.md: the original README's tables (Summary, Variance Analysis) for each profile,
then per-level pass rates and failure causes, each number traceable to attempts.csv.

Cells are made safe for Markdown tables: model names are file-name-safe already, and the
only other text (warnings) is escaped where it could break a table or start markup.
"""

from collections.abc import Sequence

from challenge.levels import MAX_POINTS, Level, Profile
from orchestrator.levelstats import CAUSE_LABELS, FailureCause, LevelStatistics
from orchestrator.report.model import ModelReport, Report
from orchestrator.statistics import ModelStatistics

CHAIN_NOTE = ("L2 and L3 prompts embed the same iteration's earlier code, so their rates are "
              "conditional on that iteration's L1 (and L2).")


def render_markdown(report: Report) -> str:
    lines = [f"# {text(report.title)}", "",
             f"Runs: {', '.join(report.run_ids)}. Written {report.generated_at:%Y-%m-%d %H:%M} "
             "UTC. Every number below is computed from the rows of `attempts.csv` (one per "
             "attempt; `attempt_file` holds the whole record).", ""]
    for warning in report.warnings:
        lines += [f"> **Warning:** {text(warning)}", ""]
    for profile in report.profiles:
        lines += _profile_section(report, profile)
    lines += _iteration_origins(report)
    return "\n".join(lines).rstrip() + "\n"


def _profile_section(report: Report, profile: Profile) -> list[str]:
    models = [(m, m.profiles[profile].statistics) for m in report.models]
    n = sorted({s.iterations for _, s in models})
    heading = f"## {profile.value} profile"
    if profile is Profile.LEGACY:
        heading += " (the original's scoring)"
    lines = [heading, "", f"### Summary ({'/'.join(map(str, n))} iterations)", ""]
    level_names = [lv.value for lv in report.levels]
    lines += _table(["Model", "Best", "Avg", *level_names, "Scores", "Time"], [
        [m.model, _percent(s), _avg_percent(s), *_best_points(s, report.levels),
         "[" + ",".join(_num(x) for x in s.all_scores) + "]", _minutes(s.total_duration_ms)]
        for m, s in models])
    lines += ["Best and Avg are out of the levels' points (100 for all five); L1..L5 are the "
              "best iteration's points; Time is the model's wall time, first model call to "
              "last score.", "", "### Variance Analysis", ""]
    lines += _table(["Model", "Min", "Max", "Spread", "Std Dev", "Mean 95% CI", "Bands"], [
        [m.model, _num(s.min_score), _num(s.max_score), _spread(s), _num(s.std_dev),
         _interval(s.mean_ci95), ", ".join(s.score_bands) or "-"]
        for m, s in models])
    lines += _incomplete(models)
    lines += ["### Pass rate per level", "",
              f"A pass is an attempt with the level's full points. 95% Wilson intervals. "
              f"{CHAIN_NOTE}", ""]
    lines += _table(["Level", "Points", *[m.model for m, _ in models]], [
        [lv.value, str(MAX_POINTS[lv]),
         *[_rate(_level(m, profile, lv)) for m, _ in models]] for lv in report.levels])
    lines += ["### pass@k per level", "",
              "The unbiased estimate of the chance that at least one of k attempts passes.", ""]
    ks = sorted({k for m, _ in models for lv in report.levels
                 for k in _level(m, profile, lv).pass_at_k})
    lines += _table(["Model", "Level", *[f"k={k}" for k in ks]], [
        [m.model, lv.value, *[_fraction(_level(m, profile, lv).pass_at_k.get(k)) for k in ks]]
        for m, _ in models for lv in report.levels])
    lines += ["### Why levels missed points", "",
              "Each attempt without full points counted once, by its first cause.", ""]
    lines += _table(["Model", "Level", *[CAUSE_LABELS[c] for c in FailureCause]], [
        [m.model, lv.value, *[str(_level(m, profile, lv).causes.get(c, 0)) for c in FailureCause]]
        for m, _ in models for lv in report.levels])
    lines += ["### Model effort per level", "",
              "Means over attempts that report them (llama.cpp's usage and timings).", ""]
    lines += _table(["Model", "Level", "Mean points", "Tokens", "Tokens/s", "Model time"], [
        [m.model, lv.value, _fixed(st.mean_points), _fixed(st.completion_tokens, 0),
         _fixed(st.tokens_per_s), _seconds(st.model_time_s)]
        for m, _ in models for lv in report.levels for st in [_level(m, profile, lv)]])
    return lines


def _iteration_origins(report: Report) -> list[str]:
    pooled = [m for m in report.models if len(m.run_ids) > 1]
    if not pooled:
        return []
    lines = ["## Where pooled iterations come from", ""]
    for model in pooled:
        origins = ", ".join(f"{i} = {o}" for i, o in enumerate(model.iteration_origins, 1))
        lines.append(f"- {model.model}: {origins}")
    return [*lines, ""]


def _incomplete(models: Sequence[tuple[ModelReport, ModelStatistics]]) -> list[str]:
    lines = []
    for model, stats in models:
        for iteration in stats.incomplete:
            why = ", ".join(f"{lv.value} {state.status}" for lv, state in iteration.levels.items())
            lines.append(f"- {model.model}: iteration {iteration.iteration} is incomplete "
                         f"({why}) and left out of the numbers above")
    return [*lines, ""] if lines else []


def _level(model: ModelReport, profile: Profile, level: Level) -> LevelStatistics:
    return next(ls for ls in model.profiles[profile].levels if ls.level is level)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def text(value: str) -> str:
    """Free text made inert in Markdown: no HTML, no links or emphasis, no line breaks."""
    out = value.replace("\\", "\\\\")
    for char in "`*_[]<>#|!":
        out = out.replace(char, "\\" + char)
    return " ".join(out.split())


def cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _fixed(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _percent(stats: ModelStatistics) -> str:
    return "-" if stats.percentage is None else f"{stats.percentage:g}%"


def _avg_percent(stats: ModelStatistics) -> str:
    """The mean total out of the points available (from the totals, not the rounded avg)."""
    if not stats.all_scores:
        return "-"
    mean = sum(stats.all_scores) / len(stats.all_scores)
    return f"{round(mean / stats.max_points * 100, 1):g}%"


def _best_points(stats: ModelStatistics, levels: Sequence[Level]) -> list[str]:
    points = {entry.level: entry.points for entry in stats.best_levels}
    return [_num(points.get(lv)) for lv in levels]


def _spread(stats: ModelStatistics) -> str:
    if stats.min_score is None or stats.max_score is None:
        return "-"
    return _num(round(stats.max_score - stats.min_score, 6))


def _interval(bounds: list[float] | None) -> str:
    return "-" if not bounds else f"[{bounds[0]:g}, {bounds[1]:g}]"


def _rate(stats: LevelStatistics) -> str:
    if stats.pass_rate is None or stats.pass_rate_ci95 is None:
        return "-"
    low, high = stats.pass_rate_ci95
    return (f"{stats.pass_rate:.0%} ({stats.full_points}/{stats.scored}) "
            f"[{low:.0%}, {high:.0%}]")


def _fraction(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _minutes(ms: int) -> str:
    if ms <= 0:
        return "-"
    seconds = ms / 1000
    return f"{seconds:.0f}s" if seconds < 90 else f"{seconds / 60:.0f}min"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"
