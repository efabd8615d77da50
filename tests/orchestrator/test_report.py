"""Reports from synthetic records: the original's tables with the published row, pooling
across runs, attempt rows and their CSV, comparability and the comparison's verdicts."""

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from challenge.levels import LEVELS, MAX_POINTS, Level, Profile
from challenge.points import LevelScore
from orchestrator.comparison import compare_profile, difference, sentence, smallest_p
from orchestrator.report.build import build_report
from orchestrator.report.comparability import differences
from orchestrator.report.loading import records_from_files
from orchestrator.report.markdown import render_markdown, text
from orchestrator.report.pooling import RunRecords, pool_model
from orchestrator.report.rows import attempt_rows, csv_text, neutralised
from orchestrator.report.writing import report_directory, write_report
from orchestrator.results import write_results
from worker.config import ModelConfig
from worker.errors import ConfigError
from worker.records import (
    Attempt,
    AttemptStatus,
    Fingerprint,
    GenOutcome,
    Run,
    RunSpec,
    ScoreReport,
)
from worker.unit import Unit

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
#: The original README's published row: 27B Q3's five totals, each split over the levels.
PUBLISHED = [65, 45, 65, 90, 45]
SPLITS = {65: (25, 25, 0, 15, 0), 45: (25, 5, 0, 15, 0), 90: (25, 25, 25, 15, 0)}


def make_run(run_id: str, models: list[str], iterations: int, *, temperature: float = 0.1,
             image_id: str = "sha256:img") -> Run:
    return Run(run_id=run_id,
               spec=RunSpec(models=models, levels=list(LEVELS), iterations=iterations),
               models={m: ModelConfig(base_url="http://gpu:1/v1", temperature=temperature)
                       for m in models},
               fingerprint=Fingerprint(harness_version="0", challenge_sha256="c" * 64,
                                       sandbox_image="img", sandbox_image_id=image_id))


def scored(run_id: str, model: str, iteration: int, level: Level, points: float,
           **fields: Any) -> Attempt:
    score = LevelScore(profile=Profile.LEGACY, level=level, points=points,
                       max_points=MAX_POINTS[level], tests_passed=1, tests_total=1,
                       tests_total_original=1)
    report = ScoreReport(level=level, status="ok",
                         scores={"legacy": points, "strict": points},
                         level_scores={"legacy": score},
                         extracted={"legacy": {"job_queue.py": "x"},
                                    "strict": {"job_queue.py": "x"}})
    defaults: dict[str, Any] = {"gen_outcome": GenOutcome.OK, "scoring_version": "s1"}
    return Attempt(run_id=run_id, model=model, iteration=iteration, level=level,
                   status=AttemptStatus.SCORED, report=report, **(defaults | fields))


def iterations_of(run_id: str, model: str, totals: list[int]) -> dict[Unit, Attempt]:
    attempts = {}
    for iteration, total in enumerate(totals, start=1):
        for level, points in zip(LEVELS, SPLITS[total], strict=True):
            attempt = scored(run_id, model, iteration, level, points)
            attempts[attempt.unit] = attempt
    return attempts


def published() -> RunRecords:
    run = make_run("pub", ["q3"], 5)
    return RunRecords(run=run, attempts=iterations_of("pub", "q3", PUBLISHED))


def test_summary_has_the_originals_tables_with_the_published_row() -> None:
    summary = render_markdown(build_report([published()], NOW))
    # Best 90 of 100, avg 62; L1..L5 of the best iteration (the 4th).
    assert "| Model | Best | Avg | L1 | L2 | L3 | L4 | L5 | Scores | Time |" in summary
    assert "| q3 | 90% | 62% | 25 | 25 | 25 | 15 | 0 | [65,45,65,90,45] | - |" in summary
    # Min 45, max 90, spread 45, sample sd 18.6, t interval [38.9, 85.1], bands.
    assert ("| q3 | 45 | 90 | 45 | 18.6 | [38.9, 85.1] | Good, Average, Good, Expert, "
            "Average |") in summary
    # L3 passed once in five: Wilson [3.6%, 62.4%] -> "[4%, 62%]".
    assert "| L3 | 25 | 20% (1/5) [4%, 62%] |" in summary
    # L2 missed in two of five iterations, and every miss had code that failed tests.
    assert "| q3 | L2 | 0 | 0 | 0 | 0 | 0 | 0 | 2 |" in summary
    assert "conditional on that iteration's L1" in summary


