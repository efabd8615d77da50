"""score units against a real Redis and a fake sandbox: retries, infra errors, queue time,
unexpected errors, and hostile text in test messages."""

import json
from collections.abc import Mapping
from datetime import timedelta

import pytest

from challenge.answers import canned_answer
from challenge.levels import Level
from orchestrator.planning import build_run
from worker.config import ModelConfig
from worker.records import Attempt, AttemptStatus, GenOutcome, InfraStage, utc_now
from worker.sandbox import ExecResult, SandboxLimits, SandboxUnavailable
from worker.score import score_unit
from worker.scorer import report_line
from worker.services import Services
from worker.settings import Settings
from worker.store import RecordStore
from worker.unit import Unit

pytestmark = pytest.mark.redis

UNIT = Unit("r1", "m", 1, Level.L1)


class ScriptedSandbox:
    """Each run takes the next step: an exception to raise, or a message every test fails
    with (None: every test passes), reported the way the in-container runner reports."""

    def __init__(self, *steps: Exception | str | None) -> None:
        self.steps = list(steps)
        self.runs = 0

    def run(self, files: Mapping[str, bytes | str], command: list[str], *,
            limits: SandboxLimits, labels: Mapping[str, str] | None = None) -> ExecResult:
        self.runs += 1
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        plan = json.loads(files["plan.json"])
        tests = [{"profile": t["profile"], "id": t["id"],
                  "outcome": "passed" if step is None else "failed",
                  "message": step or ""} for t in plan["tests"]]
        report = json.dumps({"python": "3.11.2", "pytest": "7.2.1", "tests": tests})
        return ExecResult(exit_code=0, stdout=report_line(str(files[".key"]), report) + "\n",
                          stderr="", timed_out=False, duration_s=0.5)


def make_services(redis_url: str, sandbox: ScriptedSandbox) -> Services:
    store = RecordStore.from_url(redis_url)
    store.save_run(build_run("r1", {"m": ModelConfig(base_url="http://x/v1")}, [Level.L1], 1,
                             {}, "img"))
    store.save_attempt(Attempt(run_id="r1", model="m", iteration=1, level=Level.L1,
                               status=AttemptStatus.GENERATED, gen_outcome=GenOutcome.OK,
                               answer=canned_answer(Level.L1, "reference")))
    return Services(store=store, dispatcher=None,  # type: ignore[arg-type]
                    settings=Settings(infra_retries=2, infra_backoff_s=0.0), host="test",
                    sandbox_factory=lambda: sandbox, sleep=lambda s: None)


def test_scores_and_records_the_report_and_queue_time(redis_url: str) -> None:
    svc = make_services(redis_url, ScriptedSandbox(None))
    enqueued = utc_now() - timedelta(seconds=3)
    attempt = score_unit(svc, UNIT, enqueued)
    assert attempt is not None and attempt.status is AttemptStatus.SCORED
    assert attempt.scores == {"legacy": 25.0, "strict": 25.0}
    assert attempt.score_enqueued_at == enqueued
    assert attempt.score_queued_s is not None and attempt.score_queued_s >= 3
    assert attempt.report is not None and attempt.report.python == "3.11.2"
    assert svc.store.get_attempt(UNIT) == attempt


def test_a_scored_unit_is_not_scored_again(redis_url: str) -> None:
    sandbox = ScriptedSandbox(None)
    svc = make_services(redis_url, sandbox)
    score_unit(svc, UNIT)
    score_unit(svc, UNIT)
    assert sandbox.runs == 1


def test_sandbox_failures_are_retried_then_an_infra_error(redis_url: str) -> None:
    down = SandboxUnavailable("Docker failed to create the sandbox container: gone")
    sandbox = ScriptedSandbox(down, down, down)
    svc = make_services(redis_url, sandbox)
    attempt = score_unit(svc, UNIT)
    assert attempt is not None and attempt.status is AttemptStatus.INFRA_ERROR
    assert attempt.infra_stage is InfraStage.SCORE and "gone" in attempt.error
    assert sandbox.runs == 3 and len(attempt.score_retries) == 2
    assert not attempt.failed_at_generate  # the answer is kept: resume scores it again


def test_a_sandbox_that_recovers_scores(redis_url: str) -> None:
    sandbox = ScriptedSandbox(SandboxUnavailable("busy"), None)
    attempt = score_unit(make_services(redis_url, sandbox), UNIT)
    assert attempt is not None and attempt.status is AttemptStatus.SCORED
    assert [r.kind for r in attempt.score_retries] == ["infra"]


def test_a_lone_surrogate_in_a_test_message_is_saved_and_scored(redis_url: str) -> None:
    svc = make_services(redis_url, ScriptedSandbox("assert '\udcff' == 1"))
    attempt = score_unit(svc, UNIT)
    assert attempt is not None and attempt.status is AttemptStatus.SCORED
    stored = svc.store.get_attempt(UNIT)
    assert stored is not None and stored.scores == {"legacy": 0.0, "strict": 0.0}
    assert stored.tests and stored.tests[0].message == "assert '\ufffd' == 1"


def test_an_unexpected_error_is_recorded_as_internal(redis_url: str) -> None:
    sandbox = ScriptedSandbox(KeyError("a bug of ours"))
    svc = make_services(redis_url, sandbox)
    attempt = score_unit(svc, UNIT)
    assert attempt is not None and attempt.status is AttemptStatus.INFRA_ERROR
    assert attempt.infra_stage is InfraStage.INTERNAL and "a bug of ours" in attempt.error
    assert not attempt.failed_at_generate and attempt.answer  # resume will score it again


def test_nothing_to_score_without_a_record(redis_url: str) -> None:
    svc = make_services(redis_url, ScriptedSandbox())
    assert score_unit(svc, UNIT._replace(iteration=9)) is None


def test_a_run_cancelled_between_tries_starts_no_further_sandbox(redis_url: str) -> None:
    class CancelOnFirstRun(ScriptedSandbox):
        def run(self, files, command, *, limits, labels=None):  # type: ignore[no-untyped-def]
            svc.store.cancel_run("r1")
            return super().run(files, command, limits=limits, labels=labels)

    sandbox = CancelOnFirstRun(SandboxUnavailable("gone"), None)
    svc = make_services(redis_url, sandbox)
    assert score_unit(svc, UNIT) is None
    assert sandbox.runs == 1
    stored = svc.store.get_attempt(UNIT)
    assert stored is not None and stored.status is AttemptStatus.GENERATED
