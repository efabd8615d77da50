"""Records: the nested scoring report, old flat records, surrogates, the Unit key."""

import json

import pytest

from challenge.levels import Level, Profile
from challenge.outcomes import TestOutcome
from worker.records import Attempt, AttemptStatus, GenOutcome, ScoreReport
from worker.store import RecordStore
from worker.unit import Stage, Unit

UNIT = Unit("run-1", "m.x", 2, Level.L3)


def test_unit_keys_task_ids_and_log_context() -> None:
    assert UNIT.key == "run-1:m.x:2:L3"
    assert UNIT.task_id(Stage.GENERATE) == "run-1:m.x:2:L3:gen"
    assert UNIT.task_id(Stage.SCORE) == "run-1:m.x:2:L3:score"
    assert UNIT.log_context == "run=run-1 model=m.x iter=2 level=L3"


def report(**extra: object) -> ScoreReport:
    return ScoreReport(
        level=Level.L3, status="ok", scores={"legacy": 25.0, "strict": 20.3},
        tests=[TestOutcome(profile=Profile.LEGACY, id="L1::a", outcome="passed")],
        extracted={"legacy": {"job_queue.py": "x"}}, sandbox_exit_code=0,
        sandbox_timed_out=True, sandbox_oom_killed=True, python="3.11.2", pytest="7.2.1",
        duration_s=1.5, **extra,
    )


def test_the_report_is_kept_whole() -> None:
    attempt = Attempt(run_id="run-1", model="m.x", iteration=2, level=Level.L3,
                      status=AttemptStatus.GENERATED, gen_outcome=GenOutcome.OK)
    attempt.record_scoring(report(), "v1")
    again = Attempt.model_validate_json(attempt.model_dump_json())
    assert again.report == report() and again.status is AttemptStatus.SCORED
    assert again.report is not None and again.report.sandbox_timed_out
    assert again.report.sandbox_oom_killed and again.scores == {"legacy": 25.0, "strict": 20.3}
    assert again.unit == UNIT and again.scoring_version == "v1"


def test_records_written_with_flat_scoring_fields_still_load() -> None:
    old = {
        "run_id": "run-1", "model": "m.x", "iteration": 2, "level": "L3", "status": "scored",
        "infra_stage": None, "gen_outcome": "ok", "answer": "a",
        "extracted": {"legacy": {"job_queue.py": "x"}},
        "tests": [{"profile": "legacy", "id": "L1::a", "outcome": "passed"}],
        "scores": {"legacy": 25.0}, "level_scores": {}, "sandbox_exit_code": 0,
        "sandbox_output": "out", "sandbox_versions": {"python": "3.11.2", "pytest": "7.2.1"},
        "score_duration_s": 2.0, "scoring_version": "0.1.0+abc",
    }
    attempt = Attempt.model_validate_json(json.dumps(old))
    assert attempt.report is not None
    assert attempt.scores == {"legacy": 25.0} and attempt.tests[0].id == "L1::a"
    assert attempt.report.sandbox_output == "out" and attempt.report.python == "3.11.2"
    assert attempt.report.duration_s == 2.0 and attempt.has_code


def test_an_unscored_old_record_has_no_report() -> None:
    old = {"run_id": "r", "model": "m", "iteration": 1, "level": "L1",
           "status": "infra_error", "infra_stage": "generate", "extracted": {}, "tests": [],
           "scores": {}}
    attempt = Attempt.model_validate_json(json.dumps(old))
    assert attempt.report is None and attempt.failed_at_generate


@pytest.mark.redis
def test_a_lone_surrogate_in_any_text_field_is_saved(redis_url: str) -> None:
    bad = "fail \udcff here"
    attempt = Attempt(run_id="run-1", model="m.x", iteration=2, level=Level.L3,
                      status=AttemptStatus.GENERATED, gen_outcome=GenOutcome.OK, answer=bad,
                      reasoning_content=bad, error=bad, usage={bad: bad})
    attempt.record_scoring(report(sandbox_output=bad), "v1")
    attempt.report.tests[0].message = bad  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        attempt.model_dump_json()  # what used to lose the unit
    store = RecordStore.from_url(redis_url)
    store.save_attempt(attempt)
    stored = store.get_attempt(UNIT)
    assert stored is not None and stored.answer == "fail \ufffd here"
    assert stored.tests[0].message == "fail \ufffd here"
    assert stored.report is not None and stored.report.sandbox_output == "fail \ufffd here"
    assert stored.usage is not None and list(stored.usage.values()) == ["fail \ufffd here"]
    assert all("\udcff" not in key and "\ufffd" in key for key in stored.usage)


@pytest.mark.redis
def test_a_new_run_is_stored_only_once(redis_url: str) -> None:
    from orchestrator.planning import build_run
    from worker.config import ModelConfig

    store = RecordStore.from_url(redis_url)
    run = build_run("once", {"m": ModelConfig(base_url="http://x/v1")}, [Level.L1], 1, {}, "i")
    assert store.save_run(run, new=True) is True
    assert store.save_run(run, new=True) is False
    assert store.run_ids() == ["once"]
