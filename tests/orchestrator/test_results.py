"""Result files of a small synthetic run: exact keys and values, artifacts, attempts, rewrites."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from challenge.levels import LEVELS, MAX_POINTS, Level, Profile
from challenge.points import LevelScore
from orchestrator.results import ResultPaths, build_warnings, port_of, write_results
from worker.config import ModelConfig
from worker.records import (
    Attempt,
    AttemptStatus,
    EndpointFacts,
    Fingerprint,
    GenOutcome,
    ModelLoad,
    Run,
    RunSpec,
)
from worker.unit import Unit

NOW = datetime(2026, 2, 2, 8, 30, 0, tzinfo=UTC)
T0 = datetime(2026, 2, 2, 7, 0, 0, tzinfo=UTC)
SECRET_ENV = "LLAMA_TEST_KEY"
SECRET_VALUE = "sk-live-7f3a9c-do-not-leak"
AttemptMap = dict[Unit, Attempt]
RUN_ID = "20260202-070000-abc123"


def U(model: str, iteration: int, level: Level) -> Unit:
    """The unit of a record of this file's run."""
    return Unit(RUN_ID, model, iteration, level)


LEGACY_TESTS = {Level.L1: 5, Level.L2: 10, Level.L3: 15, Level.L4: 1, Level.L5: 2}


def make_run(levels: tuple[Level, ...] = LEVELS, iterations: int = 2) -> Run:
    return Run(
        run_id="20260202-070000-abc123",
        created_at=T0,
        spec=RunSpec(models=["alpha", "beta"], levels=list(levels), iterations=iterations,
                     subset=len(levels) < len(LEVELS)),
        models={
            "alpha": ModelConfig(base_url="http://gpu1:7093/v1", model="qwen35-27b-q3",
                                 api_key_env=SECRET_ENV),
            "beta": ModelConfig(base_url="http://localhost/v1"),
        },
        fingerprint=Fingerprint(harness_version="0.1.0", challenge_sha256="c0ffee",
                                sandbox_image="jqbench-sandbox:1"),
    )


def make_attempt(model: str, iteration: int, level: Level, *, points: float | None = None,
                 passed: int | None = None, code: str | None = None,
                 status: AttemptStatus = AttemptStatus.SCORED, strict: float | None = None,
                 **fields: Any) -> Attempt:
    """A scored record with an answer whose legacy extraction is `code` (default: some code);
    every test not passed failed (so the original counted it twice)."""
    code = f"class JobQueue:  # {model} {iteration} {level}\n    pass\n" if code is None else code
    extracted: dict[str, dict[str, str]] = {}
    scores: dict[str, float] = {}
    level_scores: dict[str, LevelScore] = {}
    if status is AttemptStatus.SCORED:
        if level is Level.L5:
            extracted = {"legacy": {"queue/core.py": code} if code else {}}
        else:
            extracted = {"legacy": {"job_queue.py": code} if code else {}}
        points = MAX_POINTS[level] if points is None else points
        total = LEGACY_TESTS[level]
        passed = total if passed is None else passed
        scores = {"legacy": float(points)}
        level_scores = {"legacy": LevelScore(
            profile=Profile.LEGACY, level=level, points=points, max_points=MAX_POINTS[level],
            tests_passed=passed, tests_total=total,
            tests_total_original=passed + 2 * (total - passed) if code else 0)}
        if strict is not None:
            scores["strict"] = strict
            level_scores["strict"] = LevelScore(
                profile=Profile.STRICT, level=level, points=strict, max_points=MAX_POINTS[level],
                tests_passed=1, tests_total=8, tests_total_original=1)
    start = T0 + timedelta(minutes=10 * iteration + level.number)
    defaults: dict[str, Any] = {
        "gen_outcome": GenOutcome.OK if code else GenOutcome.NO_CODE,
        "answer": f"Here it is:\n```python\n{code}```\n" if code else "",
        "prompt": f"/no_think\nprompt {level}",
        "request": {"model": model, "temperature": 0.1, "max_tokens": 8192},
        "call_duration_s": 2.5,
        "gen_started_at": start,
        "score_finished_at": start + timedelta(seconds=20) if status is AttemptStatus.SCORED
        else None,
    }
    return Attempt(run_id=RUN_ID, model=model, iteration=iteration, level=level,
                   status=status, extracted=extracted, scores=scores, level_scores=level_scores,
                   **(defaults | fields))


