"""The runner's side of its socketpair with the launcher (launcher.py), stdlib only.

The runner (trusted uid) cannot change uids or sign reports; it asks the launcher, which
can, through the one socket it inherited (fd in JQBENCH_LAUNCHER_FD, 3 by default).
"""

import json
import os
import socket
import threading
from typing import Any

ANSWER_LIMIT = 1 << 16


class LauncherError(RuntimeError):
    """The launcher refused a request, or is gone."""


class LauncherLink:
    def __init__(self, fd: int | None = None) -> None:
        fd = int(os.environ.get("JQBENCH_LAUNCHER_FD", "3")) if fd is None else fd
        self._sock = socket.socket(fileno=fd)
        self._lock = threading.Lock()  # one request at a time: answers come in order

    def _ask(self, request: dict[str, Any], fds: list[int] | None = None) -> dict[str, Any]:
        data = json.dumps(request).encode()
        with self._lock:
            try:
                socket.send_fds(self._sock, [data], fds or [])
                answer = self._sock.recv(ANSWER_LIMIT)
            except OSError as exc:
                raise LauncherError(f"the launcher is gone: {exc}") from None
        if not answer:
            raise LauncherError("the launcher is gone")
        parsed: dict[str, Any] = json.loads(answer)
        if "error" in parsed:
            raise LauncherError(str(parsed["error"]))
        return parsed

    def spawn(self, slot: int, channel: socket.socket, folder: str,
              module: str = "job_queue", nice: int = 0) -> tuple[int, int]:
        """Start a candidate host for slot `slot` on `channel` (the caller then closes its
        copy of that end), at the test's niceness; the host's pid and uid."""
        answer = self._ask({"op": "spawn", "slot": slot, "dir": folder, "module": module,
                            "nice": nice}, [channel.fileno()])
        return int(answer["pid"]), int(answer["uid"])

    def sweep(self, slot: int) -> int:
        """Kill every task of slot `slot`'s uid; how many survived (0: reusable)."""
        return int(self._ask({"op": "sweep", "slot": slot})["survivors"])

    def report(self, body: str) -> None:
        """Hand the report to the launcher, which signs and prints it (once per run)."""
        self._ask({"op": "report", "body": body})
