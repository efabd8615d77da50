"""The test's side of the proxy: a `JobQueue` class whose instances live in a candidate host.

A test process binds one `Session` to the socketpair end of its candidate host and installs
`job_queue` (a module holding the proxy `JobQueue`) before the suite imports it, so the
suite's calls are the original's while the queue runs in another process and uid.

Timing (docs/trust-boundary.md): `add_job` calls are not sent one by one but gathered, and
sent as one batch, run back to back on one candidate thread, when the test next does
something else: `get_result`, a new queue, a `time.sleep` (patched by `install`), or
looking at a job id (`Pending`). A test thread's consecutive calls thus reach the queue as
quickly as in the original, where the woken worker thread waited for the GIL meanwhile.

Jobs the test passes run here, in the test's process, when the candidate calls their stubs:
whatever a test judges about them is observed on this side with this side's clock.
"""

import contextlib
import inspect
import socket
import sys
import threading
import time
import types
from typing import Any

try:  # a module of the challenge.sandbox package on the host, a script's sibling in the box
    from .channel import Channel
    from .wire import Decoder, Encoder, Handle, Handles
except ImportError:
    from channel import Channel  # type: ignore[no-redef]
    from wire import Decoder, Encoder, Handle, Handles  # type: ignore[no-redef]

_real_sleep = time.sleep
ORDER_WAIT_S = 0.05
"""How long a job waits for the one the queue called before it to begin."""
_sessions: list["Session"] = []


def describe(value: object) -> dict[str, Any]:
    """What a stub of `value` shows: name, qualified name, parameters (kind, has default)."""
    if not callable(value):
        return {}
    about: dict[str, Any] = {"name": getattr(value, "__name__", "job"),
                             "qualname": getattr(value, "__qualname__", "job")}
    with contextlib.suppress(TypeError, ValueError):
        about["params"] = [{"name": p.name, "kind": int(p.kind),
                            "default": "" if p.default is p.empty else repr(p.default)[:80]}
                           for p in inspect.signature(value).parameters.values()]
    return about


class Pending:
    """The value a gathered call will return; looking at it sends the batch first."""

    __slots__ = ("_done", "_error", "_session", "_value")

    def __init__(self, session: "Session") -> None:
        self._session = session
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None

    def _settle(self, value: Any, error: BaseException | None) -> None:
        self._value, self._error, self._done = value, error, True

    def resolve(self) -> Any:
        if not self._done:
            self._session.flush()
        if self._error is not None:
            raise self._error
        return self._value

    def __eq__(self, other: object) -> bool:
        return bool(self.resolve() == resolved(other))

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(self.resolve())

    def __bool__(self) -> bool:
        return bool(self.resolve())

    def __repr__(self) -> str:
        return repr(self.resolve())

    def __str__(self) -> str:
        return str(self.resolve())

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance(job_id, (str, int)) asks the value's class
        return type(self.resolve())


def resolved(value: Any) -> Any:
    """The value itself: a `Pending` resolved (its batch sent), anything else unchanged."""
    return value.resolve() if type(value) is Pending else value


