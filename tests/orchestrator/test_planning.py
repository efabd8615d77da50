"""Planning, pure: which run ids, levels and iterations a run may have, and how a second
request for a stored run id compares with it."""

import pytest

from challenge.levels import LEVELS, Level
from orchestrator.planning import build_run, spec_differences, validate_run_id
from worker.config import ModelConfig
from worker.errors import ConfigError
from worker.records import Run

MODELS = {"m": ModelConfig(base_url="http://127.0.0.1:9/v1")}


def run(models: dict[str, ModelConfig] | None = None, levels: list[Level] | None = None,
        iterations: int = 1) -> Run:
    return build_run("r1", models or MODELS, levels or list(LEVELS), iterations, {}, "img")


@pytest.mark.parametrize("run_id", [
    "a/b", "a:b", "a b", " a", "..", ".", ".hidden", "-x", "", "x" * 81, "a\nb", "é",
])
def test_run_ids_that_keys_or_file_names_dislike_are_refused(run_id: str) -> None:
    with pytest.raises(ConfigError, match="run id"):
        validate_run_id(run_id)
    with pytest.raises(ConfigError, match="run id"):
        build_run(run_id, MODELS, [Level.L1], 1, {}, "img")


@pytest.mark.parametrize("run_id", ["r1", "20250101-120000-a1b2c3", "a.b_c-d", "x" * 80])
def test_ordinary_run_ids_pass(run_id: str) -> None:
    assert validate_run_id(run_id) == run_id


@pytest.mark.parametrize("iterations", [0, -1])
def test_iterations_below_one_are_refused(iterations: int) -> None:
    with pytest.raises(ConfigError, match="at least 1"):
        run(iterations=iterations)


def test_no_level_is_refused_naming_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="L1, L2, L3, L4, L5"):
        build_run("r1", MODELS, [], 1, {}, "img")


def test_the_same_spec_has_no_difference() -> None:
    assert spec_differences(run(), run()) == []
    # the levels' order as asked does not matter: runs keep them in level order
    assert spec_differences(run(levels=[Level.L4, Level.L1]),
                            run(levels=[Level.L1, Level.L4])) == []


def test_each_difference_is_named() -> None:
    other = {"m": ModelConfig(base_url="http://127.0.0.1:9/v1", max_tokens=100)}
    assert spec_differences(run(), run(iterations=2)) == ["iterations 1 stored, 2 asked"]
    assert spec_differences(run(levels=[Level.L1]), run()) == [
        "levels L1 stored, L1 L2 L3 L4 L5 asked"]
    assert spec_differences(run(), run(models=other)) == [
        "model m max_tokens 8192 stored, 100 asked"]
    two = {**MODELS, "n": ModelConfig(base_url="http://127.0.0.1:8/v1")}
    assert spec_differences(run(), run(models=two)) == ["models m stored, m n asked"]
