"""The sandbox bundle: layout per profile, plan, extracted files."""

import pytest

from challenge.answers import canned_answer
from challenge.bundle import build_bundle, is_safe_l5_name
from challenge.extraction import extract_code_legacy
from challenge.extraction_strict import strict_candidate_files
from challenge.levels import Level, Profile
from challenge.plan import Bundle, CandidateSpec, RunnerLimits, SandboxPlan
from challenge.suite_index import suite_source
from challenge.suite_index import test_cases as cases_for


def test_l1_layout_and_plan():
    answer = canned_answer(Level.L1, "reference")
    bundle = build_bundle(answer, Level.L1)
    code = extract_code_legacy(answer)
    assert bundle.level is Level.L1
    assert bundle.files == {
        "legacy/legacy_l1.py": suite_source("legacy_l1.py"),
        "legacy/candidate/job_queue.py": code,
    }
    assert bundle.extracted == {"legacy": {"job_queue.py": code}}
    planned = [(t.profile, t.id, t.cwd, t.file, t.function) for t in bundle.plan.tests]
    assert planned == [
        (Profile.LEGACY, c.id, "legacy", c.file, c.function) for c in cases_for(Level.L1)
    ]
    # the candidate is served by its own process, never on the test's sys.path
    assert {t.candidate for t in bundle.plan.tests} == {
        CandidateSpec(dir="legacy/candidate", module="job_queue", proxy_as="job_queue")}


def test_l3_ships_the_three_suites_it_runs():
    bundle = build_bundle(canned_answer(Level.L3, "reference"), Level.L3)
    assert sorted(bundle.files) == [
        "legacy/candidate/job_queue.py",
        "legacy/legacy_l1.py",
        "legacy/legacy_l2.py",
        "legacy/legacy_l3.py",
    ]
    assert len(bundle.plan.tests) == 15
    assert len({t.id for t in bundle.plan.tests}) == 15


def test_l4_ships_only_its_suite():
    bundle = build_bundle(canned_answer(Level.L4, "flawed"), Level.L4)
    assert sorted(bundle.files) == ["legacy/candidate/job_queue.py", "legacy/legacy_l4.py"]
    assert [t.id for t in bundle.plan.tests] == ["L4::no_lost_results"]


def test_l5_package_goes_beside_the_suite():
    bundle = build_bundle(canned_answer(Level.L5, "reference"), Level.L5)
    assert sorted(bundle.files) == [
        "legacy/candidate/queue/__init__.py",
        "legacy/candidate/queue/core.py",
        "legacy/candidate/queue/priority.py",
        "legacy/candidate/queue/retry.py",
        "legacy/legacy_l5.py",
    ]
    assert sorted(bundle.extracted["legacy"]) == [
        "queue/__init__.py",
        "queue/core.py",
        "queue/priority.py",
        "queue/retry.py",
    ]
    core = bundle.extracted["legacy"]["queue/core.py"]
    assert bundle.files["legacy/candidate/queue/core.py"] == core
    assert [t.id for t in bundle.plan.tests] == ["L5::package_structure", "L5::import_and_run"]
    assert {t.cwd for t in bundle.plan.tests} == {"legacy"}
    assert {t.candidate for t in bundle.plan.tests} == {
        CandidateSpec(dir="legacy/candidate", module="queue", proxy_as="candidate_queue")}


@pytest.mark.parametrize("level", list(Level))
def test_no_code_means_no_files_and_no_tests(level):
    bundle = build_bundle("Here is nothing useful.", level)
    assert bundle.files == {}
    assert bundle.plan.tests == []
    assert bundle.extracted == {"legacy": {}}


def test_plan_limits_are_passed_through():
    bundle = build_bundle(
        "```python\nx = 1\n```",
        Level.L1,
        limits=RunnerLimits(test_timeout_s=5.0, max_parallel=2, output_cap_bytes=100),
    )
    assert bundle.plan.limits == RunnerLimits(test_timeout_s=5.0, max_parallel=2,
                                              output_cap_bytes=100)
    assert SandboxPlan.model_validate_json(bundle.plan.model_dump_json()).limits.max_parallel == 2


