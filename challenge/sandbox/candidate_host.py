"""The candidate's side of the proxy: imports the answer and serves its JobQueue to a test.

    python3 -I candidate_host.py FD CANDIDATE_DIR [MODULE]

Runs under a candidate uid of its own (docs/trust-boundary.md) with one socketpair end on
fd FD and nothing else. It imports MODULE (default `job_queue`) from CANDIDATE_DIR and
answers the test's calls (channel.py):

    new    {"args": tagged list, "kwargs": tagged dict} -> {"ok": the queue's handle} or
           {"raised": tagged exception} (the answer failed to import, or its constructor raised)
    batch  [{"queue": tagged handle, "method": "add_job" | "get_result", "args", "kwargs"}]
           -> [{"ok": tagged} | {"raised": tagged exception}], run back to back on one
           thread, as a test's consecutive calls ran in the original
    close  -> None; the host then leaves with os._exit (stray threads cannot keep it alive)

An audit hook (audit.py) is in place before the answer is imported; each voiding event is
reported to the test's side ("audit") before the action it announces runs.
Job functions arrive as handles with their name and parameters and become stubs: calling
one calls back to the test's side ("job"), where the real function runs. A stub called in
a forked child refuses: the channel belongs to this process.
Nothing here decides a verdict; this process is as untrusted as the answer it imports.
"""

import importlib
import inspect
import itertools
import os
import socket
import sys
import threading
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE]
import audit  # noqa: E402 - beside this file
from channel import Channel  # noqa: E402
from wire import Decoder, Encoder, Handles, WireError  # noqa: E402

sys.path.remove(HERE)

METHODS = ("add_job", "get_result")
"""The only queue methods a test may call (the prompts' interface)."""
_NO_DEFAULT = inspect.Parameter.empty


class _Default:
    """Stands for a default value that could not cross; shows the original's repr."""

    def __init__(self, text: str) -> None:
        self._text = text

    def __repr__(self) -> str:
        return self._text


def make_signature(about: dict[str, Any]) -> inspect.Signature | None:
    params = []
    try:
        for item in about.get("params", []):
            default = (_NO_DEFAULT if not item.get("default")
                       else _Default(str(item["default"])))
            params.append(inspect.Parameter(str(item["name"]),
                                            inspect._ParameterKind(int(item["kind"])),
                                            default=default))
        return inspect.Signature(params)
    except (TypeError, ValueError, KeyError):
        return None


class Host:
    def __init__(self, sock: socket.socket,
                 queue_class: type | BaseException | None = None) -> None:
        self._queue_class = queue_class
        self._handles = Handles()
        self._pid = os.getpid()
        self._job_order = itertools.count()
        """Numbers the job calls as they happen (next() on a count is atomic in CPython), so
        the test's side can begin them in the order the queue's threads called them."""
        self.channel = Channel(sock, self._serve, name="candidate")
        self.closed = threading.Event()
        self.imported = threading.Event()
        """Set once the answer's module was imported (or failed to): "new" waits for it."""

    def encode(self, value: object) -> list[Any]:
        return Encoder(self._handles)(value)

    def decode(self, data: object) -> Any:
        return Decoder(own=self._handles, remote=self._stub)(data)

    def _stub(self, number: int, about: dict[str, Any]) -> Any:
        host = self

        def job(*args: Any, **kwargs: Any) -> Any:
            order = next(host._job_order)  # first thing: the order the queue called its jobs
            if os.getpid() != host._pid:
                raise RuntimeError("a job of the test cannot run in a forked process")
            answer = host.channel.call("job", {"fn": number, "order": order,
                                               "args": host.encode(list(args)),
                                               "kwargs": host.encode(kwargs)})
            if "raised" in answer:
                raise host.decode(answer["raised"])
            return host.decode(answer["ok"])

        job.__name__ = str(about.get("name", "job"))
        job.__qualname__ = str(about.get("qualname", job.__name__))
        signature = make_signature(about)
        if signature is not None:
            job.__signature__ = signature  # type: ignore[attr-defined]
        return job

    def _serve(self, op: str, body: Any) -> Any:
        if op == "new":
            self.imported.wait()
            if isinstance(self._queue_class, BaseException):
                return {"raised": self.encode(self._queue_class)}
            try:
                queue = self._queue_class(*self.decode(body["args"]),
                                          **self.decode(body["kwargs"]))
            except Exception as exc:
                return {"raised": self.encode(exc)}
            return {"ok": self.encode(queue)}
        if op == "batch":
            return [self._one(call) for call in body]
        if op == "close":
            self.closed.set()
            return None
        raise ValueError(f"unknown operation {op!r}")

    def report_audit(self, detail: str) -> None:
        """A voiding audit event: tell the test's side before the action runs. A forked
        child cannot use the channel; it ends itself instead."""
        if os.getpid() != self._pid:
            os._exit(70)
        self.channel.call("audit", detail, timeout=10)

    def _one(self, call: dict[str, Any]) -> dict[str, Any]:
        method = call["method"]
        if method not in METHODS:
            raise ValueError(f"method {method!r} is not part of the interface")
        try:
            queue = self.decode(call["queue"])
            args, kwargs = self.decode(call["args"]), self.decode(call["kwargs"])
        except WireError as exc:
            return {"raised": self.encode(exc)}
        try:
            result = getattr(queue, method)(*args, **kwargs)
        except Exception as exc:
            return {"raised": self.encode(exc)}
        try:
            return {"ok": self.encode(result)}
        except WireError as exc:
            return {"raised": self.encode(exc)}


def main(argv: list[str]) -> int:
    fd, candidate_dir = int(argv[0]), argv[1]
    module = argv[2] if len(argv) > 2 else "job_queue"
    sock = socket.socket(fileno=fd)
    host = Host(sock)
    host.channel.start()
    audit.install(host.report_audit)  # before any of the answer's code runs
    sys.path.insert(0, candidate_dir)
    try:
        host._queue_class = importlib.import_module(module).JobQueue
    except BaseException as exc:  # the answer's own failure (SystemExit included)
        host._queue_class = ImportError(f"importing {module} failed: "
                                        f"{type(exc).__name__}: {exc}")
    host.imported.set()
    while not host.closed.wait(0.5):
        if host.channel.closed:
            break
    return 0


if __name__ == "__main__":
    code = 2
    try:
        code = main(sys.argv[1:])
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
