"""When to try a model call again, and when a failure becomes the model's outcome (DESIGN.md).

- Loading (503): wait, up to `loading_wait_s` in all.
- Infrastructure: retried with exponential back-off and jitter, `infra_retries` times.
- Context refused or timeout: retried once; the second time it is the model's outcome.
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from worker.llm import CallFailure, ChatReply, FailureKind
from worker.settings import Settings


@dataclass(frozen=True)
class CallResult:
    reply: ChatReply | None
    failure: CallFailure | None
    tries: int

    @property
    def is_infra_error(self) -> bool:
        return self.failure is not None and self.failure.kind in (
            FailureKind.INFRA,
            FailureKind.LOADING,
        )


def backoff_s(settings: Settings, retry: int, rng: random.Random) -> float:
    """Back-off before retry number `retry` (1-based): doubling, capped, with ±25% jitter."""
    base = min(settings.infra_backoff_s * 2 ** (retry - 1), settings.infra_backoff_max_s)
    return base * rng.uniform(0.75, 1.25)


def call_with_policy(
    call: Callable[[], ChatReply],
    settings: Settings,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
    on_retry: Callable[[CallFailure, float], None] | None = None,
) -> CallResult:
    rng = rng or random.Random()
    started = clock()
    tries = 0
    infra_retries = 0
    model_retries = 0
    while True:
        tries += 1
        try:
            return CallResult(call(), None, tries)
        except CallFailure as failure:
            if failure.kind is FailureKind.LOADING:
                if clock() - started >= settings.loading_wait_s:
                    return CallResult(None, failure, tries)
                delay = min(5.0, max(settings.infra_backoff_s, 0.0))
            elif failure.kind is FailureKind.INFRA:
                if infra_retries >= settings.infra_retries:
                    return CallResult(None, failure, tries)
                infra_retries += 1
                delay = backoff_s(settings, infra_retries, rng)
            else:
                if model_retries >= 1:
                    return CallResult(None, failure, tries)
                model_retries += 1
                delay = 0.0
            if on_retry:
                on_retry(failure, delay)
            sleep(delay)
