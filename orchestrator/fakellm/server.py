"""`FakeLlamaServer`: a stand-in for llama.cpp's llama-server, speaking real HTTP on loopback.

Tests, the demo and benchmarks run the real client code against it: same endpoints, same
JSON shapes and statuses as build b4748 (see /work/shared/llama-server.md), a loading phase,
a fixed number of slots with an unbounded FIFO queue, simulated generation time, scripted
faults, and a log of every request received. What it does not do: /completion, /tokenize
and the other native endpoints (404), prompt caching (`timings.prompt_n` always equals
`usage.prompt_tokens`), context limits (a long prompt is accepted as by default; script a
`HttpError.exceeds_context()` fault to test the `--no-context-shift` refusal), the web UI.

Streaming (`"stream": true`) is served minimally, in b4748's shape: no role chunk, one
chunk per token, usage and timings on the final chunk, then `data: [DONE]`.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from orchestrator.fakellm.answers import AnswerSource
from orchestrator.fakellm.chat import ChatContext
from orchestrator.fakellm.faults import FaultPlan
from orchestrator.fakellm.handler import FakeLlamaHandler
from orchestrator.fakellm.latency import LatencyModel
from orchestrator.fakellm.requestlog import RequestLog, RequestRecord
from orchestrator.fakellm.slots import SlotPool

logger = logging.getLogger(__name__)


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


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6


class FakeLlamaServer:
    """A fake llama-server on a background thread; see the module docstring.

    `slots` is `--parallel`; `n_ctx` is the per-slot context reported in
    `/props.default_generation_settings.n_ctx`; `model_alias` is `--alias` (the model id of
    /v1/models); chat answers echo the request's own `model` field. The server is "loading"
    (every endpoint 503) for `load_s` seconds after `start()`, and whenever
    `set_loading(True)` says so. `api_key`, when set, is required as a Bearer token on all
    but /health and /models, as with `--api-key`. `log_path` mirrors `requests` to a
    JSON-lines file.
    """

    def __init__(
        self,
        answers: AnswerSource,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        slots: int = 1,
        model_alias: str = "fake-model",
        load_s: float = 0.0,
        latency: LatencyModel | None = None,
        faults: FaultPlan | None = None,
        build_info: str = "b4748-fake",
        n_ctx: int = 8192,
        api_key: str | None = None,
        log_path: str | Path | None = None,
    ) -> None:
        self.answers = answers
        self.host = host
        self._requested_port = port
        self.slots = slots
        self.model_alias = model_alias
        self.load_s = load_s
        self.latency = latency if latency is not None else LatencyModel()
        self.faults = faults if faults is not None else FaultPlan()
        self.build_info = build_info
        self.n_ctx = n_ctx
        self.api_key = api_key
        self.created = int(time.time())
        self.request_log = RequestLog(log_path)
        self._pool = SlotPool(slots)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._chat_count = 0
        self._forced_loading = False
        self._ready_at = 0.0
        self._connections: set[socket.socket] = set()
        self._handler_threads: set[threading.Thread] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeLlamaServer:
        """Bind and serve on a background thread; returns once the socket is listening."""
        if self._httpd is not None:
            raise RuntimeError("FakeLlamaServer can be started only once")
        server_class = _HTTPServer6 if ":" in self.host else _HTTPServer
        self._ready_at = time.monotonic() + self.load_s
        self._httpd = server_class((self.host, self._requested_port), self)
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
        if self._httpd is None or self._stopping.is_set():
            self.request_log.close()
            return
        self._stopping.set()
        self._pool.close()
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
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """OpenAI base URL: the root plus "/v1"."""
        return self.url + "/v1"

    # --- state ----------------------------------------------------------------------------

    @property
    def loading(self) -> bool:
        """True while every endpoint answers 503 "Loading model"."""
        return self._forced_loading or time.monotonic() < self._ready_at

    def set_loading(self, loading: bool) -> None:
        """Force the loading state on, or end it now (also cutting `load_s` short)."""
        self._forced_loading = loading
        if not loading:
            self._ready_at = 0.0

    @property
    def requests(self) -> list[RequestRecord]:
        """Copies of all requests received so far, in arrival order."""
        return self.request_log.snapshot()

    @property
    def chat_requests(self) -> list[RequestRecord]:
        """The chat-completion requests among `requests`."""
        return [r for r in self.requests if r.path.split("?")[0].endswith("/chat/completions")]

    @property
    def processing(self) -> int:
        """Chat requests holding a slot now."""
        return self._pool.processing

    @property
    def deferred(self) -> int:
        """Chat requests waiting for a slot now."""
        return self._pool.deferred

    @property
    def arrived(self) -> int:
        """Chat requests that reached the slot queue so far (waiting, running or done)."""
        return self._pool.arrived

    # --- used by the handler --------------------------------------------------------------

    @property
    def chat_context(self) -> ChatContext:
        """What the chat endpoint needs, read afresh per request (so `answers`, `faults`
        and `latency` may be swapped on a running server)."""
        return ChatContext(
            answers=self.answers,
            faults=self.faults,
            latency=self.latency,
            slots=self._pool,
            stopping=self._stopping,
            system_fingerprint=self.build_info,
            next_chat_number=self._next_chat_number,
        )

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

    def _next_chat_number(self) -> int:
        with self._lock:
            self._chat_count += 1
            return self._chat_count
