"""Router mode: one endpoint, several models loaded on demand, at most `models_max` at once.

As llama.cpp's server started without `-m` and with `--models-dir` (docs/llama-server.md):
a request is routed by its `model` field; a model not loaded yet is loaded first (its
`ModelSpec.load_s`), the least recently used one unloaded when `models_max` are loaded
(its running requests end); `GET /models` lists every model with its status, `POST
/models/load` and `POST /models/unload` do it explicitly, a model it does not know is
`400 model '…' not found`, and `/props` describes the router, not a model (no slots).
The `llama-swap` flavour is the proxy of that name in front of plain servers: it loads on
the first request for a model, lists what runs at `GET /running`, unloads everything at
`POST /unload`, and has no `/models/load`.

`loads` records every load (which model, when it began, when it was ready, when it was
unloaded), so tests and benchmarks can count swaps.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from fakellm.dialect import Dialect
from fakellm.model import ModelServer, ModelSpec

LOADED, LOADING, UNLOADED = "loaded", "loading", "unloaded"
FLAVOURS = ("router", "llama-swap")


@dataclass(frozen=True)
class RouterSpec:
    """The models a router serves, by the name requests use, and how many fit at once."""

    models: dict[str, ModelSpec]
    models_max: int = 4
    flavour: str = "router"

    def __post_init__(self) -> None:
        if not self.models:
            raise ValueError("a router needs at least one model")
        if self.models_max < 1:
            raise ValueError("models_max must be >= 1")
        if self.flavour not in FLAVOURS:
            raise ValueError(f"flavour must be one of {', '.join(FLAVOURS)}")


@dataclass
class Load:
    """One load of one model."""

    model: str
    started_at: float
    ready_at: float | None = None
    unloaded_at: float | None = None


@dataclass
class Router:
    """The live state of a router: which models are loaded, in least-recently-used order."""

    spec: RouterSpec
    dialect: Dialect
    loads: list[Load] = field(default_factory=list)
    _servers: OrderedDict[str, tuple[ModelServer, Load]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def status(self, name: str) -> str:
        with self._lock:
            held = self._servers.get(name)
        if held is None:
            return UNLOADED
        return LOADING if held[0].loading else LOADED

    def loaded(self) -> list[str]:
        """Models loaded or loading, least recently used first."""
        with self._lock:
            return list(self._servers)

    def model(self, name: str) -> ModelServer | None:
        """The model `name`, loaded first if need be (waiting while it loads); None for a
        model the router does not know, or one unloaded while it was loading."""
        spec = self.spec.models.get(name)
        if spec is None:
            return None
        with self._lock:
            held = self._servers.get(name)
            if held is None:
                while len(self._servers) >= self.spec.models_max:
                    self._unload_locked(next(iter(self._servers)))
                server = ModelServer(spec, self.dialect)
                server.start_loading()
                held = self._servers[name] = (server, Load(name, time.time()))
                self.loads.append(held[1])
            self._servers.move_to_end(name)
        server, load = held
        while server.loading:
            if not server.pause(0.01):
                return None
        if load.ready_at is None:
            load.ready_at = time.time()
        return server

    def unload(self, name: str) -> bool:
        """Unload `name` (its running requests end); False if it was not loaded."""
        with self._lock:
            if name not in self._servers:
                return False
            self._unload_locked(name)
            return True

    def unload_all(self) -> None:
        with self._lock:
            for name in list(self._servers):
                self._unload_locked(name)

    def _unload_locked(self, name: str) -> None:
        server, load = self._servers.pop(name)
        load.unloaded_at = time.time()
        server.stop()
