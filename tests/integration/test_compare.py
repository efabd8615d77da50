"""`jqbench compare` and `jqbench report` on a real run whose answers vary by seed.

Three fake models answer L1 with the reference answer or an empty one, drawn by weight from
a seeded RNG (`fakellm --mix`), one request at a time, so each model's six outcomes are fixed:
- strong (reference=0.9, seed 0): reference six times: 25 each;
- weak (reference=0.15, seed 1): reference once, then empty five times: 25, 0, 0, 0, 0, 0;
- strong-too (reference=0.9, seed 8): one empty among six: five 25s and one 0.
By hand: strong - weak = 25 - 25/6 = 20.8 points; Welch's se = sd(weak) / sqrt(6) = 10.21 /
2.449 = 4.17 with 5 degrees of freedom (t = 2.571): [10.1, 31.5]; the exact permutation p
counts the splits of seven 25s and five 0s into sixes at least as extreme: 14 / 924 = 0.015.
strong - strong-too = 4.2: every split is as extreme, p = 1: cannot tell, and differences
under 2.571 * 4.17 = 10.7 points cannot be told from noise.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from orchestrator.localstack import LocalStack
from worker.dispatch import SCORE_QUEUE, llm_queue

pytestmark = [pytest.mark.docker, pytest.mark.redis, pytest.mark.timeout(300)]

MIXES = {"strong": ("reference=0.9,empty=0.1", 0), "weak": ("reference=0.15,empty=0.85", 1),
         "strong-too": ("reference=0.9,empty=0.1", 8)}
RUN_ID = "compare-run"


def jqbench(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator", *args],
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=240)


@pytest.fixture(scope="module")
def varied_run(tmp_path_factory: pytest.TempPathFactory, redis_server_url: str,
               sandbox_image: str) -> dict:
    workdir = tmp_path_factory.mktemp("compare")
    redis_url = redis_server_url.rsplit("/", 1)[0] + "/12"
    with LocalStack(workdir=workdir / "stack") as stack:
        models = {}
        for name, (mix, seed) in MIXES.items():
            server = stack.start_fake_server(name, "reference",
                                             extra_args=["--mix", mix, "--seed", str(seed)])
            models[name] = {"base_url": f"{server.url}/v1"}
        config = workdir / "models.yaml"
        config.write_text(yaml.safe_dump({"models": models}))
        env = {"REDIS_URL": redis_url, "JQ_SANDBOX_IMAGE": sandbox_image,
               "JQ_SANDBOX_SLOTS": "4"}
        stack.start_worker("llm", [llm_queue(m) for m in models], len(models), env)
        scorer = stack.start_worker("score", [SCORE_QUEUE], 4, env)
        output = workdir / "results"
        submitted = jqbench("submit", "--models", *models, "--levels", "L1", "--iterations", "6",
                            "--config", str(config), "--run-id", RUN_ID, "--output",
                            str(output), "--wait", env=env)
        assert submitted.returncode == 0, f"{submitted.stderr}\n{scorer.log_tail(40)}"
        yield {"env": env, "output": output}


def compare(varied_run: dict, a: str, b: str) -> dict:
    done = jqbench("compare", a, b, "--run", RUN_ID, "--output", str(varied_run["output"]),
                   "--json", env=varied_run["env"])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def profile(result: dict, name: str) -> dict:
    return next(p for p in result["profiles"] if p["profile"] == name)


def test_compare_says_which_is_better_when_interval_and_test_agree(varied_run: dict) -> None:
    strict = profile(compare(varied_run, "strong", "weak"), "strict")
    totals = strict["totals"]
    assert (totals["mean_a"], totals["mean_b"]) == pytest.approx((25, 25 / 6))
    assert totals["ci95"] == pytest.approx([10.1, 31.5], abs=0.05)
    assert totals["p_value"] == pytest.approx(14 / 924)
    assert totals["verdict"] == "a_better"
    assert strict["sentence"].startswith("strict: strong is better than weak (difference "
                                         "+20.8 points, 95% interval [10.1, 31.5]")
    reverse = profile(compare(varied_run, "weak", "strong"), "strict")
    assert reverse["totals"]["verdict"] == "b_better"


def test_compare_says_it_cannot_tell_and_what_it_could_have_told(varied_run: dict) -> None:
    strict = profile(compare(varied_run, "strong", "strong-too"), "strict")
    assert strict["totals"]["p_value"] == 1.0
    assert strict["totals"]["verdict"] == "cannot_tell"
    assert strict["sentence"].endswith("6 iterations each: a difference under 11 points "
                                       "cannot be told from noise")
    (level,) = strict["levels"]
    assert level["level"] == "L1" and level["verdict"] == "cannot_tell"


def test_compare_refuses_runs_that_scored_differently(varied_run: dict, tmp_path: Path) -> None:
    """A copy of the run whose sandbox image differs is not comparable: refused, unless
    asked for, then loudly warned about."""
    source = varied_run["output"] / RUN_ID
    copy = tmp_path / "other-run"
    run = json.loads((source / "run.json").read_text())
    run["run_id"] = "other-run"
    run["fingerprint"]["sandbox_image_id"] = "sha256:another"
    copy.mkdir()
    (copy / "run.json").write_text(json.dumps(run))
    for path in (source / "attempts" / "weak").rglob("*.json"):
        record = json.loads(path.read_text())
        record["run_id"] = "other-run"
        target = copy / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(record))
    (tmp_path / RUN_ID).symlink_to(source)
    args = ("compare", f"strong@{RUN_ID}", "weak@other-run", "--run", RUN_ID, "other-run",
            "--output", str(tmp_path))
    env = {"REDIS_URL": "redis://127.0.0.1:1/0"}  # no Redis: both runs come from the files
    refused = jqbench(*args, env=env)
    assert refused.returncode == 2
    assert "not comparable: sandbox image differs" in refused.stderr
    allowed = jqbench(*args, "--allow-mismatch", env=env)
    assert allowed.returncode == 0, allowed.stderr
    assert "WARNING: not comparable: sandbox image differs" in allowed.stderr
    assert "strict: strong is better than weak" in allowed.stdout


def test_report_of_the_run_counts_failure_causes(varied_run: dict) -> None:
    done = jqbench("report", RUN_ID, "--output", str(varied_run["output"]),
                   env=varied_run["env"])
    assert done.returncode == 0, done.stderr
    root = varied_run["output"] / RUN_ID
    summary = (root / "summary.md").read_text()
    # A subset run's percentages are out of its levels' points (25 for L1 alone).
    assert "| strong | 100% | 100% | 25 | [25,25,25,25,25,25] |" in summary
    assert "| weak | 100% | 16.7% | 25 | [25,0,0,0,0,0] |" in summary
    # weak: one pass in six, five attempts without code.
    assert "| weak | L1 | 0 | 0 | 5 | 0 | 0 | 0 | 0 |" in summary