class Session:
    """One test's connection to its candidate host."""

    def __init__(self, sock: socket.socket) -> None:
        self._handles = Handles()
        self._lock = threading.RLock()
        self._batch: list[tuple[dict[str, Any], Pending]] = []
        self.audit_voids: list[str] = []
        self._order = threading.Condition()
        self._next_order = 0
        """Voiding audit events the candidate host reported: a pass is void if any."""
        self.channel = Channel(sock, self._serve, name="test").start()
        _sessions.append(self)

    def encode(self, value: object) -> list[Any]:
        return Encoder(self._handles, describe=describe)(resolved(value))

    def decode(self, data: object) -> Any:
        return Decoder(own=self._handles)(data)

    def _call_body(self, queue: Handle, method: str, args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> dict[str, Any]:
        return {"queue": self.encode(queue), "method": method,
                "args": self.encode([resolved(a) for a in args]),
                "kwargs": self.encode({k: resolved(v) for k, v in kwargs.items()})}

    def new_queue(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Handle:
        self.flush()
        answer = self.channel.call("new", {"args": self.encode(list(args)),
                                           "kwargs": self.encode(kwargs)})
        return self._outcome(answer)  # type: ignore[no-any-return]

    def defer(self, queue: Handle, method: str, args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> Pending:
        if any(type(v) is Pending for v in (*args, *kwargs.values())):
            self.flush()  # an argument waits on this very batch
        with self._lock:
            pending = Pending(self)
            self._batch.append((self._call_body(queue, method, args, kwargs), pending))
            return pending

    def call_now(self, queue: Handle, method: str, args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> Any:
        return self.defer(queue, method, args, kwargs).resolve()

    def flush(self) -> None:
        """Send the gathered calls as one batch; raise the first exception a call raised."""
        with self._lock:
            batch, self._batch = self._batch, []
            if not batch:
                return
            answers = self.channel.call("batch", [body for body, _ in batch])
            first_error: BaseException | None = None
            for (_, pending), answer in zip(batch, answers, strict=True):
                try:
                    pending._settle(self._outcome(answer), None)
                except Exception as exc:
                    pending._settle(None, exc)
                    first_error = first_error or exc
        if first_error is not None:
            raise first_error

    def _outcome(self, answer: dict[str, Any]) -> Any:
        if "raised" in answer:
            raise self.decode(answer["raised"])
        return self.decode(answer["ok"])

    def _serve(self, op: str, body: Any) -> Any:
        """A job stub was called in the candidate: run the real job here. Or the candidate's
        audit hook saw a voiding event: keep it."""
        if op == "audit":
            self.audit_voids.append(str(body)[:300])
            return None
        if op != "job":
            raise ValueError(f"unknown operation {op!r}")
        fn = self._handles.resolve(body["fn"])
        if not callable(fn):
            raise TypeError("not a job")
        args, kwargs = self.decode(body["args"]), self.decode(body["kwargs"])
        self._await_turn(body.get("order"))
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            return {"raised": self.encode(exc)}
        return {"ok": self.encode(result)}

    def _await_turn(self, order: object) -> None:
        """Begin jobs in the order the queue called their stubs (in one process, the job's
        first line ran right then): job n waits until job n-1 has begun, at most
        ORDER_WAIT_S (a number the candidate skipped or never sends cannot stall us)."""
        if type(order) is not int:
            return
        with self._order:
            self._order.wait_for(lambda: self._next_order >= order, ORDER_WAIT_S)
            self._next_order = max(self._next_order, order + 1)
            self._order.notify_all()

    def close(self) -> None:
        try:
            self.flush()
            self.channel.call("close", None, timeout=5)
        except Exception:
            pass
        self.channel.close()
        if self in _sessions:
            _sessions.remove(self)


def queue_class(session: Session) -> type:
    """The `JobQueue` a test sees: the prompts' interface, served by the candidate host."""

    class JobQueue:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._handle = session.new_queue(args, kwargs)

        def add_job(self, *args: Any, **kwargs: Any) -> Any:
            return session.defer(self._handle, "add_job", args, kwargs)

        def get_result(self, *args: Any, **kwargs: Any) -> Any:
            return session.call_now(self._handle, "get_result", args, kwargs)

    return JobQueue


def _sleep(seconds: float) -> None:
    for session in list(_sessions):
        session.flush()
    _real_sleep(seconds)


def install(session: Session, module: str = "job_queue") -> None:
    """Make `import job_queue` give the proxy, and `time.sleep` send gathered calls first."""
    proxy = types.ModuleType(module)
    proxy.JobQueue = queue_class(session)  # type: ignore[attr-defined]
    sys.modules[module] = proxy
    time.sleep = _sleep
