"""HTTP plumbing of the fake server: reading requests, writing answers (a `Responder`).

What to answer is decided in `routes.py` (and `chat.py`).

HTTP/1.1 with keep-alive, like llama-server (its clients keep connections open), so every
answer carries a Content-Length, and streams use chunked transfer encoding.
"""

from __future__ import annotations

import json
import logging
import os
import select
import socket
import struct
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fakellm.payloads import json_text
from fakellm.requestlog import RequestRecord
from fakellm.routes import route

if TYPE_CHECKING:
    from fakellm.server import FakeLlamaServer

logger = logging.getLogger(__name__)

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
    _desynced: bool = False
    """This connection carried a refused request whose body the server "left unread"
    (`Dialect.leaves_refused_body_unread`): every later request on it gets an empty 400."""

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
            if self._desynced:
                self._answer_desynced()
                return
            route(app, self, self._record, self.command, urlsplit(self.path).path, raw,
                  self.headers.get("Authorization"))
            self._desynced = bool(raw) and bool(self._record.extra.get("refused_unread"))
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

    def _answer_desynced(self) -> None:
        """What b4748 answers when it parses a refused request's body as a request."""
        self._record.extra["desynced"] = True
        self._record.status = 400
        self.app.request_log.complete(self._record)
        self.send_response(400)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.wfile.flush()

    # --- Responder (see responder.py) -----------------------------------------------------

    def send_json(self, status: int, body: dict[str, Any] | list[Any]) -> None:
        """Send a complete JSON answer (compact, UTF-8, like llama-server)."""
        data = json_text(body).encode("utf-8")
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

    def client_gone(self) -> bool:
        """Whether the client closed or reset the connection (peeks; never blocks)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):  # reset, or already closed
            return True
