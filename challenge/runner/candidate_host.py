"""The candidate's side of the proxy: imports the answer and serves its JobQueue to a test.

    python3 -I candidate_host.py FD CANDIDATE_DIR [MODULE]

Runs under a candidate uid of its own (docs/trust-boundary.md) with one socketpair end on
fd FD and nothing else. It imports MODULE (default `job_queue`) from CANDIDATE_DIR and
answers the test's calls (channel.py):

    import None -> {"ok": true} or {"failed": why}: import the answer (once; "new" does it too)
    new    {"args": tagged list, "kwargs": tagged dict} -> {"ok": the queue's handle} or
           {"raised": tagged exception} (the answer failed to import, or its constructor raised)
    batch  [{"queue": tagged handle, "method": "add_job" | "get_result", "args", "kwargs"}]
           -> [{"ok": tagged} | {"raised": tagged exception}], run back to back on one
           thread, as a test's consecutive calls ran in the original
    inside {"check": name, "support": dir} -> {"ok": bool, "message": str}: one of the checks
           that must look inside the candidate's process (strict_inside.run_inside_check,
           imported from `support`); what they trust is said in docs/trust-boundary.md
    close  -> None; the host then leaves with os._exit (stray threads cannot keep it alive)

The answer is imported on the test's first "import" (a test that only runs an inside check
imports it its own way, e.g. while locks are recorded).
An audit hook (audit.py) is in place before the answer is imported; each voiding event is
reported to the test's side ("audit") before the action it announces runs.
Job functions arrive as handles with their name and parameters and become stubs: calling
one calls back to the test's side ("job"), where the real function runs. A stub called in
a forked child refuses: the channel belongs to this process.
Nothing here decides a verdict; this process is as untrusted as the answer it imports.
"""

import contextlib
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
                 queue_class: type | BaseException | None = None,
                 module: str = "job_queue") -> None:
        self._queue_class = queue_class
        self._module = module
        self.candidate_dir = ""
        self._stubs: dict[int, Any] = {}
        self.auditor = audit.Auditor(self.report_audit)
        self._handles = Handles()
        self._pid = os.getpid()
        self._job_order = itertools.count()
        """Numbers the job calls as they happen (next() on a count is atomic in CPython), so
        the test's side can begin them in the order the queue's threads called them."""
        self.channel = Channel(sock, self._serve, name="candidate")
        self.closed = threading.Event()
        self._import_lock = threading.Lock()

    def encode(self, value: object) -> list[Any]:
        return Encoder(self._handles)(value)

    def decode(self, data: object) -> Any:
        return Decoder(own=self._handles, remote=self._stub)(data)

    def _stub(self, number: int, about: dict[str, Any]) -> Any:
        """The stub of the test's object `number` (one per object, as in one process the
        same function passed twice is the same object)."""
        known = self._stubs.get(number)
        if known is None:
            known = self._stubs[number] = self._make_stub(number, about)
        return known

    def _make_stub(self, number: int, about: dict[str, Any]) -> Any:
        host = self

        def job(*args: Any, **kwargs: Any) -> Any:
            if os.getpid() != host._pid:  # a fork draws no number: none is skipped
                raise RuntimeError("a job of the test cannot run in a forked process")
            order = next(host._job_order)  # first thing: the order the queue called its jobs
            try:
                body = {"fn": number, "order": order, "args": host.encode(list(args)),
                        "kwargs": host.encode(kwargs)}
            except Exception:  # still send the number: the job after this one waits for it
                with contextlib.suppress(Exception):
                    host.channel.call("job", {"fn": number, "order": order})
                raise
            answer = host.channel.call("job", body)
            if "raised" in answer:
                raise host.decode(answer["raised"])
            return host.decode(answer["ok"])

        job.__name__ = str(about.get("name", "job"))
        job.__qualname__ = str(about.get("qualname", job.__name__))
        signature = make_signature(about)
        if signature is not None:
            job.__signature__ = signature  # type: ignore[attr-defined]
        return job

    def queue_class(self) -> type | BaseException:
        """The answer's JobQueue, imported on first use (or why the import failed)."""
        with self._import_lock:
            if self._queue_class is None:
                self._queue_class = import_queue_class(self._module)
            return self._queue_class

    def _serve(self, op: str, body: Any) -> Any:
        if op == "import":
            queue_class = self.queue_class()
            if isinstance(queue_class, BaseException):
                return {"failed": str(queue_class)[:2000]}
            return {"ok": True}
        if op == "new":
            queue_class = self.queue_class()
            if isinstance(queue_class, BaseException):
                return {"raised": self.encode(queue_class)}
            try:
                queue = queue_class(*self.decode(body["args"]), **self.decode(body["kwargs"]))
            except Exception as exc:
                return {"raised": self.encode(exc)}
            return {"ok": self.encode(queue)}
        if op == "batch":
            return [self._one(call) for call in body]
        if op == "inside":
            with self.auditor.tolerating(audit.TRACE_EVENTS):
                return run_inside(str(body["check"]), str(body["support"]), self._module,
                                  self.candidate_dir)
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


def import_queue_class(module: str) -> type | BaseException:
    """`module.JobQueue`, or the exception that says why it could not be had. At L5 the
    answer is a package named `queue`: the standard library's, if something imported it
    already, must not stand in for it."""
    if module == "queue":
        sys.modules.pop("queue", None)
    try:
        return importlib.import_module(module).JobQueue  # type: ignore[no-any-return]
    except BaseException as exc:  # the answer's own failure (SystemExit included)
        return ImportError(f"importing {module} failed: {type(exc).__name__}: {exc}")


def run_inside(check: str, support_dir: str, module: str,
               candidate_dir: str) -> dict[str, Any]:
    """Run one inside check of the suites' support module, beside the candidate. Tracing
    is not voided meanwhile: the L5 check profiles the candidate's calls itself."""
    if support_dir not in sys.path:
        sys.path.append(support_dir)  # after the candidate's directory, as in a test
    try:
        support = importlib.import_module("strict_inside")
        answer = support.run_inside_check(check, module, candidate_dir)
    except BaseException as exc:
        return {"ok": False, "message": f"the check could not run: {type(exc).__name__}: {exc}"}
    if not isinstance(answer, dict):
        return {"ok": False, "message": "the check gave no verdict"}
    return {"ok": answer.get("ok") is True, "message": str(answer.get("message", ""))[:2000]}


def main(argv: list[str]) -> int:
    fd, candidate_dir = int(argv[0]), argv[1]
    module = argv[2] if len(argv) > 2 else "job_queue"
    sock = socket.socket(fileno=fd)
    host = Host(sock, module=module)
    host.candidate_dir = candidate_dir
    sys.addaudithook(host.auditor)  # before any of the answer's code runs
    sys.path.insert(0, candidate_dir)
    host.channel.start()
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
