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
whatever a test judges about them is observed on this side with this side's clock. A job
called while the batch that added it is still unanswered waits for that answer; if it does
not come within SYNC_GRACE_S, the queue ran the job inside `add_job`, and the job runs in
the test thread that is waiting for the batch: in the thread that called `add_job`, as in
the original (the strict suites judge "asynchronously" by that thread).
"""

import contextlib
import inspect
import socket
import sys
import threading
import time
import types
from typing import Any

try:  # a module of the challenge.runner package on the host, a script's sibling in the box
    from .channel import Channel, ChannelClosed
    from .settle import settled_sleep
    from .wire import Decoder, Encoder, Handle, Handles
except ImportError:
    from channel import Channel, ChannelClosed  # type: ignore[no-redef]
    from settle import settled_sleep  # type: ignore[no-redef]
    from wire import Decoder, Encoder, Handle, Handles  # type: ignore[no-redef]

_real_sleep = time.sleep
ORDER_WAIT_S = 2.0
"""How long a job waits for the one the queue called before it to begin: the candidate's
stubs number their calls, and an honest stub always sends its number (even a call whose
arguments cannot cross), so only a candidate that skips numbers ever waits this long."""
SYNC_GRACE_S = 2.0
"""How long a job called during the batch that added it waits for that batch's answer
before it counts as run inside `add_job` (far above a busy machine's round trip)."""
_sessions: list["Session"] = []
_settling: tuple[int, int] | None = None
"""(test thread, candidate uid) when the test's own sleeps are settled (legacy tests)."""


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


class CandidateImportError(ImportError):
    """The candidate's answer could not be imported (or its process died importing it)."""


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
        self._about: dict[int, tuple[object, dict[str, Any]]] = {}
        self._lock = threading.RLock()
        self._batch: list[tuple[dict[str, Any], Pending, set[int]]] = []
        self.audit_voids: list[str] = []
        """Voiding audit events the candidate host reported: a pass is void if any."""
        self._turns = threading.Condition()
        self._next_turn = 0
        self._wake = threading.Condition()
        self._inflight: _InFlight | None = None
        self._handoffs: list[_Handoff] = []
        self._imported = False
        self.import_error: str | None = None
        """Why the answer could not be imported, once a test tried to build its queue."""
        self.channel = Channel(sock, self._serve, name="test").start()
        _sessions.append(self)

    def encode(self, value: object) -> list[Any]:
        return Encoder(self._handles, describe=self._describe)(resolved(value))

    def _describe(self, value: object) -> dict[str, Any]:
        """`describe(value)`, once per object (the handle table keeps it alive)."""
        known = self._about.get(id(value))
        if known is None or known[0] is not value:
            known = self._about[id(value)] = (value, describe(value))
        return known[1]

    def decode(self, data: object) -> Any:
        return Decoder(own=self._handles)(data)

    def _call_body(self, queue: Handle, method: str, args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> dict[str, Any]:
        return {"queue": self.encode(queue), "method": method,
                "args": self.encode([resolved(a) for a in args]),
                "kwargs": self.encode({k: resolved(v) for k, v in kwargs.items()})}

    def import_answer(self) -> None:
        """Have the candidate host import the answer (once). If that fails, or the host
        dies meanwhile, the test cannot start: `import_error` says why (the runner then
        reports an error, as the original's collection failed on such an answer)."""
        if self._imported:
            return
        try:
            answer = self.channel.call("import", None)
        except ChannelClosed as exc:
            self.import_error = f"the candidate's process ended while importing it ({exc})"
            raise CandidateImportError(self.import_error) from None
        if not isinstance(answer, dict) or answer.get("ok") is not True:
            why = answer.get("failed") if isinstance(answer, dict) else None
            self.import_error = str(why or "the answer could not be imported")
            raise CandidateImportError(self.import_error)
        self._imported = True

    def new_queue(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Handle:
        self.flush()
        self.import_answer()
        answer = self.channel.call("new", {"args": self.encode(list(args)),
                                           "kwargs": self.encode(kwargs)})
        return self._outcome(answer)  # type: ignore[no-any-return]

    def defer(self, queue: Handle, method: str, args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> Pending:
        if any(type(v) is Pending for v in (*args, *kwargs.values())):
            self.flush()  # an argument waits on this very batch
        with self._lock:
            pending = Pending(self)
            jobs = {id(v) for v in (*args, *kwargs.values()) if callable(v)}
            self._batch.append((self._call_body(queue, method, args, kwargs), pending, jobs))
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
            jobs = set().union(*(ids for _, _, ids in batch))
            answers = self._send_batch([body for body, _, _ in batch], jobs)
            first_error: BaseException | None = None
            for (_, pending, _), answer in zip(batch, answers, strict=True):
                try:
                    pending._settle(self._outcome(answer), None)
                except Exception as exc:
                    pending._settle(None, exc)
                    first_error = first_error or exc
        if first_error is not None:
            raise first_error

    def _send_batch(self, bodies: list[dict[str, Any]], jobs: set[int]) -> Any:
        """Send one batch and wait for its answer, running meanwhile the jobs the queue ran
        inside it (handed over by `_run_job`)."""
        inflight = _InFlight(None, jobs)
        with self._wake:  # before the batch leaves: its jobs may call back at once
            self._inflight = inflight
        try:
            waiter = self.channel.begin("batch", bodies, on_done=self._notify)
        except BaseException:
            with self._wake:
                self._inflight = None
            raise
        with self._wake:
            inflight.waiter = waiter
            self._wake.notify_all()
        try:
            while True:
                with self._wake:
                    self._wake.wait_for(lambda: waiter.done.is_set() or self._handoffs)
                    handoffs, self._handoffs = self._handoffs, []
                    if not handoffs:
                        break
                for handoff in handoffs:
                    handoff.run()
        finally:
            with self._wake:
                self._inflight = None
                for handoff in self._handoffs:  # cannot be: our batch is answered
                    handoff.run()
                self._handoffs.clear()
                self._wake.notify_all()
            self.channel.forget(waiter)
        return self.channel.result(waiter)

    def _notify(self) -> None:
        with self._wake:
            self._wake.notify_all()

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
        turn = body.get("order") if isinstance(body, dict) else None
        if type(turn) is not int or turn < 0:
            turn = None  # no number: it waits for no job, and none waits for it
        try:
            fn = self._handles.resolve(body["fn"])
            if not callable(fn):
                raise TypeError("not a job")
            args, kwargs = self.decode(body["args"]), self.decode(body["kwargs"])
            handoff = self._handoff_if_inside(fn, args, kwargs)
        except BaseException:
            self._take_turn(turn)  # a call that fails takes its turn too: the next one waits
            raise
        # The turn is taken after any wait for the batch in flight: jobs that arrived during
        # it are released together when it is answered, and would begin in any order.
        if handoff is not None:
            self._take_turn(turn)
            handoff.done.wait()
            return handoff.answer
        return self._run_job(fn, args, kwargs, turn)

    def _run_job(self, fn: Any, args: Any, kwargs: Any,
                 turn: int | None = None) -> dict[str, Any]:
        """Run the job; with `turn`, once the job before it has begun, and pass the turn on
        as the job's function is entered (a thread that takes its turn and is then
        descheduled must not let the next job's first line run before its own)."""
        passed = False
        if turn is not None:
            self._wait_turn(turn)

            def entered(frame: Any, event: str, arg: Any) -> None:
                nonlocal passed
                if event in ("call", "c_call") and not passed:
                    passed = True
                    sys.setprofile(None)
                    self._pass_turn(turn)

            sys.setprofile(entered)
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            return {"raised": self.encode(exc)}
        finally:
            if turn is not None and not passed:  # a callable with no call event (a C type)
                sys.setprofile(None)
                self._pass_turn(turn)
        return {"ok": self.encode(result)}

    def _handoff_if_inside(self, fn: Any, args: Any, kwargs: Any) -> "_Handoff | None":
        """If `fn` was added by the batch in flight and that batch stays unanswered for
        SYNC_GRACE_S, hand the job to the test thread waiting for the batch."""
        with self._wake:
            inflight = self._inflight
            if inflight is None or id(fn) not in inflight.jobs:
                return None
            answered = self._wake.wait_for(
                lambda: self._inflight is not inflight or (
                    inflight.waiter is not None and inflight.waiter.done.is_set()),
                SYNC_GRACE_S)
            if answered:
                return None
            handoff = _Handoff(lambda: self._run_job(fn, args, kwargs))
            self._handoffs.append(handoff)
            self._wake.notify_all()
            return handoff

    def inside(self, check: str, support_dir: str) -> dict[str, Any]:
        """Run one inside check in the candidate host (strict_inside.run_inside_check)."""
        self.flush()
        answer = self.channel.call("inside", {"check": check, "support": support_dir})
        return answer if isinstance(answer, dict) else {"ok": False, "message": "no verdict"}

    def _wait_turn(self, turn: int) -> None:
        """Begin jobs in the order the queue called their stubs (in one process, the job's
        first line ran right then): job n waits until job n-1 has begun, or failed to, at
        most ORDER_WAIT_S (a number a candidate skips cannot stall the test)."""
        with self._turns:
            self._turns.wait_for(lambda: self._next_turn >= turn, ORDER_WAIT_S)

    def _pass_turn(self, turn: int) -> None:
        with self._turns:
            self._next_turn = max(self._next_turn, turn + 1)
            self._turns.notify_all()

    def _take_turn(self, turn: int | None) -> None:
        if turn is not None:
            self._wait_turn(turn)
            self._pass_turn(turn)

    def close(self) -> None:
        try:
            self.flush()
            self.channel.call("close", None, timeout=5)
        except Exception:
            pass
        self.channel.close()
        if self in _sessions:
            _sessions.remove(self)


class _InFlight:
    """The batch being answered, and the ids of the job functions it passes."""

    __slots__ = ("jobs", "waiter")

    def __init__(self, waiter: Any, jobs: set[int]) -> None:
        self.waiter = waiter
        """The channel's waiter of the batch; None until it was sent."""
        self.jobs = jobs


class _Handoff:
    """A job the queue ran inside `add_job`, to be run by the test thread that waits."""

    __slots__ = ("answer", "done", "job")

    def __init__(self, job: Any) -> None:
        self.job = job
        self.answer: dict[str, Any] = {}
        self.done = threading.Event()

    def run(self) -> None:
        try:
            self.answer = self.job()
        finally:
            self.done.set()


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
    if _settling is not None and _settling[0] == threading.get_ident():
        settled_sleep(seconds, _settling[1], _real_sleep)
    else:  # a job's sleep (in a thread of the proxy), or a strict test's
        _real_sleep(seconds)


LINK_MODULE = "sandbox_link"
"""Module through which a suite runs an inside check: `sandbox_link.inside(check)`."""


def install(session: Session, module: str = "job_queue", support_dir: str = "",
            settle_uid: int | None = None) -> None:
    """Make `import <module>` give the proxy, `import sandbox_link` the way to inside checks,
    and `time.sleep` send gathered calls first. With `settle_uid` (the candidate's uid), the
    calling thread's sleeps are settled (settle.py): a busy machine cannot shorten them."""
    global _settling
    _settling = None if settle_uid is None else (threading.get_ident(), settle_uid)
    proxy = types.ModuleType(module)
    proxy.JobQueue = queue_class(session)  # type: ignore[attr-defined]
    sys.modules[module] = proxy
    link = types.ModuleType(LINK_MODULE)

    def inside(check: str) -> str | None:
        """Run `check` inside the candidate's process; the problem it found, or None."""
        answer = session.inside(check, support_dir)
        return None if answer.get("ok") is True else str(answer.get("message") or "failed")

    link.inside = inside  # type: ignore[attr-defined]
    sys.modules[LINK_MODULE] = link
    time.sleep = _sleep
