"""submit and resume as services: real Redis, a fake llama-server over HTTP, and a dispatcher
that records what would be sent (no Celery, no Docker)."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from challenge.levels import Level
from fakellm import FakeLlamaServer, canned_answers
from orchestrator.submission import SubmitRequest, resume, submit
from worker.dispatch import llm_queue
from worker.errors import ConfigError, EndpointUnavailable
from worker.records import Attempt, AttemptStatus, GenOutcome, InfraStage
from worker.settings import Settings
from worker.store import RecordStore
from worker.unit import Stage, Unit

pytestmark = pytest.mark.redis


@dataclass
class RecordingDispatcher:
    generate: list[Unit] = field(default_factory=list)

    def send_generate(self, unit: Unit) -> None:
        self.generate.append(unit)

    def send_score(self, unit: Unit) -> None:
        raise AssertionError("submit and resume never send score tasks")


@pytest.fixture
def server() -> Iterator[FakeLlamaServer]:
    with FakeLlamaServer(canned_answers("reference"), slots=2) as fake:
        yield fake


def config_for(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump({"models": {"m": {"base_url": url}}}))
    return path


def settings(redis_url: str, **kw: object) -> Settings:
    return Settings(redis_url=redis_url, sandbox_image="no-such-image:x", **kw)


def test_submit_stores_the_run_and_sends_its_first_units(
        tmp_path: Path, redis_url: str, server: FakeLlamaServer) -> None:
    dispatcher = RecordingDispatcher()
    said: list[str] = []
    request = SubmitRequest(models=["m"], levels=[Level.L4, Level.L1, Level.L2], iterations=2,
                            config_path=config_for(tmp_path, server.base_url), run_id="r1")
    submitted = submit(settings(redis_url), request, dispatcher=dispatcher, notify=said.append)
    assert submitted.units_sent == 4 and dispatcher.generate == [
        Unit("r1", "m", 1, Level.L1), Unit("r1", "m", 1, Level.L4),
        Unit("r1", "m", 2, Level.L1), Unit("r1", "m", 2, Level.L4)]
    stored = RecordStore.from_url(redis_url).get_run("r1")
    assert stored is not None and stored.spec.levels == [Level.L1, Level.L2, Level.L4]
    assert stored.endpoints["m"].total_slots == 2
    assert stored.fingerprint.sandbox_image_id is None  # no such image: recorded as unknown
    assert any("ok, slots=2" in line for line in said)


def test_submitting_a_stored_run_again_is_a_no_op_unless_its_spec_differs(
        tmp_path: Path, redis_url: str, server: FakeLlamaServer) -> None:
    config = config_for(tmp_path, server.base_url)
    request = SubmitRequest(models=["m"], levels=[Level.L1], config_path=config, run_id="r1")
    submit(settings(redis_url), request)  # real Celery messages, waiting in the broker
    asked = len(server.requests)
    again = RecordingDispatcher()
    same = submit(settings(redis_url), request, dispatcher=again)
    assert same.existed and same.units_sent == 0 and again.generate == []
    assert same.run.run_id == "r1" and len(server.requests) == asked  # no server asked
    other = SubmitRequest(models=["m"], levels=[Level.L1], iterations=3, config_path=config,
                          run_id="r1")
    with pytest.raises(ConfigError, match="exists already with another spec "
                                          r"\(iterations 1 stored, 3 asked\)"):
        submit(settings(redis_url), other, dispatcher=again)
    config.write_text(yaml.safe_dump({"models": {"m": {"base_url": server.base_url,
                                                       "temperature": 0.7}}}))
    with pytest.raises(ConfigError, match=r"model m temperature 0\.1 stored, 0\.7 asked"):
        submit(settings(redis_url), request, dispatcher=again)
    assert again.generate == []


def test_resubmitting_a_run_stored_but_never_sent_sends_its_first_units(
        tmp_path: Path, redis_url: str, server: FakeLlamaServer) -> None:
    request = SubmitRequest(models=["m"], levels=[Level.L1, Level.L4],
                            config_path=config_for(tmp_path, server.base_url), run_id="r1")
    lost = RecordingDispatcher()  # the submit died before its messages reached the broker
    submit(settings(redis_url), request, dispatcher=lost)
    assert len(lost.generate) == 2
    again = submit(settings(redis_url), request)
    assert again.existed and again.units_sent == 2
    assert RecordStore.from_url(redis_url).carried_task_ids([llm_queue("m")]) == {
        unit.task_id(Stage.GENERATE) for unit in lost.generate}
    assert submit(settings(redis_url), request).units_sent == 0  # now carried


def test_bad_input_fails_before_anything_is_stored(
        tmp_path: Path, redis_url: str, server: FakeLlamaServer) -> None:
    config = config_for(tmp_path, server.base_url)
    for request, message in [
        (SubmitRequest(models=["m"], iterations=0, config_path=config), "at least 1"),
        (SubmitRequest(models=["m"], iterations=-2, config_path=config), "at least 1"),
        (SubmitRequest(models=["m"], levels=[], config_path=config), "L1, L2, L3, L4, L5"),
        *((SubmitRequest(models=["m"], config_path=config, run_id=bad), "run id")
          for bad in ("a b", "a/b", "a:b", "..", "", "x" * 81)),
        (SubmitRequest(models=["nope"], config_path=config), "unknown model"),
    ]:
        with pytest.raises(ConfigError, match=message):
            submit(settings(redis_url), request, dispatcher=RecordingDispatcher())
    assert RecordStore.from_url(redis_url).run_ids() == []


def test_the_loading_wait_comes_from_the_settings(
        tmp_path: Path, redis_url: str, server: FakeLlamaServer) -> None:
    server.set_loading(True)
    request = SubmitRequest(models=["m"], config_path=config_for(tmp_path, server.base_url))
    with pytest.raises(EndpointUnavailable, match="503"):
        submit(settings(redis_url, loading_wait_s=0.0), request,
               dispatcher=RecordingDispatcher())


def _seed(tmp_path: Path, redis_url: str, server: FakeLlamaServer) -> RecordStore:
    request = SubmitRequest(models=["m"], levels=[Level.L1, Level.L2, Level.L4],
                            config_path=config_for(tmp_path, server.base_url), run_id="r2")
    submit(settings(redis_url), request, dispatcher=RecordingDispatcher())
    return RecordStore.from_url(redis_url)


def _attempt(level: Level, status: AttemptStatus, **kw: object) -> Attempt:
    return Attempt(run_id="r2", model="m", iteration=1, level=level, status=status, **kw)


def test_resume_marks_infra_errors_and_sends_the_first_units_again(
        tmp_path: Path, redis_url: str, server: FakeLlamaServer) -> None:
    store = _seed(tmp_path, redis_url, server)
    store.save_attempt(_attempt(Level.L1, AttemptStatus.INFRA_ERROR,
                                infra_stage=InfraStage.GENERATE, error="refused"))
    store.save_attempt(_attempt(Level.L4, AttemptStatus.SCORED, gen_outcome=GenOutcome.OK))
    dispatcher = RecordingDispatcher()
    resumed = resume(settings(redis_url), "r2", dispatcher=dispatcher)
    assert resumed.units_resumed == 1
    assert resumed.progress.models[0].counts == {"infra_error": 1, "blocked": 1, "scored": 1}
    assert dispatcher.generate == [Unit("r2", "m", 1, Level.L1), Unit("r2", "m", 1, Level.L4)]
    again = store.get_attempt(Unit("r2", "m", 1, Level.L1))
    assert again is not None and again.status is AttemptStatus.RESUMED


def test_resume_refuses_while_units_are_pending_unless_forced(
        tmp_path: Path, redis_url: str, server: FakeLlamaServer) -> None:
    _seed(tmp_path, redis_url, server)
    with pytest.raises(ConfigError, match="pending units"):
        resume(settings(redis_url), "r2", dispatcher=RecordingDispatcher())
    dispatcher = RecordingDispatcher()
    forced = resume(settings(redis_url), "r2", force=True, dispatcher=dispatcher)
    assert forced.units_resumed == 0 and len(dispatcher.generate) == 2


def test_resume_of_a_complete_run_sends_nothing(
        tmp_path: Path, redis_url: str, server: FakeLlamaServer) -> None:
    store = _seed(tmp_path, redis_url, server)
    for level in (Level.L1, Level.L2, Level.L4):
        store.save_attempt(_attempt(level, AttemptStatus.SCORED, gen_outcome=GenOutcome.OK))
    dispatcher = RecordingDispatcher()
    assert resume(settings(redis_url), "r2", dispatcher=dispatcher).progress.complete
    assert dispatcher.generate == []


def test_resume_of_a_cancelled_run_is_refused(
        tmp_path: Path, redis_url: str, server: FakeLlamaServer) -> None:
    store = _seed(tmp_path, redis_url, server)
    store.cancel_run("r2")
    dispatcher = RecordingDispatcher()
    with pytest.raises(ConfigError, match="was cancelled"):
        resume(settings(redis_url), "r2", force=True, dispatcher=dispatcher)
    assert dispatcher.generate == []


def test_resume_of_an_unknown_run_is_a_clear_error(redis_url: str) -> None:
    with pytest.raises(ConfigError, match="no run 'ghost'"):
        resume(settings(redis_url), "ghost", dispatcher=RecordingDispatcher())