def test_bundle_round_trips_through_json():
    bundle = build_bundle(canned_answer(Level.L2, "reference"), Level.L2)
    assert Bundle.model_validate_json(bundle.model_dump_json()) == bundle


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("queue/core.py", True),
        ("queue/__init__.py", True),
        ("queue/ñame.py", False),
        ("queue/../x.py", False),
        ("queue/a/b.py", False),
        ("/queue/core.py", False),
        ("queue/" + "a" * 101 + ".py", False),
    ],
)
def test_l5_file_names(name, safe):
    assert is_safe_l5_name(name) is safe


def test_unsafe_l5_names_are_neither_written_nor_scored():
    answer = "# queue/ñame.py\nX = 1\n# queue/core.py\nY = 2\n"
    bundle = build_bundle(answer, Level.L5)
    assert bundle.extracted == {"legacy": {"queue/core.py": "Y = 2"}}
    assert "legacy/candidate/queue/core.py" in bundle.files
    assert not any("ñ" in path for path in bundle.files)


def test_unknown_profiles_are_refused():
    with pytest.raises(ValueError, match="nonsense"):
        build_bundle("```python\nx = 1\n```", Level.L1, profiles=("nonsense",))


def test_strict_profile_gets_its_suites_support_module_and_extraction():
    answer = canned_answer(Level.L3, "reference")
    bundle = build_bundle(answer, Level.L3, profiles=(Profile.LEGACY, Profile.STRICT))
    strict_files = sorted(path for path in bundle.files if path.startswith("strict/"))
    assert strict_files == [
        "strict/candidate/job_queue.py",
        "strict/strict_inside.py",
        "strict/strict_l1.py",
        "strict/strict_l2.py",
        "strict/strict_l3.py",
        "strict/strict_locks.py",
        "strict/strict_support.py",
    ]
    for support in ("strict_support.py", "strict_locks.py", "strict_inside.py"):
        assert bundle.files[f"strict/{support}"] == suite_source(support)
    assert bundle.extracted["strict"] == strict_candidate_files(answer, Level.L3)
    strict_tests = [t for t in bundle.plan.tests if t.profile is Profile.STRICT]
    assert [t.id for t in strict_tests] == [c.id for c in cases_for(Level.L3, Profile.STRICT)]
    assert {t.cwd for t in strict_tests} == {"strict"}
    assert len(bundle.plan.tests) == 15 + len(strict_tests)


def test_strict_l5_package_goes_beside_its_suite():
    bundle = build_bundle(canned_answer(Level.L5, "flawed"), Level.L5, profiles=(Profile.STRICT,))
    assert sorted(bundle.files) == [
        "strict/candidate/queue/__init__.py",
        "strict/candidate/queue/core.py",
        "strict/candidate/queue/priority.py",
        "strict/candidate/queue/retry.py",
        "strict/strict_inside.py",
        "strict/strict_l5.py",
        "strict/strict_locks.py",
        "strict/strict_support.py",
    ]
    assert not any("```" in body for body in bundle.extracted["strict"].values())


def test_a_profile_without_code_gets_no_files():
    # Legacy cannot read a ```py fence (its fallback keeps the fence line); strict can.
    answer = "Sure.\n\n```py\nclass JobQueue:\n    pass\n```\n"
    bundle = build_bundle(answer, Level.L1, profiles=(Profile.LEGACY, Profile.STRICT))
    assert bundle.extracted["strict"] == {"job_queue.py": "class JobQueue:\n    pass\n"}
    prose = build_bundle("No code here.", Level.L1, profiles=(Profile.STRICT,))
    assert (prose.files, prose.plan.tests, prose.extracted) == ({}, [], {"strict": {}})
