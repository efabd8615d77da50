"""generate units against a real Redis, a recording dispatcher and a scripted model."""

from dataclasses import dataclass, field

import pytest

from challenge.extraction import extract_code_legacy
from challenge.levels import LEVELS, Level
from challenge.prompts import build_prompt
from orchestrator.planning import build_run
from worker import chain
from worker.config import ModelConfig
from worker.generate import generate_unit
from worker.llm import CallFailure, ChatReply, FailureKind
from worker.records import AttemptStatus, GenOutcome, InfraStage, Run
from worker.services import Services
from worker.settings import Settings
from worker.store import RecordStore
from worker.unit import Unit

pytestmark = pytest.mark.redis


@dataclass
class RecordingDispatcher:
    sent: list[tuple[str, str, int, Level]] = field(default_factory=list)

    def send_generate(self, unit: Unit) -> None:
        self.sent.append(("gen", unit.model, unit.iteration, unit.level))

    def send_score(self, unit: Unit) -> None:
        self.sent.append(("score", unit.model, unit.iteration, unit.level))


def code_answer(tag: str) -> str:
    return f"Sure:\n```python\nclass JobQueue:\n    tag = {tag!r}\n```\n"


@dataclass
class ScriptedModel:
    replies: dict[Level, list[ChatReply | CallFailure]]
    prompts: list[str] = field(default_factory=list)

    def chat(self, prompt: str) -> ChatReply:
        self.prompts.append(prompt)
        level = next(lv for lv in reversed(LEVELS) if _level_marker(lv) in prompt)
        step = self.replies[level].pop(0)
        if isinstance(step, CallFailure):
            raise step
        return step


def _level_marker(level: Level) -> str:
    from challenge.prompts import prompt_text

    return prompt_text(level).splitlines()[0]


def reply(content: str, finish: str = "stop") -> ChatReply:
    return ChatReply(content, None, finish, {"completion_tokens": 3}, {"predicted_n": 3}, 0.01)


def make_run(levels=LEVELS) -> Run:
    return build_run("r1", {"m": ModelConfig(base_url="http://x/v1")}, levels, 1, {}, "img")


def U(level: Level) -> Unit:
    return Unit("r1", "m", 1, level)


def services(redis_url: str, model: ScriptedModel) -> Services:
    return Services(
        store=RecordStore.from_url(redis_url), dispatcher=RecordingDispatcher(),
        settings=Settings(infra_retries=1, infra_backoff_s=0.0), host="test",
        chat_factory=lambda cfg, name: model.chat, sleep=lambda s: None,
    )


def test_l2_embeds_l1_code_and_l3_falls_back_to_l1_when_l2_is_empty(redis_url: str) -> None:
    model = ScriptedModel({Level.L1: [reply(code_answer("one"))],
                           Level.L2: [reply("")],
                           Level.L3: [reply(code_answer("three"))]})
    svc = services(redis_url, model)
    run = make_run()
    svc.store.save_run(run)
    first = generate_unit(svc, U(Level.L1))
    assert first is not None and first.gen_outcome is GenOutcome.OK
    second = generate_unit(svc, U(Level.L2))
    assert second is not None and second.gen_outcome is GenOutcome.NO_CODE
    l1_code = extract_code_legacy(code_answer("one"))
    assert second.prompt == build_prompt(Level.L2, l1_code)
    assert second.accumulated_from is Level.L1
    third = generate_unit(svc, U(Level.L3))
    assert third is not None and third.prompt == build_prompt(Level.L3, l1_code)
    assert model.prompts == [build_prompt(Level.L1, None), second.prompt, third.prompt]
    assert svc.dispatcher.sent == [
        ("score", "m", 1, Level.L1), ("gen", "m", 1, Level.L2),
        ("score", "m", 1, Level.L2), ("gen", "m", 1, Level.L3),
        ("score", "m", 1, Level.L3),
    ]


def test_redelivery_does_not_call_the_model_again_but_resends_followups(redis_url: str) -> None:
    model = ScriptedModel({Level.L1: [reply(code_answer("one"))]})
    svc = services(redis_url, model)
    svc.store.save_run(make_run())
    generate_unit(svc, U(Level.L1))
    generate_unit(svc, U(Level.L1))
    assert len(model.prompts) == 1
    assert svc.dispatcher.sent == [("score", "m", 1, Level.L1), ("gen", "m", 1, Level.L2)] * 2