def test_pooling_puts_runs_end_to_end_and_says_where_iterations_came_from() -> None:
    first = RunRecords(make_run("r1", ["q3"], 2), iterations_of("r1", "q3", [65, 45]))
    second = RunRecords(make_run("r2", ["q3"], 3), iterations_of("r2", "q3", [65, 90, 45]))
    pooled = pool_model([first, second], "q3")
    assert pooled.run.run_id == "r1+r2" and pooled.run.spec.iterations == 5
    assert [(o.run_id, o.iteration) for _, o in sorted(pooled.origins.items())] == [
        ("r1", 1), ("r1", 2), ("r2", 1), ("r2", 2), ("r2", 3)]
    report = build_report([first, second], NOW)
    (model,) = report.models
    assert model.profiles[Profile.LEGACY].statistics.all_scores == PUBLISHED
    summary = render_markdown(report)
    assert "- q3: 1 = r1#1, 2 = r1#2, 3 = r2#1, 4 = r2#2, 5 = r2#3" in summary
    assert report_directory(Path("out"), report.run_ids) == Path("out/report-r1+r2")
    assert {row.attempt_file for row in report.rows if row.run_id == "r2"} >= {
        "../r2/attempts/q3/iter1/L1.json"}


def test_pooling_refuses_different_levels_and_unknown_models() -> None:
    subset = make_run("r2", ["q3"], 1).model_copy(
        update={"spec": RunSpec(models=["q3"], levels=[Level.L1], iterations=1, subset=True)})
    with pytest.raises(ConfigError, match="asked different levels"):
        pool_model([published(), RunRecords(subset, {})], "q3")
    with pytest.raises(ConfigError, match="no given run has the model 'nope'"):
        pool_model([published()], "nope")


def test_comparability_names_each_setting_that_differs() -> None:
    base = published()
    warm = RunRecords(make_run("hot", ["q3"], 5, temperature=0.7, image_id="sha256:other"),
                      iterations_of("hot", "q3", PUBLISHED))
    assert differences([base]) == []
    found = differences([base, warm])
    assert found == ["sandbox image differs: sha256:img in pub/q3; sha256:other in hot/q3",
                     "temperature differs: 0.1 in pub/q3; 0.7 in hot/q3"]
    assert build_report([base, warm], NOW).warnings == [f"not comparable: {d}" for d in found]


def test_csv_neutralises_formula_cells_and_reads_back() -> None:
    records = published()
    hostile = scored("pub", "q3", 1, Level.L1, 0, error="=HYPERLINK(\"http://x\")")
    records.attempts[hostile.unit] = hostile  # type: ignore[index]
    rows = attempt_rows([records])
    assert len(rows) == 25 and rows[0].error.startswith("=")  # the row keeps the text
    parsed = list(csv.DictReader(io.StringIO(csv_text(rows))))
    assert parsed[0]["error"] == "'=HYPERLINK(\"http://x\")"
    assert parsed[0]["legacy_points"] == "0.0" and parsed[1]["legacy_points"] == "25.0"
    assert [neutralised(v) for v in ("+1", "-x", "@a", "\tq", "ok", 5, -1.0)] == [
        "'+1", "'-x", "'@a", "'\tq", "ok", 5, -1.0]


def test_markdown_text_cannot_open_markup_or_break_a_table() -> None:
    assert text("a|b <script> [x](y) `c`\nd") == (
        "a\\|b \\<script\\> \\[x\\](y) \\`c\\` d")


