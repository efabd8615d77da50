"""The one retry policy, for model calls and sandbox starts alike."""

import random

from worker.llm import CallFailure, ChatReply
from worker.retry import Failure, FailureKind, backoff_s, call_with_retries
from worker.settings import Settings

REPLY = ChatReply("ok", None, "stop", None, None, 0.1)


def scripted(*steps: CallFailure | ChatReply):
    remaining = list(steps)
    calls = []

    def call() -> ChatReply:
        calls.append(1)
        step = remaining.pop(0)
        if isinstance(step, CallFailure):
            raise step
        return step

    return call, calls


def settings(**kw) -> Settings:
    return Settings(infra_retries=2, infra_backoff_s=1.0, loading_wait_s=10.0, **kw)


def test_success_first_time() -> None:
    call, _ = scripted(REPLY)
    result = call_with_retries(call, settings(), sleep=lambda s: None)
    assert result.value is REPLY and result.tries == 1 and not result.is_infra_error


def test_infra_errors_are_retried_then_reported_as_infra() -> None:
    fail = CallFailure(FailureKind.INFRA, "refused")
    call, _ = scripted(fail, fail, fail, REPLY)
    slept: list[float] = []
    result = call_with_retries(call, settings(), sleep=slept.append, rng=random.Random(1))
    assert result.value is None and result.is_infra_error and result.tries == 3
    assert [(r.kind, r.message) for r in result.retries] == [(FailureKind.INFRA, "refused")] * 2
    assert [r.delay_s for r in result.retries] == [round(d, 3) for d in slept]
    assert len(slept) == 2 and 0.75 <= slept[0] <= 1.25 and 1.5 <= slept[1] <= 2.5


def test_infra_recovers() -> None:
    fail = CallFailure(FailureKind.INFRA, "reset")
    call, _ = scripted(fail, REPLY)
    result = call_with_retries(call, settings(), sleep=lambda s: None)
    assert result.value is REPLY and result.tries == 2


def test_context_refusal_is_retried_once_then_the_models_outcome() -> None:
    fail = CallFailure(FailureKind.CONTEXT, "400 exceeds the available context")
    call, calls = scripted(fail, fail, REPLY)
    result = call_with_retries(call, settings(), sleep=lambda s: None)
    assert result.value is None and not result.is_infra_error and len(calls) == 2


def test_timeout_twice_is_the_models_outcome() -> None:
    fail = CallFailure(FailureKind.TIMEOUT, "no answer")
    call, calls = scripted(fail, fail)
    result = call_with_retries(call, settings(), sleep=lambda s: None)
    assert result.failure is fail and not result.is_infra_error and len(calls) == 2


def test_loading_waits_until_the_deadline() -> None:
    now = [0.0]
    fail = CallFailure(FailureKind.LOADING, "503 Loading model")
    call, calls = scripted(*([fail] * 100))

    def sleep(s: float) -> None:
        now[0] += 3.0

    result = call_with_retries(call, settings(), sleep=sleep, clock=lambda: now[0])
    assert result.is_infra_error and result.failure is fail
    assert len(calls) == 5  # t = 0, 3, 6, 9 retried; at 12 >= 10 it gives up


def test_backoff_is_capped() -> None:
    s = Settings(infra_backoff_s=2.0, infra_backoff_max_s=5.0)
    assert backoff_s(s, 10, random.Random(0)) <= 5.0 * 1.25


def test_other_exceptions_are_not_retried() -> None:
    calls: list[int] = []

    def call() -> ChatReply:
        calls.append(1)
        raise KeyError("a bug of ours")

    try:
        call_with_retries(call, settings(), sleep=lambda s: None)
    except KeyError:
        pass
    else:
        raise AssertionError("the policy swallowed an unexpected exception")
    assert calls == [1]


def test_any_classified_failure_follows_the_same_policy() -> None:
    """Sandbox starts raise a plain Failure(INFRA): same retries, same back-off."""
    fail = Failure(FailureKind.INFRA, "sandbox: daemon down")
    steps = [fail, fail, "report"]

    def call() -> str:
        step = steps.pop(0)
        if isinstance(step, Failure):
            raise step
        return step

    slept: list[float] = []
    result = call_with_retries(call, settings(), sleep=slept.append, rng=random.Random(2))
    assert result.value == "report" and result.tries == 3 and len(slept) == 2