def small_run_attempts() -> AttemptMap:
    """alpha: iteration 1 = 90 (L5 answered nothing), iteration 2 = 40; beta: nothing complete."""
    attempts: AttemptMap = {}
    for level in LEVELS:
        attempts[U("alpha", 1, level)] = make_attempt("alpha", 1, level)
    attempts[U("alpha", 1, Level.L3)] = make_attempt("alpha", 1, Level.L3, passed=14)
    attempts[U("alpha", 1, Level.L5)] = make_attempt("alpha", 1, Level.L5, code="", points=0,
                                                    passed=0)
    for level in LEVELS:
        points = {Level.L1: 25, Level.L4: 15}.get(level, 0)
        attempts[U("alpha", 2, level)] = make_attempt("alpha", 2, level, points=points,
                                                     passed=LEGACY_TESTS[level] if points else 0)
    attempts[U("alpha", 2, Level.L2)].error = "500: context shift is disabled"
    attempts[U("alpha", 2, Level.L2)].gen_outcome = GenOutcome.MODEL_ERROR
    attempts[U("beta", 1, Level.L1)] = make_attempt("beta", 1, Level.L1)
    attempts[U("beta", 1, Level.L2)] = make_attempt(
        "beta", 1, Level.L2, status=AttemptStatus.INFRA_ERROR, infra_stage="generate",
        gen_outcome=None, error="connection refused")
    return attempts


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.fixture
def written(tmp_path: Path) -> tuple[Run, AttemptMap, ResultPaths]:
    run, attempts = make_run(), small_run_attempts()
    return run, attempts, write_results(run, attempts, tmp_path, now=NOW)


def test_layout_and_returned_paths(written: tuple[Run, AttemptMap, ResultPaths],
                                   tmp_path: Path) -> None:
    run, attempts, paths = written
    root = tmp_path / run.run_id
    assert paths.root == root
    assert paths.run_json == root / "run.json"
    assert paths.results == {"alpha": root / "result_alpha.json",
                             "beta": root / "result_beta.json"}
    assert paths.artifacts == [root / "artifacts" / "alpha" / f"L{n}_job_queue.py"
                               for n in (1, 2, 3, 4)]
    assert len(paths.attempts) == len(attempts) == 12
    assert sorted(str(p.relative_to(root)) for p in paths.all) == sorted(tree(root))