def test_written_report_reads_back_from_the_result_files(tmp_path: Path) -> None:
    records = published()
    write_results(records.run, records.attempts, tmp_path, now=NOW)
    loaded = records_from_files(tmp_path, "pub")
    assert loaded.run == records.run and loaded.attempts == records.attempts
    _, paths = write_report([loaded], tmp_path, now=NOW)
    assert paths.directory == tmp_path / "pub"
    rows = [json.loads(line) for line in paths.attempts_jsonl.read_text().splitlines()]
    assert len(rows) == 25 and all((paths.directory / r["attempt_file"]).is_file() for r in rows)
    with pytest.raises(ConfigError, match="neither the store nor"):
        records_from_files(tmp_path, "missing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "run.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"is not a jqbench run\.json"):
        records_from_files(tmp_path, "bad")


# --- comparison ---------------------------------------------------------------------------

def test_a_clear_difference_is_called_when_interval_and_test_agree() -> None:
    # Welch: means 89.6 and 43, variances 13.3 and 22; se = sqrt(2.66 + 4.4) = 2.657,
    # df = 7.06^2 / (2.66^2/4 + 4.4^2/4) = 7.54 -> t(7) = 2.365: +-6.28.
    # Exact p: only the two most extreme of C(10, 5) = 252 splits: 2 / 252.
    found = difference([90, 85, 95, 90, 88], [40, 45, 50, 42, 38])
    assert found.difference == pytest.approx(46.6)
    assert found.ci95 == pytest.approx([40.32, 52.88], abs=0.01)
    assert found.p_value == pytest.approx(2 / 252)
    assert found.verdict == "a_better"
    assert difference([40, 45, 50, 42, 38], [90, 85, 95, 90, 88]).verdict == "b_better"


def test_the_published_row_against_a_close_one_cannot_be_told() -> None:
    # B = 60, 50, 70, 80, 40: mean 60, variance 250. se = sqrt(345/5 + 250/5) = 10.91,
    # df = 119^2 / (69^2/4 + 50^2/4) = 7.8 -> t(7) = 2.365: half-width 25.8.
    found = difference(PUBLISHED, [60, 50, 70, 80, 40])
    assert found.verdict == "cannot_tell"
    assert found.ci95 == pytest.approx([2 - 25.8, 2 + 25.8], abs=0.05)
    said = sentence("q3", "q4", Profile.STRICT, found)
    assert said.startswith("strict: cannot tell q3 and q4 apart (difference +2.0 points")
    assert said.endswith("5 iterations each: a difference under 26 points cannot be told "
                         "from noise")


def test_too_few_iterations_are_said_plainly() -> None:
    assert smallest_p(2, 2) == pytest.approx(1 / 3) and smallest_p(4, 4) == pytest.approx(2 / 70)
    found = difference([100, 100], [95, 95])  # no spread: the interval is [5, 5], p = 1/3
    assert found.verdict == "cannot_tell"
    assert sentence("a", "b", Profile.LEGACY, found).endswith(
        "2 iterations each: too few for any difference to be told from noise (the "
        "permutation test cannot reach p < 0.05)")
    single = difference([90], [40])
    assert single.ci95 is None and single.verdict == "cannot_tell"
    assert "at least two each are needed" in sentence("a", "b", Profile.LEGACY, single)


def test_per_level_differences_are_holm_corrected() -> None:
    a = RunRecords(make_run("ra", ["a"], 5), iterations_of("ra", "a", [90] * 5))
    b = RunRecords(make_run("rb", ["b"], 5), iterations_of("rb", "b", [45] * 5))
    compared = compare_profile(a.run, a.attempts, "a", b.run, b.attempts, "b", Profile.LEGACY)
    assert compared.totals.verdict == "a_better"  # 90 against 45, no spread, p = 2/252
    by_level = {row.level: row for row in compared.levels}
    # L2 (25 vs 5) and L3 (25 vs 0) differ: raw p = 2/252 each; Holm over five levels
    # (the other three p = 1): 5 x 2/252, then max(that, 4 x 2/252): 10/252 for both.
    assert by_level[Level.L3].p_value == pytest.approx(2 / 252)
    assert by_level[Level.L3].p_holm == pytest.approx(10 / 252)
    assert by_level[Level.L2].verdict == by_level[Level.L3].verdict == "a_better"
    assert by_level[Level.L1].p_holm == 1.0 and by_level[Level.L1].verdict == "cannot_tell"
