"""The suites: which tests run per level and profile, their ids, and what they may import."""

import ast
import sys

import pytest

from challenge.levels import Level, Profile
from challenge.suite_index import suite_files, suite_source, suite_tests, support_files
from challenge.suite_index import test_cases as cases_for

LEGACY_IDS = {
    Level.L1: [
        "L1::add_job_returns_job_id",
        "L1::get_result_after_completion",
        "L1::results_of_five_jobs",
        "L1::fifo_order",
        "L1::unknown_job_result",
    ],
    Level.L2: [
        "L2::retry_then_success",
        "L2::gives_up_after_four_attempts",
        "L2::exponential_backoff_timing",
        "L2::success_needs_no_retry",
        "L2::failure_does_not_block_other_jobs",
    ],
    Level.L3: [
        "L3::high_priority_runs_first",
        "L3::same_priority_is_fifo",
        "L3::mixed_priorities_in_order",
        "L3::default_priority_is_middle",
        "L3::priority_with_arguments",
    ],
    Level.L4: ["L4::no_lost_results"],
    Level.L5: ["L5::package_structure", "L5::import_and_run"],
}


@pytest.mark.parametrize("level", list(Level))
def test_each_suite_file_has_its_tests_in_order(level):
    tests = suite_tests(level)
    assert [t.id for t in tests] == LEGACY_IDS[level]
    assert {t.file for t in tests} == {f"legacy_{level.value.lower()}.py"}
    assert all(t.function == "test_" + t.id.split("::")[1] for t in tests)


def test_level_test_sets_accumulate_as_the_original():
    ids = {level: [t.id for t in cases_for(level, Profile.LEGACY)] for level in Level}
    assert ids[Level.L1] == LEGACY_IDS[Level.L1]
    assert ids[Level.L2] == LEGACY_IDS[Level.L1] + LEGACY_IDS[Level.L2]
    assert ids[Level.L3] == LEGACY_IDS[Level.L1] + LEGACY_IDS[Level.L2] + LEGACY_IDS[Level.L3]
    assert ids[Level.L4] == LEGACY_IDS[Level.L4]
    assert ids[Level.L5] == LEGACY_IDS[Level.L5]
    assert [len(v) for v in ids.values()] == [5, 10, 15, 1, 2]
    assert suite_files(Level.L3) == ["legacy_l1.py", "legacy_l2.py", "legacy_l3.py"]


def test_unknown_profile_is_an_error():
    with pytest.raises(ValueError, match="nonsense"):
        cases_for(Level.L1, "nonsense")


