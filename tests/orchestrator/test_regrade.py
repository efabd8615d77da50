"""Regrade as a service: real Redis, a fake sandbox that passes everything; no model call."""

import json
from collections.abc import Mapping

import pytest

from challenge.answers import canned_answer
from challenge.levels import Level
from orchestrator.planning import build_run
from orchestrator.regrade import regrade_run
from worker.config import ModelConfig
from worker.records import Attempt, AttemptStatus, GenOutcome, InfraStage, ScoreReport
from worker.sandbox import ExecResult, SandboxLimits
from worker.scorer import report_line
from worker.settings import Settings
from worker.store import RecordStore
from worker.unit import Unit

pytestmark = pytest.mark.redis


class PassingSandbox:
    def __init__(self) -> None:
        self.runs = 0

    def run(self, files: Mapping[str, bytes | str], command: list[str], *,
            limits: SandboxLimits, labels: Mapping[str, str] | None = None) -> ExecResult:
        self.runs += 1
        plan = json.loads(files["plan.json"])
        tests = [{"profile": t["profile"], "id": t["id"], "outcome": "passed"}
                 for t in plan["tests"]]
        line = report_line(str(files[".key"]), json.dumps({"tests": tests}))
        return ExecResult(exit_code=0, stdout=line + "\n", stderr="", timed_out=False,
                          duration_s=0.1)


def test_regrade_rescores_answers_keeps_old_scores_and_skips_what_never_answered(
        redis_url: str) -> None:
    store = RecordStore.from_url(redis_url)
    run = build_run("rg", {"m": ModelConfig(base_url="http://x/v1")}, [Level.L1, Level.L4],
                    1, {}, "img")
    store.save_run(run)
    old = Attempt(run_id="rg", model="m", iteration=1, level=Level.L1,
                  status=AttemptStatus.SCORED, gen_outcome=GenOutcome.OK,
                  answer=canned_answer(Level.L1, "reference"))
    old.record_scoring(ScoreReport(level=Level.L1, status="ok",
                                   scores={"legacy": 5.0, "strict": 1.0}), "0.0.1+old")
    store.save_attempt(old)
    store.save_attempt(Attempt(run_id="rg", model="m", iteration=1, level=Level.L4,
                               status=AttemptStatus.INFRA_ERROR,
                               infra_stage=InfraStage.GENERATE, error="refused"))
    sandbox = PassingSandbox()
    done: list[Attempt] = []
    changes = regrade_run(store, run, lambda: sandbox, Settings(), on_done=done.append)
    assert sandbox.runs == 1 and [a.level for a in done] == [Level.L1]
    assert [(c.profile, c.before, c.after) for c in changes] == [
        ("legacy", 5.0, 25.0), ("strict", 1.0, 25.0)]
    new = store.get_attempt(Unit("rg", "m", 1, Level.L1))
    assert new is not None and new.scores == {"legacy": 25.0, "strict": 25.0}
    assert new.previous_scores[-1]["scoring_version"] == "0.0.1+old"
    assert new.previous_scores[-1]["scores"] == {"legacy": 5.0, "strict": 1.0}
