"""A seeded chaos run in CI: 2 fake models x L1, L4 x 2 iterations while workers, Redis and
model servers are killed and restarted at random moments. Nothing may be lost, and nothing
done twice beyond what the faults themselves cut (orchestrator/chaos.py)."""

from pathlib import Path

import pytest

from orchestrator.chaos import ChaosConfig, run_chaos

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.redis, pytest.mark.chaos,
              pytest.mark.timeout(600)]


def test_a_seeded_chaos_run_loses_nothing(tmp_path: Path, sandbox_image: str) -> None:
    # seed 9 injects each kind of fault: Redis, the score worker, a model worker, a server
    report = run_chaos(ChaosConfig(seed=9), tmp_path, sandbox_image)
    print(report.to_json())
    assert len(report.faults) >= 4, report.to_json()  # the run did not end before the chaos
    assert report.lost == 0 and report.complete, report.to_json()
    assert report.extra_model_calls <= report.extra_bound_model_calls, report.to_json()
    assert report.extra_scorings <= report.extra_bound_scorings, report.to_json()
    assert report.sandboxes_left == 0, report.to_json()
