"""generate units against a real Redis, a recording dispatcher and a scripted model."""

from dataclasses import dataclass, field

import pytest

from challenge.extraction import extract_code_legacy
from challenge.levels import LEVELS, Level
from challenge.prompts import build_prompt
from orchestrator.planning import build_run
from worker.config import ModelConfig
from worker.flow import Services, first_units, generate_unit, handoff, next_link
from worker.llm import CallFailure, ChatReply, FailureKind
from worker.records import AttemptStatus, GenOutcome, Run
from worker.settings import Settings
from worker.store import RecordStore

pytestmark = pytest.mark.redis


@dataclass
class RecordingDispatcher:
    sent: list[tuple[str, str, int, Level]] = field(default_factory=list)

    def send_generate(self, run_id: str, model: str, iteration: int, level: Level) -> None:
        self.sent.append(("gen", model, iteration, level))

    def send_score(self, run_id: str, model: str, iteration: int, level: Level) -> None:
        self.sent.append(("score", model, iteration, level))


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


def services(redis_url: str, model: ScriptedModel) -> Services:
    return Services(
        store=RecordStore.from_url(redis_url), dispatcher=RecordingDispatcher(),
        settings=Settings(infra_retries=1, infra_backoff_s=0.0), host="test",
        chat_factory=lambda cfg, name: model.chat, sleep=lambda s: None,
    )


def test_chain_rules_of_a_full_run() -> None:
    run = make_run()
    assert first_units(run) == [Level.L1, Level.L4, Level.L5]
    assert next_link(run, Level.L1) is Level.L2 and next_link(run, Level.L3) is None
    subset = make_run([Level.L1, Level.L3, Level.L5])
    assert first_units(subset) == [Level.L1, Level.L5]
    assert next_link(subset, Level.L1) is Level.L3
    assert first_units(make_run([Level.L2, Level.L4])) == [Level.L2, Level.L4]


def test_l2_embeds_l1_code_and_l3_falls_back_to_l1_when_l2_is_empty(redis_url: str) -> None:
    model = ScriptedModel({Level.L1: [reply(code_answer("one"))],
                           Level.L2: [reply("")],
                           Level.L3: [reply(code_answer("three"))]})
    svc = services(redis_url, model)
    run = make_run()
    svc.store.save_run(run)
    first = generate_unit(svc, "r1", "m", 1, Level.L1)
    assert first is not None and first.gen_outcome is GenOutcome.OK
    second = generate_unit(svc, "r1", "m", 1, Level.L2)
    assert second is not None and second.gen_outcome is GenOutcome.NO_CODE
    l1_code = extract_code_legacy(code_answer("one"))
    assert second.prompt == build_prompt(Level.L2, l1_code)
    assert second.accumulated_from is Level.L1
    third = generate_unit(svc, "r1", "m", 1, Level.L3)
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
    generate_unit(svc, "r1", "m", 1, Level.L1)
    generate_unit(svc, "r1", "m", 1, Level.L1)
    assert len(model.prompts) == 1
    assert svc.dispatcher.sent == [("score", "m", 1, Level.L1), ("gen", "m", 1, Level.L2)] * 2


def test_infra_error_stops_the_chain_and_a_retry_calls_again(redis_url: str) -> None:
    down = CallFailure(FailureKind.INFRA, "connection refused")
    model = ScriptedModel({Level.L1: [down, down, reply(code_answer("one"))]})
    svc = services(redis_url, model)
    svc.store.save_run(make_run())
    failed = generate_unit(svc, "r1", "m", 1, Level.L1)
    assert failed is not None and failed.status is AttemptStatus.INFRA_ERROR
    assert failed.infra_stage == "generate" and "refused" in failed.error and failed.tries == 2
    assert svc.dispatcher.sent == []
    again = generate_unit(svc, "r1", "m", 1, Level.L1)
    assert again is not None and again.status is AttemptStatus.GENERATED
    assert svc.dispatcher.sent == [("score", "m", 1, Level.L1), ("gen", "m", 1, Level.L2)]


def test_model_refusal_is_a_scored_outcome_not_infra(redis_url: str) -> None:
    refused = CallFailure(FailureKind.CONTEXT, "400 the request exceeds the available context")
    model = ScriptedModel({Level.L4: [refused, refused]})
    svc = services(redis_url, model)
    svc.store.save_run(make_run())
    attempt = generate_unit(svc, "r1", "m", 1, Level.L4)
    assert attempt is not None and attempt.status is AttemptStatus.GENERATED
    assert attempt.gen_outcome is GenOutcome.MODEL_ERROR and "exceeds" in attempt.error
    assert svc.dispatcher.sent == [("score", "m", 1, Level.L4)]


def test_truncated_answers_are_still_handed_on(redis_url: str) -> None:
    model = ScriptedModel({Level.L1: [reply(code_answer("cut"), finish="length")]})
    svc = services(redis_url, model)
    run = make_run()
    svc.store.save_run(run)
    attempt = generate_unit(svc, "r1", "m", 1, Level.L1)
    assert attempt is not None and attempt.gen_outcome is GenOutcome.TRUNCATED
    code, source = handoff(svc.store, run, "m", 1, Level.L2)
    assert source is Level.L1 and code == extract_code_legacy(code_answer("cut"))


def test_code_only_strict_can_read_is_not_no_code(redis_url: str) -> None:
    py_fence = "```py\nclass JobQueue:\n    pass\n```\n"  # the original regex misses ```py
    model = ScriptedModel({Level.L4: [reply(py_fence)], Level.L5: [reply("No idea, sorry.")]})
    svc = services(redis_url, model)
    svc.store.save_run(make_run())
    l4 = generate_unit(svc, "r1", "m", 1, Level.L4)
    l5 = generate_unit(svc, "r1", "m", 1, Level.L5)
    assert l4 is not None and l4.gen_outcome is GenOutcome.OK
    assert l5 is not None and l5.gen_outcome is GenOutcome.NO_CODE