def test_infra_error_stops_the_chain_and_a_retry_calls_again(redis_url: str) -> None:
    down = CallFailure(FailureKind.INFRA, "connection refused")
    model = ScriptedModel({Level.L1: [down, down, reply(code_answer("one"))]})
    svc = services(redis_url, model)
    svc.store.save_run(make_run())
    failed = generate_unit(svc, U(Level.L1))
    assert failed is not None and failed.status is AttemptStatus.INFRA_ERROR
    assert failed.infra_stage is InfraStage.GENERATE and "refused" in failed.error
    assert failed.tries == 2 and [r.kind for r in failed.retries] == ["infra"]
    assert svc.dispatcher.sent == []
    again = generate_unit(svc, U(Level.L1))
    assert again is not None and again.status is AttemptStatus.GENERATED
    assert svc.dispatcher.sent == [("score", "m", 1, Level.L1), ("gen", "m", 1, Level.L2)]


def test_model_refusal_is_a_scored_outcome_not_infra(redis_url: str) -> None:
    refused = CallFailure(FailureKind.CONTEXT, "400 the request exceeds the available context")
    model = ScriptedModel({Level.L4: [refused, refused]})
    svc = services(redis_url, model)
    svc.store.save_run(make_run())
    attempt = generate_unit(svc, U(Level.L4))
    assert attempt is not None and attempt.status is AttemptStatus.GENERATED
    assert attempt.gen_outcome is GenOutcome.MODEL_ERROR and "exceeds" in attempt.error
    assert svc.dispatcher.sent == [("score", "m", 1, Level.L4)]


def test_truncated_answers_are_still_handed_on(redis_url: str) -> None:
    model = ScriptedModel({Level.L1: [reply(code_answer("cut"), finish="length")]})
    svc = services(redis_url, model)
    run = make_run()
    svc.store.save_run(run)
    attempt = generate_unit(svc, U(Level.L1))
    assert attempt is not None and attempt.gen_outcome is GenOutcome.TRUNCATED
    source = chain.handoff_source(run, U(Level.L2), svc.store.get_attempt)
    assert source is not None and source.level is Level.L1
    assert source.handoff_code == extract_code_legacy(code_answer("cut"))


def test_code_only_strict_can_read_is_not_no_code(redis_url: str) -> None:
    py_fence = "```py\nclass JobQueue:\n    pass\n```\n"  # the original regex misses ```py
    model = ScriptedModel({Level.L4: [reply(py_fence)], Level.L5: [reply("No idea, sorry.")]})
    svc = services(redis_url, model)
    svc.store.save_run(make_run())
    l4 = generate_unit(svc, U(Level.L4))
    l5 = generate_unit(svc, U(Level.L5))
    assert l4 is not None and l4.gen_outcome is GenOutcome.OK
    assert l5 is not None and l5.gen_outcome is GenOutcome.NO_CODE


def test_a_lone_surrogate_in_the_answer_is_stored(redis_url: str) -> None:
    model = ScriptedModel({Level.L4: [reply("```python\nclass JobQueue:\n    x = '\udcff'\n```")]})
    svc = services(redis_url, model)
    svc.store.save_run(make_run())
    generate_unit(svc, U(Level.L4))
    stored = svc.store.get_attempt(U(Level.L4))
    assert stored is not None and stored.status is AttemptStatus.GENERATED
    assert "\ufffd" in stored.answer


def test_an_unexpected_error_is_recorded_as_internal_and_the_chain_waits(redis_url: str
                                                                         ) -> None:
    def broken_factory(config: ModelConfig, name: str):
        raise RuntimeError("a bug of ours")

    svc = services(redis_url, ScriptedModel({}))
    svc.chat_factory = broken_factory
    svc.store.save_run(make_run())
    attempt = generate_unit(svc, U(Level.L1))
    assert attempt is not None and attempt.status is AttemptStatus.INFRA_ERROR
    assert attempt.infra_stage is InfraStage.INTERNAL and "a bug of ours" in attempt.error
    assert attempt.failed_at_generate and svc.dispatcher.sent == []
    stored = svc.store.get_attempt(U(Level.L1))
    assert stored is not None and stored.infra_stage is InfraStage.INTERNAL


def test_a_store_failure_propagates_so_the_task_is_not_acknowledged(redis_url: str) -> None:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from orchestrator.localstack import free_port
    from worker.store import StoreUnavailable

    svc = services(redis_url, ScriptedModel({Level.L1: [reply(code_answer("one"))]}))
    svc.store.save_run(make_run())
    svc.store = RecordStore(redis.Redis(port=free_port(), socket_connect_timeout=1,
                                        retry=Retry(NoBackoff(), 0)))
    with pytest.raises(StoreUnavailable):
        generate_unit(svc, U(Level.L1))