def test_result_file_of_a_model_with_complete_iterations(
        written: tuple[Run, AttemptMap, ResultPaths]) -> None:
    _, _, paths = written
    document = read_json(paths.results["alpha"])

    def level(name: str, passed: int, total: int, original: int) -> dict[str, Any]:
        return {"level": name, "tests_passed": passed, "tests_total": total, "duration_ms": 2500,
                "error": None, "tests_total_original": original}

    assert list(document) == ["model_id", "model_name", "port", "timestamp", "iterations",
                              "total_duration_ms", "statistics", "scores", "levels",
                              "incomplete_iterations", "spread", "loads", "load_s",
                              "server_builds", "warnings"]
    assert document == {
        "model_id": "qwen35-27b-q3",
        "model_name": "alpha",
        "port": 7093,
        "timestamp": "2026-02-02T08:30:00+00:00",
        "iterations": 2,
        # first start 07:11 (iteration 1, L1), last score end 07:25 + 20 s (iteration 2, L5)
        "total_duration_ms": (14 * 60 + 20) * 1000,
        "statistics": {"best_score": 90, "avg_score": 65.0, "min_score": 40, "max_score": 90,
                       "all_scores": [90, 40], "best_iteration": 1},
        "scores": {"L1": 25, "L2": 25, "L3": 25, "L4": 15, "L5": 0, "total": 90, "max": 100,
                   "percentage": 90.0},
        # L3 as published for qwen35-27b-q3: 14 passed, 1 failed counted twice -> 14/16
        "levels": [level("L1", 5, 5, 5), level("L2", 10, 10, 10), level("L3", 14, 15, 16),
                   level("L4", 1, 1, 1), level("L5", 0, 2, 0)],
        "incomplete_iterations": [],
        # 90 and 40: deviations 25 and -25, std dev sqrt(1250) = 35.36; two scores leave one
        # degree of freedom, t 12.706: 65 +- 12.706 x 35.36 / sqrt 2 = 65 +- 317.6
        "spread": {"std_dev": 35.4, "mean_ci95": [-252.6, 382.6],
                   "score_bands": ["Expert", "Average"]},
        "loads": [],
        "load_s": 0,
        "server_builds": [],
        "warnings": [],
    }
    assert isinstance(document["scores"]["L1"], int)


def test_result_file_of_a_model_without_complete_iteration(
        written: tuple[Run, AttemptMap, ResultPaths]) -> None:
    _, _, paths = written
    document = read_json(paths.results["beta"])
    assert document["model_id"] == "beta"
    assert document["port"] is None
    assert document["total_duration_ms"] == 20_000  # its one scored level, complete or not
    assert document["statistics"] == {"best_score": None, "avg_score": None, "min_score": None,
                                      "max_score": None, "all_scores": [], "best_iteration": None}
    assert document["scores"] is None
    assert document["levels"] == []
    assert document["spread"] == {"std_dev": None, "mean_ci95": None, "score_bands": []}
    missing = {"status": "missing", "error": None}
    assert document["incomplete_iterations"] == [
        {"iteration": 1, "levels": {
            "L2": {"status": "infra_error", "error": "connection refused"},
            "L3": missing, "L4": missing, "L5": missing}},
        {"iteration": 2, "levels": dict.fromkeys(("L1", "L2", "L3", "L4", "L5"), missing)},
    ]


def test_subset_run_scores_only_the_selected_levels(tmp_path: Path) -> None:
    run = make_run(levels=(Level.L2, Level.L4), iterations=1)
    attempts = {U("alpha", 1, Level.L2): make_attempt("alpha", 1, Level.L2, points=20, passed=8),
                U("alpha", 1, Level.L4): make_attempt("alpha", 1, Level.L4)}
    paths = write_results(run, attempts, tmp_path, now=NOW)
    document = read_json(paths.results["alpha"])
    assert document["scores"] == {"L2": 20, "L4": 15, "total": 35, "max": 40,
                                  "percentage": 87.5, "subset": True}
    assert [entry["level"] for entry in document["levels"]] == ["L2", "L4"]
    assert read_json(paths.run_json)["spec"]["subset"] is True


def test_artifacts_are_the_best_iterations_non_empty_code(
        written: tuple[Run, AttemptMap, ResultPaths]) -> None:
    _, attempts, paths = written
    directory = paths.root / "artifacts" / "alpha"
    assert sorted(p.name for p in directory.iterdir()) == [
        "L1_job_queue.py", "L2_job_queue.py", "L3_job_queue.py", "L4_job_queue.py"]
    assert (directory / "L3_job_queue.py").read_text() \
        == attempts[U("alpha", 1, Level.L3)].extracted["legacy"]["job_queue.py"]
    assert not (paths.root / "artifacts" / "beta").exists()


