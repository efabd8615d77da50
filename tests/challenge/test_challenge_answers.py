"""Canned answers: their form, and what legacy extraction makes of them."""

import re
from pathlib import Path

import pytest
import yaml

from challenge.answers import (
    EXPECTED_LEGACY_POINTS,
    EXPECTED_STRICT_POINTS,
    FLAVOURS,
    canned_answer,
)
from challenge.extraction import extract_code_legacy, extract_l5_files_legacy
from challenge.levels import MAX_POINTS, Level
from challenge.prompts import prompt_text

CODE_LEVELS = (Level.L1, Level.L2, Level.L3, Level.L4)
L5_FILES = ["queue/__init__.py", "queue/core.py", "queue/priority.py", "queue/retry.py"]


def test_flavours():
    assert FLAVOURS == ("reference", "flawed")
    assert set(EXPECTED_LEGACY_POINTS) == set(FLAVOURS) == set(EXPECTED_STRICT_POINTS)
    with pytest.raises(ValueError, match="flavour"):
        canned_answer(Level.L1, "perfect")


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("level", CODE_LEVELS)
def test_l1_to_l4_answers_are_fenced_python_that_compiles(level, flavour):
    answer = canned_answer(level, flavour)
    assert "```python\n" in answer
    code = extract_code_legacy(answer)
    compile(code, f"{level}_{flavour}", "exec")
    assert "class JobQueue" in code


def test_flawed_l4_echoes_the_prompt_code():
    prompt_code = re.findall(r"```python\n(.*?)```", prompt_text(Level.L4), re.DOTALL)
    assert extract_code_legacy(canned_answer(Level.L4, "flawed")) == prompt_code[0]


def test_reference_l4_differs_from_the_prompt():
    assert "with self.lock:\n                self.results[job_id]" in extract_code_legacy(
        canned_answer(Level.L4, "reference")
    )


def test_reference_l5_is_unfenced_and_extracts_clean():
    answer = canned_answer(Level.L5, "reference")
    assert "```" not in answer
    files = extract_l5_files_legacy(answer)
    assert sorted(files) == L5_FILES
    for name, body in files.items():
        compile(body, name, "exec")


def test_flawed_l5_is_fenced_per_file_and_keeps_fence_text():
    answer = canned_answer(Level.L5, "flawed")
    assert answer.count("```python\n# queue/") == 4
    files = extract_l5_files_legacy(answer)
    assert sorted(files) == L5_FILES
    assert all("```" in body for body in files.values())


@pytest.mark.parametrize("level", [Level.L2, Level.L3])
def test_references_are_cumulative(level):
    code = extract_code_legacy(canned_answer(level, "reference"))
    assert "def add_job" in code and "def get_result" in code
    assert "max_retries" in code and "backoff" in code
    assert ("priority" in code) == (level is Level.L3)


def test_reference_answers_score_100_under_both_profiles():
    for expected in (EXPECTED_LEGACY_POINTS, EXPECTED_STRICT_POINTS):
        assert expected["reference"] == MAX_POINTS


@pytest.mark.parametrize("level", list(Level))
def test_canned_strict_points_match_the_corpus(level):
    """The corpus (tests/corpus) scores the canned answers in Docker; these must agree."""
    manifest = yaml.safe_load(
        (Path(__file__).parents[1] / "corpus" / "manifest.yaml").read_text(encoding="utf-8"))
    for flavour in FLAVOURS:
        (entry,) = [e for e in manifest
                    if e["answer"] == f"canned:{flavour}" and e["level"] == level.value]
        assert entry["strict"] == EXPECTED_STRICT_POINTS[flavour][level]
        assert entry["legacy"] == EXPECTED_LEGACY_POINTS[flavour][level]
