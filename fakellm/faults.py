"""Scripted misbehaviour of the fake server, to test how clients cope with a real one's.

A `FaultPlan` is an ordered list of `FaultRule`s. Each valid chat-completion request (and
only those: health checks, malformed bodies and requests refused while loading never
consume a rule) is numbered from 1 in order of arrival; the first rule that matches it
decides what goes wrong; no match means a normal answer. A rule matches when *all* of its
given criteria hold:

- `nth`: the request's number (an int, or a tuple of ints);
- `level`: the challenge level detected in the prompt ("L1".."L5");
- `probability`: a draw from the plan's own RNG, seeded, so a run is reproducible;
- `times`: the rule fires at most this many times, then stops matching.

A rule with no criteria matches every request. The fault happens once the request holds a
slot, as if the model had started on it. Examples::

    FaultPlan([FaultRule(HttpError.context_shift_disabled(), nth=1)])    # first call fails
    FaultPlan([FaultRule(Drop(), level="L2", times=1)])                  # L2 dropped once
    FaultPlan([FaultRule(Delay(30), probability=0.1)], seed=7)           # 10 % stall 30 s
    FaultPlan([FaultRule(Hang())])                                      # every call hangs

For a server that answers nothing at all, `/health` included (a hung process or host), see
`FakeLlamaServer(hang=True)` and `set_hanging()`: that is the server's state, not a fault
of one request.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class HttpError:
    """Answer with this HTTP status and llama.cpp's error body (for streams: an error event)."""

    status: int
    message: str
    type: str = "server_error"

    @classmethod
    def context_shift_disabled(cls) -> HttpError:
        """What `--no-context-shift` gives when generation reaches the end of the context."""
        return cls(500, "context shift is disabled", "server_error")

    @classmethod
    def exceeds_context(cls) -> HttpError:
        """What `--no-context-shift` gives for a prompt longer than the slot's context."""
        return cls(
            400,
            "the request exceeds the available context size, try increasing it",
            "invalid_request_error",
        )


@dataclass(frozen=True)
class Drop:
    """Close the connection without answering.

    `reset=False` closes it cleanly (the client reads end-of-stream: "server disconnected");
    `reset=True` aborts it with a TCP reset (the client gets "connection reset by peer").
    """

    reset: bool = False


@dataclass(frozen=True)
class Delay:
    """Stall `seconds` before answering normally, e.g. longer than the client's timeout."""

    seconds: float


@dataclass(frozen=True)
class Hang:
    """Accept the request, take a slot and never answer: a model stuck on this request.

    Unlike a long `Delay` it never ends by itself; it ends when the client goes away (the
    slot is then free for the next request, so one stuck request does not also block every
    later one) or when the server stops. The connection is then closed without an answer.
    """


@dataclass(frozen=True)
class EmptyAnswer:
    """Answer normally but with empty content (finish "stop"), as a model may."""


@dataclass(frozen=True)
class Truncate:
    """Cut the answer at `tokens` tokens (default: half of it), finish "length"."""

    tokens: int | None = None

    def cut_at(self, answer_tokens: int) -> int:
        """How many tokens to keep from an answer of `answer_tokens` tokens."""
        return self.tokens if self.tokens is not None else max(1, answer_tokens // 2)


Fault = HttpError | Drop | Delay | Hang | EmptyAnswer | Truncate


@dataclass(frozen=True)
class FaultRule:
    """One scripted fault and the requests it hits (see the module docstring)."""

    fault: Fault
    nth: int | tuple[int, ...] | None = None
    level: str | None = None
    probability: float | None = None
    times: int | None = None

    def __post_init__(self) -> None:
        if self.probability is not None and not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be within [0, 1]")
        if self.times is not None and self.times < 0:
            raise ValueError("times must be >= 0")


class FaultPlan:
    """The rules, plus the state they need (RNG, firing counts); safe to use from threads."""

    def __init__(self, rules: list[FaultRule] | tuple[FaultRule, ...] = (), seed: int = 0) -> None:
        self._rules = tuple(rules)
        self._fired = [0] * len(self._rules)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        """The rules, in order of precedence."""
        return self._rules

    def pick(self, nth: int, level: str | None) -> Fault | None:
        """Return the fault for chat request number `nth` (1-based) of `level`, if any.

        Rules are tried in order; a rule's probability draw is only made when its other
        criteria hold, so adding an unrelated rule does not shift the random sequence of
        requests it never concerns.
        """
        with self._lock:
            for i, rule in enumerate(self._rules):
                if rule.times is not None and self._fired[i] >= rule.times:
                    continue
                if rule.nth is not None:
                    wanted = (rule.nth,) if isinstance(rule.nth, int) else rule.nth
                    if nth not in wanted:
                        continue
                if rule.level is not None and rule.level != level:
                    continue
                if rule.probability is not None and self._rng.random() >= rule.probability:
                    continue
                self._fired[i] += 1
                return rule.fault
        return None