@pytest.mark.parametrize("level", list(Level))
def test_suites_use_only_stdlib_pytest_and_the_candidate(level):
    tree = ast.parse(suite_source(f"legacy_{level.value.lower()}.py"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    allowed = set(sys.stdlib_module_names) | {"pytest", "job_queue", "candidate_queue"}
    assert imported <= allowed
    # the proxy's names: `job_queue` at L1-L4, `candidate_queue` for the L5 package
    assert ("job_queue" in imported) == (level is not Level.L5)
    assert ("candidate_queue" in imported) == (level is Level.L5)


@pytest.mark.parametrize("level", list(Level))
def test_suites_build_the_queue_without_arguments(level):
    tree = ast.parse(suite_source(f"legacy_{level.value.lower()}.py"))
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "JobQueue"
    ]
    assert calls or level is Level.L5
    assert all(not call.args and not call.keywords for call in calls)


def test_suite_source_refuses_paths_outside_the_package():
    with pytest.raises(ValueError):
        suite_source("../levels.py")


# --- strict ---------------------------------------------------------------------------------

STRICT_IDS = {
    Level.L1: [*LEGACY_IDS[Level.L1], "L1::arguments_reach_the_job"],
    Level.L2: [
        "L2::retry_then_success",
        "L2::gives_up_after_four_attempts",
        "L2::exponential_backoff_timing",
        "L2::failed_job_reported_as_allowed",
        "L2::success_is_not_retried",
        "L2::failure_keeps_other_results",
        "L2::retries_any_exception",
    ],
    Level.L3: [
        "L3::high_priority_runs_first",
        "L3::same_priority_is_fifo",
        "L3::mixed_priorities_in_order",
        "L3::default_priority_is_five",
        "L3::priority_with_arguments",
    ],
    Level.L4: [
        "L4::no_lost_results",
        "L4::results_write_is_guarded",
        "L4::failed_job_write_is_guarded",
    ],
    Level.L5: [
        "L5::package_structure",
        "L5::imports_as_queue",
        "L5::core_holds_the_base_class",
        "L5::retry_and_priority_in_own_modules",
        "L5::keeps_l1_behaviour",
        "L5::keeps_l2_behaviour",
        "L5::keeps_l3_behaviour",
    ],
}
STRICT_SUITES = [f"strict_{level.value.lower()}.py" for level in Level]


def _imported_modules(source: str, *, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(source)
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    imported = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    return imported


@pytest.mark.parametrize("level", list(Level))
def test_strict_suite_files_have_their_tests_in_order(level):
    tests = suite_tests(level, Profile.STRICT)
    assert [t.id for t in tests] == STRICT_IDS[level]
    assert {t.file for t in tests} == {f"strict_{level.value.lower()}.py"}


def test_strict_level_sets_accumulate_like_legacy():
    ids = {level: [t.id for t in cases_for(level, Profile.STRICT)] for level in Level}
    assert ids[Level.L2] == STRICT_IDS[Level.L1] + STRICT_IDS[Level.L2]
    assert ids[Level.L3] == STRICT_IDS[Level.L1] + STRICT_IDS[Level.L2] + STRICT_IDS[Level.L3]
    assert [len(v) for v in ids.values()] == [6, 13, 18, 3, 7]
    assert support_files(Profile.STRICT) == SUPPORT
    assert support_files(Profile.LEGACY) == ()


SUPPORT = ("strict_support.py", "strict_locks.py", "strict_inside.py")


@pytest.mark.parametrize("file", [*STRICT_SUITES, *SUPPORT])
def test_strict_suites_use_only_stdlib_pytest_the_candidate_and_support(file):
    imported = _imported_modules(suite_source(file))
    allowed = set(sys.stdlib_module_names) | {"pytest", "job_queue", "candidate_queue",
                                              "sandbox_link",
                                              *(name.removesuffix(".py") for name in SUPPORT)}
    assert imported <= allowed
    # The proxy is `job_queue` at L1-L4 and `candidate_queue` for the L5 package; inside
    # checks (L4's guarded writes, L5's import, core, own modules) go through sandbox_link.
    # The support modules run in the candidate's process too: they import none of them.
    assert ("job_queue" in imported) == (file in STRICT_SUITES[:4])
    assert ("candidate_queue" in imported) == (file == "strict_l5.py")
    assert ("sandbox_link" in imported) == (file in ("strict_l4.py", "strict_l5.py"))


@pytest.mark.parametrize("file", SUPPORT)
def test_strict_support_never_imports_the_stdlib_queue(file):
    """An L5 candidate host imports the support modules (strict_inside, which imports the
    others) with the candidate's `queue` first on sys.path, so nothing they import at module
    level may import the stdlib queue (directly or not)."""
    top = _imported_modules(suite_source(file), top_level_only=True)
    assert not top & {"queue", "concurrent", "subprocess", "multiprocessing", "asyncio",
                      "logging"}


@pytest.mark.parametrize("file", STRICT_SUITES)
def test_strict_suites_sleep_only_in_named_windows(file):
    """No test sleeps to let work finish: a sleep only shows that something does NOT happen
    (job functions may sleep: that is their work)."""
    tree = ast.parse(suite_source(file))
    tests = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
    for node in (call for test in tests for call in ast.walk(test)):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "time.sleep":
            (argument,) = node.args
            assert isinstance(argument, ast.Name) and argument.id.endswith("_WINDOW_S"), (
                f"{file}: {ast.unparse(node)}")
