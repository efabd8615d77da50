"""One retry policy for everything a unit asks of the outside world (docs/architecture.md).

- Loading (503 "Loading model"): wait, up to `loading_wait_s` in all.
- Infrastructure (connection refused or reset, 5xx, the Docker daemon failing): tried again
  with exponential back-off and jitter, `infra_retries` times; then it is our failure.
- The model's own refusal of this input (context exceeded) or a timeout: tried once more;
  the second time it is the model's outcome.
Model calls and sandbox starts both go through `call_with_retries`.
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from worker.settings import Settings

T = TypeVar("T")


class FailureKind(StrEnum):
    LOADING = "loading"
    """503 "Loading model": wait, the server is starting."""
    INFRA = "infra"
    """Connection refused/reset, other 5xx, auth or path errors, Docker: not the model's doing."""
    CONTEXT = "context"
    """The server refuses this very input (context exceeded, context shift disabled)."""
    TIMEOUT = "timeout"
    """No answer within the model's timeout."""

    @property
    def is_ours(self) -> bool:
        """Infrastructure: never scored, the iteration stays incomplete."""
        return self in (FailureKind.LOADING, FailureKind.INFRA)


class Failure(Exception):
    """A classified failure of one try."""

    def __init__(self, kind: FailureKind, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        """The HTTP status of the refusal, when there was one."""


@dataclass(frozen=True)
class Retry:
    """One try that failed and was tried again."""

    kind: FailureKind
    message: str
    delay_s: float
    status: int | None = None


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """The value of the last try, or the failure that ended the tries."""

    value: T | None
    failure: Failure | None
    tries: int
    retries: list[Retry] = field(default_factory=list)

    @property
    def is_infra_error(self) -> bool:
        return self.failure is not None and self.failure.kind.is_ours


def backoff_s(settings: Settings, retry: int, rng: random.Random) -> float:
    """Back-off before retry number `retry` (1-based): doubling, capped, with ±25% jitter."""
    base = min(settings.infra_backoff_s * 2.0 ** (retry - 1), settings.infra_backoff_max_s)
    return float(base * rng.uniform(0.75, 1.25))


def call_with_retries(
    call: Callable[[], T],
    settings: Settings,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
    on_retry: Callable[[Retry], None] | None = None,
) -> Outcome[T]:
    """Call until it succeeds or the policy gives up; only `Failure` is caught."""
    rng = rng or random.Random()
    started = clock()
    retries: list[Retry] = []
    infra_retries = 0
    model_retries = 0
    while True:
        try:
            return Outcome(call(), None, len(retries) + 1, retries)
        except Failure as failure:
            if failure.kind is FailureKind.LOADING:
                if clock() - started >= settings.loading_wait_s:
                    return Outcome(None, failure, len(retries) + 1, retries)
                delay = min(5.0, max(settings.infra_backoff_s, 0.0))
            elif failure.kind is FailureKind.INFRA:
                if infra_retries >= settings.infra_retries:
                    return Outcome(None, failure, len(retries) + 1, retries)
                infra_retries += 1
                delay = backoff_s(settings, infra_retries, rng)
            else:
                if model_retries >= 1:
                    return Outcome(None, failure, len(retries) + 1, retries)
                model_retries += 1
                delay = 0.0
            retry = Retry(failure.kind, failure.message, round(delay, 3), failure.status)
            retries.append(retry)
            if on_retry:
                on_retry(retry)
            sleep(delay)
