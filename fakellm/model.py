"""One model behind the server: what it is told (`ModelSpec`) and its live state (`ModelServer`).

Kept apart from HTTP so that a server can hold several: a router (one endpoint, models
loaded on demand, the least recently used unloaded) creates a `ModelServer` per load and
`stop()`s it on unload; a plain llama-server, as now, holds exactly one.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from fakellm.answers import AnswerSource
from fakellm.dialect import Dialect
from fakellm.faults import FaultPlan
from fakellm.latency import LatencyModel
from fakellm.slots import SlotPool


@dataclass(frozen=True)
class ModelSpec:
    """A model as llama-server is started with it.

    `alias` is `--alias` (its id in /v1/models; chat answers echo the request's own `model`
    field instead); `slots` is `--parallel`; `n_ctx` is the per-slot context reported in
    `/props.default_generation_settings.n_ctx`; `load_s` is how long it answers 503 "Loading
    model" once loading starts; `context_shift` None follows the dialect (False is
    `--no-context-shift`).
    """

    answers: AnswerSource
    alias: str = "fake-model"
    slots: int = 1
    n_ctx: int = 32768
    load_s: float = 0.0
    latency: LatencyModel = field(default_factory=LatencyModel)
    faults: FaultPlan = field(default_factory=FaultPlan)
    context_shift: bool | None = None

    def __post_init__(self) -> None:
        if self.slots < 1:
            raise ValueError("slots must be >= 1")
        if self.load_s < 0:
            raise ValueError("load_s must be >= 0")


class ModelServer:
    """A loaded (or loading) model: its loading phase, slots and chat request numbering."""

    def __init__(self, spec: ModelSpec, dialect: Dialect) -> None:
        self.spec = spec
        self.dialect = dialect
        self.slots = SlotPool(spec.slots)
        self.created = int(time.time())
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._chat_count = 0
        self._ready_at = 0.0
        self._forced_loading = False
        self.context_shift = (dialect.context_shift if spec.context_shift is None
                              else spec.context_shift)

    def start_loading(self) -> None:
        """Begin the loading phase now: `loading` for `spec.load_s` seconds."""
        self._ready_at = time.monotonic() + self.spec.load_s

    @property
    def loading(self) -> bool:
        """True while every endpoint answers 503 "Loading model"."""
        return self._forced_loading or time.monotonic() < self._ready_at

    def set_loading(self, loading: bool) -> None:
        """Force the loading state on, or end it now (also cutting `load_s` short)."""
        self._forced_loading = loading
        if not loading:
            self._ready_at = 0.0

    def next_chat_number(self) -> int:
        """Number the next valid chat request (1, 2, ...), as fault rules count them."""
        with self._lock:
            self._chat_count += 1
            return self._chat_count

    def pause(self, seconds: float) -> bool:
        """Sleep, but wake when the model stops; return False if it did."""
        if seconds > 0:
            return not self._stopping.wait(seconds)
        return not self._stopping.is_set()

    def stop(self) -> None:
        """End every running and queued request (server stop, or unload)."""
        self._stopping.set()
        self.slots.close()
