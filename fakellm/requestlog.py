"""A record of every request the fake server received, for tests to assert on.

Tests check queueing and retries from this log (who started when, who waited for whom)
rather than from their own clocks. Times are wall-clock (`time.time()`), so records written
by a server in another process (`--log-requests`, JSON lines) compare with the test's own.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from fakellm.payloads import json_text


@dataclass
class RequestRecord:
    """One HTTP request and what became of it."""

    index: int
    """1-based arrival number among all requests."""
    method: str
    path: str
    """Path as requested, query string included."""
    body: Any
    """Parsed JSON body, or None (no body, or not JSON)."""
    received_at: float
    started_at: float | None = None
    """When a chat request got its slot (None for other requests or when it never did)."""
    finished_at: float | None = None
    """When a chat request gave its slot back (its answer is written just after)."""
    answered_at: float | None = None
    """When the answer was about to be written out, or the connection dropped."""
    status: int | None = None
    """HTTP status sent; None when the connection was dropped without an answer."""
    level: str | None = None
    """Challenge level detected in a chat request's prompt."""
    fault: str | None = None
    """Name of the fault injected into this request, if any (e.g. "Drop")."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything else worth knowing (e.g. the error message, the finish reason)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)


class RequestLog:
    """Thread-safe list of `RequestRecord`s, optionally mirrored to a JSON-lines file.

    A record is appended when the request arrives, and completed (`answered_at` set, line
    written to the file) just *before* the last bytes of its answer go out, or when its
    connection is dropped. So a client that has its answer always finds the request complete
    in the log, in this process or in the file. Only a client that went away after that is
    noted later (`extra["client_gone"]`), in memory.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self._records: list[RequestRecord] = []
        self._count = 0
        self._completed: set[int] = set()
        self._lock = threading.Lock()
        self._path = Path(path) if path is not None else None
        self._file = self._path.open("a", encoding="utf-8") if self._path else None

    def new(self, method: str, path: str, received_at: float) -> RequestRecord:
        """Create, number and append a record in one step."""
        with self._lock:
            self._count += 1
            record = RequestRecord(self._count, method, path, None, received_at)
            self._records.append(record)
            return record

    def complete(self, record: RequestRecord) -> None:
        """Mark `record` answered now and write it to the file; later calls do nothing."""
        with self._lock:
            if record.index in self._completed:
                return
            self._completed.add(record.index)
            record.answered_at = time.time()
            if self._file is not None and not self._file.closed:
                self._file.write(json_text(record.to_dict()))
                self._file.write("\n")
                self._file.flush()

    def snapshot(self) -> list[RequestRecord]:
        """Copies of all records so far, in arrival order."""
        with self._lock:
            return [replace(r, extra=dict(r.extra)) for r in self._records]

    def close(self) -> None:
        """Close the file, if any."""
        with self._lock:
            if self._file is not None:
                self._file.close()