def test_l5_artifact_is_the_raw_answer_and_code_is_written_byte_for_byte(tmp_path: Path) -> None:
    run = make_run(levels=(Level.L1, Level.L5), iterations=1)
    answer = "# queue/core.py\r\nclass JobQueue: ...\r\n```\r\n"
    code = "class JobQueue:\r\n    pass\r\n"
    attempts = {U("alpha", 1, Level.L1): make_attempt("alpha", 1, Level.L1, code=code),
                U("alpha", 1, Level.L5): make_attempt("alpha", 1, Level.L5, answer=answer)}
    paths = write_results(run, attempts, tmp_path, now=NOW)
    directory = paths.root / "artifacts" / "alpha"
    assert (directory / "L5_job_queue.py").read_bytes() == answer.encode()
    assert (directory / "L1_job_queue.py").read_bytes() == code.encode()


def test_whitespace_only_code_is_no_artifact(tmp_path: Path) -> None:
    run = make_run(levels=(Level.L4,), iterations=1)
    attempts = {U("alpha", 1, Level.L4): make_attempt("alpha", 1, Level.L4, code="\n  \n",
                                                     points=15)}
    paths = write_results(run, attempts, tmp_path, now=NOW)
    assert paths.artifacts == []
    assert not (paths.root / "artifacts" / "alpha").exists()


def test_every_attempt_is_written_as_its_record(
        written: tuple[Run, AttemptMap, ResultPaths]) -> None:
    _, attempts, paths = written
    for unit, attempt in attempts.items():
        model, iteration, level = unit.model, unit.iteration, unit.level
        path = paths.root / "attempts" / model / f"iter{iteration}" / f"{level.value}.json"
        assert path in paths.attempts
        text = path.read_text(encoding="utf-8")
        assert text == json.dumps(attempt.model_dump(mode="json"), indent=2,
                                  ensure_ascii=False) + "\n"
        assert Attempt.model_validate_json(text) == attempt


def test_run_json_holds_the_run_and_its_progress(
        written: tuple[Run, AttemptMap, ResultPaths]) -> None:
    run, _, paths = written
    document = read_json(paths.run_json)
    assert {k: document[k] for k in ("run_id", "created_at", "spec", "models", "endpoints",
                                     "fingerprint")} == run.model_dump(mode="json")
    assert document["written_at"] == "2026-02-02T08:30:00+00:00"
    assert document["complete"] is False
    progress = document["progress"]
    assert progress["total"] == 20
    assert progress["counts"]["scored"] == 11
    assert progress["counts"]["infra_error"] == 1
    assert sum(progress["counts"].values()) == 20
    assert progress["models"]["alpha"] == {"total": 10, "scored": 10}


def test_complete_run_is_flagged_complete(tmp_path: Path) -> None:
    run = make_run(levels=(Level.L4,), iterations=1)
    attempts = {U(m, 1, Level.L4): make_attempt(m, 1, Level.L4)
                for m in ("alpha", "beta")}
    paths = write_results(run, attempts, tmp_path, now=NOW)
    assert read_json(paths.run_json)["complete"] is True


def test_run_json_says_whether_the_run_was_cancelled(tmp_path: Path) -> None:
    run, attempts = make_run(), small_run_attempts()
    assert read_json(write_results(run, attempts, tmp_path / "a", now=NOW).run_json
                     )["cancelled"] is False
    document = read_json(write_results(run, attempts, tmp_path / "b", cancelled=True,
                                       now=NOW).run_json)
    assert document["cancelled"] is True and document["complete"] is False
    assert document["progress"]["done"] is True


