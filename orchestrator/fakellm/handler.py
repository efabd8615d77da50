"""HTTP plumbing of the fake server: routing, the loading gate, writing answers.

HTTP/1.1 with keep-alive, like llama-server (its clients keep connections open), so every
answer carries a Content-Length, and streams use chunked transfer encoding.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import struct
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from orchestrator.fakellm.chat import serve_chat
from orchestrator.fakellm.payloads import health_body, models_body, props_body
from orchestrator.fakellm.protocol import (
    ApiError,
    auth_error,
    loading_error,
    not_found_error,
    not_supported_error,
)
from orchestrator.fakellm.requestlog import RequestRecord

if TYPE_CHECKING:
    from orchestrator.fakellm.server import FakeLlamaServer

logger = logging.getLogger(__name__)

CHAT_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
#: Paths that need no API key (as in llama-server).
PUBLIC_PATHS = frozenset({"/health", "/v1/health", "/models", "/v1/models"})

#: Errors meaning the client went away (reset, broken pipe, timeout): not the server's problem.
CLIENT_GONE = OSError


def _json_or_none(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


class FakeLlamaHandler(BaseHTTPRequestHandler):
    """One connection; `self.server.app` is the `FakeLlamaServer` it belongs to."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in separate writes

    _record: RequestRecord
    _streaming: bool = False

    @property
    def app(self) -> FakeLlamaServer:
        """The fake server whose state this handler serves."""
        return self.server.app  # type: ignore[attr-defined,no-any-return]

    # --- connection lifecycle -------------------------------------------------------------

    def setup(self) -> None:
        """Register the connection, so `stop()` can close it."""
        super().setup()
        self.app.track_connection(self.connection, add=True)

    def finish(self) -> None:
        """Unregister the connection."""
        try:
            super().finish()
        except CLIENT_GONE:
            pass
        finally:
            self.app.track_connection(self.connection, add=False)

    def version_string(self) -> str:
        """The `Server` header, as llama-server sends it."""
        return "llama.cpp"

    def log_message(self, format: str, *args: Any) -> None:
        """Route http.server's access log to logging instead of stderr."""
        logger.debug("%s %s", self.address_string(), format % args)

    # --- dispatch -------------------------------------------------------------------------

    def do_GET(self) -> None:
        """All methods share one dispatcher, as routing is by path and method together."""
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        app = self.app
        self._streaming = False
        self._record = app.request_log.new(self.command, self.path, time.time())
        try:
            raw = self._read_body()
            self._record.body = _json_or_none(raw)
            self._route(raw)
        except CLIENT_GONE as exc:
            logger.debug("client went away: %s", exc)
            self._record.extra["client_gone"] = True
            self.close_connection = True
        finally:
            app.request_log.complete(self._record)

    def _read_body(self) -> bytes:
        """The body by Content-Length (all real clients send one).

        A chunked or unreadable body is taken as empty (so a chat request is refused), and
        the connection is closed after the answer, since its leftover bytes would otherwise
        be read as the next request.
        """
        if "Transfer-Encoding" in self.headers:
            self.close_connection = True
            return b""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            return b""
        return self.rfile.read(length) if length > 0 else b""

    def _route(self, raw: bytes) -> None:
        app = self.app
        path = urlsplit(self.path).path
        method = self.command
        if app.loading:
            self._send_error(loading_error())
            return
        if app.api_key is not None and path not in PUBLIC_PATHS and not self._authorised():
            self._send_error(auth_error())
            return
        if method == "POST" and path in CHAT_PATHS:
            serve_chat(app.chat_context, self, self._record, raw)
        elif method == "GET" and path in ("/health", "/v1/health"):
            self.send_json(200, health_body())
        elif method == "GET" and path in ("/models", "/v1/models"):
            self.send_json(200, models_body(app.model_alias, app.created))
        elif method == "GET" and path == "/props":
            self.send_json(
                200,
                props_body(
                    alias=app.model_alias,
                    total_slots=app.slots,
                    n_ctx=app.n_ctx,
                    build_info=app.build_info,
                ),
            )
        elif method == "GET" and path == "/slots":
            self._send_error(not_supported_error("slots", "--slots"))
        elif method == "GET" and path == "/metrics":
            self._send_error(not_supported_error("metrics", "--metrics"))
        else:
            self._send_error(not_found_error())

    def _authorised(self) -> bool:
        auth = self.headers.get("Authorization", "")
        key = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        key = key or self.headers.get("X-Api-Key")
        return key == self.app.api_key

    def _send_error(self, err: ApiError) -> None:
        self._record.extra["error"] = err.message
        self.send_json(err.status, err.body())

    # --- Responder (see chat.Responder) ---------------------------------------------------

    def send_json(self, status: int, body: dict[str, Any]) -> None:
        """Send a complete JSON answer (compact, UTF-8, like llama-server)."""
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self._record.status = status
        self.app.request_log.complete(self._record)  # before the client can see the answer
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def start_stream(self) -> None:
        """200 and event-stream headers; the body follows in chunks."""
        self._record.status = 200
        self._streaming = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def send_event(self, data: str, event: str = "data") -> None:
        """One server-sent event, as one HTTP chunk."""
        if data == "[DONE]":  # always the last event: complete the record before it goes
            self.app.request_log.complete(self._record)
        payload = f"{event}: {data}\n\n".encode()
        self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
        self.wfile.flush()

    def end_stream(self) -> None:
        """The last (empty) chunk."""
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def drop(self, reset: bool) -> None:
        """Close the connection without answering (or mid-stream)."""
        self._record.extra["dropped"] = "reset" if reset else "closed"
        if not self._streaming:
            self._record.status = None
        self.app.request_log.complete(self._record)
        self.close_connection = True
        try:
            if reset:
                # Linger 0 makes close() abort with RST; detach so the fd closes right now,
                # whatever references the buffered reader still holds.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                os.close(self.connection.detach())
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError as exc:
            logger.debug("dropping connection: %s", exc)
