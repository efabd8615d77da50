"""How endpoint logic answers over HTTP: the `Responder` interface `handler.py` implements.

Endpoints (`routes.py`, `chat.py`) decide *what* to answer; the handler does the writing, so
the two can be read (and tested) apart.
"""

from __future__ import annotations

from typing import Any, Protocol

from fakellm.protocol import ApiError
from fakellm.requestlog import RequestRecord


class Responder(Protocol):
    """The answer side of one HTTP request."""

    def send_json(self, status: int, body: dict[str, Any] | list[Any]) -> None:
        """Send a complete JSON answer."""
        ...

    def start_stream(self) -> None:
        """Send 200 and the headers of a server-sent-event stream."""
        ...

    def send_event(self, data: str, event: str = "data") -> None:
        """Send one `event: data` line of the stream."""
        ...

    def end_stream(self) -> None:
        """End the stream (the connection stays usable)."""
        ...

    def drop(self, reset: bool) -> None:
        """Close the connection without (further) answer; `reset` aborts it with a TCP RST."""
        ...

    def client_gone(self) -> bool:
        """Whether the client has closed (or reset) its end of the connection."""
        ...


def send_error(out: Responder, record: RequestRecord, err: ApiError) -> None:
    """Answer with llama-server's error body, noting the message in the request's record."""
    record.extra["error"] = err.message
    out.send_json(err.status, err.body())