def test_no_secret_is_written_only_the_variables_name(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    paths = write_results(make_run(), small_run_attempts(), tmp_path, now=NOW)
    files = tree(paths.root)
    assert all(SECRET_VALUE.encode() not in content for content in files.values())
    assert read_json(paths.run_json)["models"]["alpha"]["api_key_env"] == SECRET_ENV


def test_rewriting_is_idempotent_and_leaves_no_temporary_files(
        written: tuple[Run, AttemptMap, ResultPaths], tmp_path: Path) -> None:
    run, attempts, first = written
    before = tree(first.root)
    second = write_results(run, attempts, tmp_path, now=NOW)
    assert second == first
    assert tree(first.root) == before
    assert not [p for p in first.root.rglob("*") if p.name.endswith(".tmp")]


def test_rewriting_mid_run_follows_a_new_best_iteration(tmp_path: Path) -> None:
    run = make_run(levels=(Level.L1, Level.L2), iterations=2)
    attempts = {U("alpha", 1, Level.L1): make_attempt("alpha", 1, Level.L1, points=5, passed=1),
                U("alpha", 1, Level.L2): make_attempt("alpha", 1, Level.L2, points=5, passed=1)}
    first = write_results(run, attempts, tmp_path, now=NOW)
    assert [p.name for p in first.artifacts] == ["L1_job_queue.py", "L2_job_queue.py"]

    attempts[U("alpha", 2, Level.L1)] = make_attempt("alpha", 2, Level.L1)
    attempts[U("alpha", 2, Level.L2)] = make_attempt("alpha", 2, Level.L2, code="", points=25)
    later = NOW + timedelta(hours=1)
    second = write_results(run, attempts, tmp_path, now=later)

    document = read_json(second.results["alpha"])
    assert document["statistics"]["best_iteration"] == 2
    assert document["timestamp"] == later.isoformat()
    directory = second.root / "artifacts" / "alpha"
    assert sorted(p.name for p in directory.iterdir()) == ["L1_job_queue.py"]
    assert (directory / "L1_job_queue.py").read_text() \
        == attempts[U("alpha", 2, Level.L1)].extracted["legacy"]["job_queue.py"]
    assert len(second.attempts) == 4


def test_strict_keys_appear_once_strict_scores_exist(tmp_path: Path) -> None:
    run = make_run(levels=(Level.L1, Level.L4), iterations=2)
    attempts = {
        U("alpha", 1, Level.L1): make_attempt("alpha", 1, Level.L1, strict=12.5),
        U("alpha", 1, Level.L4): make_attempt("alpha", 1, Level.L4, strict=0.0),
        U("alpha", 2, Level.L1): make_attempt("alpha", 2, Level.L1, points=20, strict=20.0),
        U("alpha", 2, Level.L4): make_attempt("alpha", 2, Level.L4, strict=7.5),
    }
    document = read_json(write_results(run, attempts, tmp_path, now=NOW).results["alpha"])
    assert document["statistics"]["best_iteration"] == 1
    assert document["statistics_strict"] == {
        "best_score": 27.5, "avg_score": 20.0, "min_score": 12.5, "max_score": 27.5,
        "all_scores": [12.5, 27.5], "best_iteration": 2}
    assert document["scores_strict"] == {"L1": 20, "L4": 7.5, "total": 27.5, "max": 40,
                                         "percentage": 68.8, "subset": True}
    # 12.5 and 27.5: std dev 7.5 x sqrt 2 = 10.6; no bands, the totals are out of 40
    assert document["spread_strict"]["std_dev"] == 10.6
    assert document["spread_strict"]["score_bands"] == []
    assert [e["tests_total"] for e in document["levels_strict"]] == [8, 8]

    legacy_only = {k: make_attempt("alpha", k.iteration, k.level) for k in attempts}
    plain = read_json(write_results(run, legacy_only, tmp_path / "plain", now=NOW)
                      .results["alpha"])
    assert not [key for key in plain if key.endswith("_strict")]


@pytest.mark.parametrize("name", ["..", "a/b"])
def test_names_that_would_leave_the_results_folder_are_refused(tmp_path: Path,
                                                               name: str) -> None:
    run = make_run().model_copy(update={"run_id": name})
    with pytest.raises(ValueError, match="cannot be used in a file name"):
        write_results(run, {}, tmp_path, now=NOW)


def test_port_of() -> None:
    assert port_of("http://gpu1:7093/v1") == 7093
    assert port_of("https://example.org/v1") is None
    assert port_of("http://gpu1:notaport/v1") is None


def test_a_server_build_that_changed_mid_run_is_flagged(tmp_path: Path) -> None:
    run, attempts = make_run(), small_run_attempts()
    run.endpoints = {"alpha": EndpointFacts(root_url="http://gpu1:7093", build_info="b4748-a"),
                     "beta": EndpointFacts(root_url="http://localhost", build_info="b5000")}
    for unit, attempt in attempts.items():
        attempt.server_build = {"alpha": "b4748-a", "beta": "b5000"}[unit.model]
    attempts[U("alpha", 2, Level.L3)].server_build = "b6000-new"
    paths = write_results(run, attempts, tmp_path, now=NOW)
    alpha, beta = (read_json(paths.results[m]) for m in ("alpha", "beta"))
    assert alpha["server_builds"] == ["b4748-a", "b6000-new"]
    assert alpha["warnings"] == build_warnings("alpha", ["b4748-a", "b6000-new"])
    assert "changed its build during the run (b4748-a -> b6000-new)" in alpha["warnings"][0]
    assert (beta["server_builds"], beta["warnings"]) == (["b5000"], [])


def test_a_first_units_context_warning_reaches_the_result_file_once(tmp_path: Path) -> None:
    run, attempts = make_run(), small_run_attempts()
    said = "chained prompts may not fit the server's context per slot (4096 tokens): ..."
    for iteration in (1, 2):
        attempts[U("alpha", iteration, Level.L1)].context_warning = said
    paths = write_results(run, attempts, tmp_path, now=NOW)
    alpha, beta = (read_json(paths.results[m]) for m in ("alpha", "beta"))
    assert alpha["warnings"] == [f"alpha: {said}"]
    assert beta["warnings"] == []


def test_loads_on_a_shared_server_are_kept_apart_per_model(tmp_path: Path) -> None:
    run, attempts = make_run(), small_run_attempts()
    loads = [ModelLoad(run_id=RUN_ID, server="gpu", model=model, load_s=seconds,
                       started_at=T0 + timedelta(minutes=minute),
                       finished_at=T0 + timedelta(minutes=minute + 5))
             for model, seconds, minute in (("alpha", 20.25, 0), ("beta", 11.5, 5),
                                            ("alpha", 19.5, 10))]
    paths = write_results(run, attempts, tmp_path, now=NOW, loads=loads)
    alpha, beta = (read_json(paths.results[m]) for m in ("alpha", "beta"))
    assert [load["load_s"] for load in alpha["loads"]] == [20.25, 19.5]
    assert alpha["load_s"] == 39.75 and beta["load_s"] == 11.5
    assert alpha["loads"][0] == {"server": "gpu", "load_s": 20.25,
                                 "started_at": T0.isoformat().replace("+00:00", "Z"),
                                 "finished_at": (T0 + timedelta(minutes=5)).isoformat()
                                 .replace("+00:00", "Z")}
    unshared = read_json(write_results(run, attempts, tmp_path / "plain", now=NOW).results["beta"])
    assert (unshared["loads"], unshared["load_s"]) == ([], 0)


def test_a_slot_count_the_server_contradicts_is_a_warning(tmp_path: Path) -> None:
    run, attempts = make_run(), small_run_attempts()
    loads = [ModelLoad(run_id=RUN_ID, server="gpu", model="alpha", load_s=1.0, started_at=T0,
                       slots_configured=2, slots_reported=4),
             ModelLoad(run_id=RUN_ID, server="gpu", model="beta", load_s=1.0, started_at=T0,
                       slots_configured=2, slots_reported=2)]
    paths = write_results(run, attempts, tmp_path, now=NOW, loads=loads)
    alpha, beta = (read_json(paths.results[m]) for m in ("alpha", "beta"))
    assert alpha["warnings"] == ["alpha: servers.gpu has slots: 2, but the server reported 4 "
                                 "for this model: set slots: to 4 (fewer: requests queue on the "
                                 "server and their times grow; more: the server idles)"]
    assert beta["warnings"] == []
