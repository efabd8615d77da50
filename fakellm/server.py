"""`FakeLlamaServer`: a stand-in for llama.cpp's llama-server, speaking real HTTP on loopback.

Tests, the demo and benchmarks run the real client code against it: same endpoints, same
JSON shapes and statuses as build b4748 (see docs/llama-server.md), a loading phase, a fixed
number of slots with an unbounded FIFO queue, simulated generation time, scripted faults,
a "hanging" state (connections accepted, nothing answered, as a hung process or host), and
a log of every request received. `/apply-template` renders a ChatML template and
`/tokenize` counts its fake tokens, exactly as `usage.prompt_tokens` does; a prompt as long
as the slot's context or longer is cut as b4748's context shift does (or refused with a
400, `context_shift=False` or the late-2025 dialect). What it does not do: /completion,
/detokenize and the other native endpoints (404), prompt caching (`timings.prompt_n` always
equals `usage.prompt_tokens`), the web UI.
With `api_key` it guards every path but /health, /models and /v1/models, as b4748 does; a
refused request (401, or 503 while loading) leaves that connection answering empty 400s
(`Dialect.leaves_refused_body_unread`).

Streaming (`"stream": true`) is served minimally, in b4748's shape: no role chunk, one
chunk per token, usage and timings on the final chunk, then `data: [DONE]`.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from fakellm.answers import AnswerSource
from fakellm.dialect import get_dialect
from fakellm.faults import FaultPlan
from fakellm.handler import FakeLlamaHandler
from fakellm.latency import LatencyModel
from fakellm.model import ModelServer, ModelSpec
from fakellm.requestlog import RequestLog, RequestRecord
from fakellm.router import Router, RouterSpec

logger = logging.getLogger(__name__)

#: The fake binds loopback only: it is for tests, the demo and benchmarks on one machine.
HOST = "127.0.0.1"


class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its fake server and logs instead of printing."""

    daemon_threads = True
    request_queue_size = 128  # many clients may connect at once; they queue for slots

    def __init__(self, address: tuple[str, int], app: FakeLlamaServer) -> None:
        self.app = app
        super().__init__(address, FakeLlamaHandler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse-DNS lookup of the host (slow on some hosts)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A handler crashed: log it (http.server would print to stderr)."""
        logger.exception("fake llama-server: error while handling %s", client_address)


class FakeLlamaServer:
    """A fake llama-server serving one model on a background thread; see the module docstring.

    `answers`, `alias`, `slots`, `n_ctx`, `context_shift`, `load_s`, `latency` and `faults`
    describe the model (see `ModelSpec`; it is `model` once built). `dialect` names the
    llama-server build to imitate (see `dialect.DIALECTS`). The model is "loading" (every
    endpoint 503) for `load_s` seconds after `start()`, and whenever `set_loading(True)` says
    so. While `hang` (or `set_hanging(True)`) says so, it accepts connections and reads requests
    but answers none, `/health` included, like a process that is stuck or stopped (SIGSTOP):
    each request waits until the hang ends (then it is answered), its client goes away or the
    server stops. `log_path` mirrors `requests` to a JSON-lines file. With `router`, it is a
    router (or llama-swap) serving the models of that spec instead (`router.py`).
    """

    def __init__(
        self,
        answers: AnswerSource,
        *,
        port: int = 0,
        dialect: str = "b4748",
        alias: str = "fake-model",
        slots: int = 1,
        n_ctx: int = 32768,
        context_shift: bool | None = None,
        load_s: float = 0.0,
        latency: LatencyModel | None = None,
        faults: FaultPlan | None = None,
        hang: bool = False,
        log_path: str | Path | None = None,
        api_key: str | None = None,
        router: RouterSpec | None = None,
    ) -> None:
        spec = ModelSpec(
            answers,
            alias=alias,
            slots=slots,
            n_ctx=n_ctx,
            context_shift=context_shift,
            load_s=load_s,
            latency=latency if latency is not None else LatencyModel(),
            faults=faults if faults is not None else FaultPlan(),
        )
        self.dialect = get_dialect(dialect)
        self.model = ModelServer(spec, self.dialect)
        self.router = Router(router, self.dialect) if router is not None else None
        """Router mode (`router.py`): the models behind this endpoint; `model` then only
        stands for the router process itself (its loading and hanging states)."""
        self.request_log = RequestLog(log_path)
        self.api_key = api_key
        """Like `--api-key`: requests other than `PUBLIC_PATHS` need `Bearer <key>`."""
        self._requested_port = port
        self._hanging = hang
        self._stopped = False
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._handler_threads: set[threading.Thread] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeLlamaServer:
        """Bind and serve on a background thread; returns once the socket is listening."""
        if self._httpd is not None:
            raise RuntimeError("FakeLlamaServer can be started only once")
        self.model.start_loading()
        self._httpd = _HTTPServer((HOST, self._requested_port), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fakellm-{self.port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("fake llama-server listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving: wake every waiting or "generating" request, close all connections."""
        if self._httpd is None or self._stopped:
            self.request_log.close()
            return
        self._stopped = True
        self.model.stop()
        if self.router is not None:
            self.router.unload_all()
        self._httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
            threads = list(self._handler_threads)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout=2.0)
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self.request_log.close()
        logger.info("fake llama-server on port %s stopped", self.port)

    def __enter__(self) -> FakeLlamaServer:
        if self._httpd is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- addresses ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port actually bound (after `start()`)."""
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Root URL, e.g. http://127.0.0.1:PORT (where /health and /props live)."""
        return f"http://{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        """OpenAI base URL: the root plus "/v1"."""
        return self.url + "/v1"

    # --- state ----------------------------------------------------------------------------

    def set_loading(self, loading: bool) -> None:
        """Force the model's loading state on, or end it now (see `ModelServer.set_loading`)."""
        self.model.set_loading(loading)

    @property
    def hanging(self) -> bool:
        """True while no request is answered (see the class docstring)."""
        return self._hanging

    def set_hanging(self, hanging: bool) -> None:
        """Start hanging, or end it: requests held so far are then answered as usual."""
        self._hanging = hanging

    @property
    def requests(self) -> list[RequestRecord]:
        """Copies of all requests received so far, in arrival order."""
        return self.request_log.snapshot()

    def track_connection(self, conn: socket.socket, *, add: bool) -> None:
        """Remember open connections and their threads, so `stop()` can end them."""
        thread = threading.current_thread()
        with self._lock:
            if add:
                self._connections.add(conn)
                self._handler_threads.add(thread)
            else:
                self._connections.discard(conn)
                self._handler_threads.discard(thread)
