"""Fork server of the sandbox runner: imports pytest once, then forks one child per test.

Why a zygote: pytest takes ~0.3 s to import and configure; paying that once and forking
per test keeps a 15-test level fast and the CPU quiet while tests sleep their fixed waits.
Why a separate interpreter: the runner's own state (its selector, pipes, launcher link)
stays out of the test children; the zygote is started with a fresh `python3 -I -c <source>`
from source the runner read at start-up, and imports the proxy (proxy.py, channel.py,
wire.py) from the runner's directory, which no candidate uid can write. Stdlib and pytest
otherwise. Candidate code never runs here or in a test child: each test's queue lives in
its candidate host, reached through the socketpair end the runner passes with the test.

Protocol (a SOCK_SEQPACKET socket, fd number in argv[1]; one JSON object per message):
    zygote -> runner  {"op": "ready", "python": "3.11.2", "pytest": "7.2.1"}
    runner -> zygote  {"op": "run", "index": i, "token": t, "cwd": "/work/legacy",
                       "file": "legacy_l1.py", "function": "test_x", "deadline": mono}
                      with two or three fds attached: the result pipe and the output pipe
                      (write ends), and the test's end of its candidate host's socketpair
    zygote -> runner  {"op": "started", "index": i, "pid": p}
                      {"op": "spawn_failed", "index": i, "error": "..."}
                      {"op": "exited", "index": i, "pid": p, "status": <raw wait status>}
    child  -> runner  (result pipe) one line: {"token": t, "outcome": ..., "message": ...}

Each child: new session (so the whole tree of the test can be killed), oom_score_adj 500
(the kernel's OOM killer takes a candidate host first, then a test, never the runner),
stdin /dev/null, stdout and stderr on the output pipe, every other fd but its channel
closed. It installs the proxy as the suite's `job_queue` (or `candidate_queue` at L5), runs
pytest (--noconftest) on exactly `file::function` and reports "passed" only if setup, call
and teardown of that very test passed, pytest itself returned OK and the candidate's audit
hook reported no voiding event; then it leaves with os._exit so stray threads cannot keep
it alive.
"""

import contextlib
import ctypes
import gc
import json
import os
import resource
import selectors
import shutil
import signal
import socket
import sys
import tempfile
import time

import pytest

PR_SET_CHILD_SUBREAPER = 36
#: Signals a candidate might send its parent to stop it; SIGKILL/SIGSTOP cannot be ignored.
IGNORED_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM,
                   signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM, signal.SIGTSTP,
                   signal.SIGTTIN, signal.SIGTTOU, signal.SIGXCPU, signal.SIGXFSZ)
#: Pause between fork attempts while the pids limit is reached (a fork bomb in another test);
#: the zygote retries until the test's deadline.
FORK_RETRY_PAUSE_S = 0.05
MESSAGE_LIMIT = 3000
"""Bytes of the failure message a child reports; keeps the result line below PIPE_BUF."""
PYTEST_ARGS = ("-q", "-p", "no:cacheprovider", "-c", os.devnull, "--color=no", "--tb=short",
               "--noconftest")

# Set by the child after fork so that `main` never resumes in a child.
_IN_CHILD = False
# The proxy module (proxy.py), imported from the runner's directory by `main`.
_proxy = None


def _prctl(option: int, value: int) -> None:
    # Best effort: without it the runner still works, orphans just reach init instead.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def _send(sock: socket.socket, message: dict) -> None:
    with contextlib.suppress(OSError):  # the runner is gone; nothing left to tell
        sock.send(json.dumps(message).encode())


# --- the test child ------------------------------------------------------------------------

class _Recorder:
    """pytest plugin: keeps the reports of the one test we were asked to run."""

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid
        self.collect_errors: list[str] = []
        self.items: list[str] = []
        self.phases: dict[str, list] = {}

    def _ours(self, nodeid: str) -> bool:
        return nodeid == self.nodeid or nodeid.startswith(self.nodeid + "[")

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self.collect_errors.append(_failure_text(report))

    def pytest_collection_modifyitems(self, items) -> None:
        self.items = [item.nodeid for item in items]

    def pytest_runtest_logreport(self, report) -> None:
        if self._ours(report.nodeid):
            self.phases.setdefault(report.nodeid, []).append(report)


def _failure_text(report) -> str:
    """A short reason: pytest's crash line, else the last "E" lines of the long report."""
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return str(crash.message)
    longrepr = getattr(report, "longrepr", None)
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (file, line, reason)
        return str(longrepr[2])
    text = str(longrepr or "")
    lines = [line for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("E ")]
    return "\n".join((errors or lines)[-4:])


def _verdict(recorder: _Recorder, exit_code: int) -> tuple[str, str]:
    """(outcome, message) for the test, from pytest's own reports of that very test."""
    if recorder.collect_errors:
        return "error", "collection failed: " + recorder.collect_errors[-1]
    ours = [nodeid for nodeid in recorder.items if recorder._ours(nodeid)]
    if not ours or len(ours) != len(recorder.items):
        return "error", f"test not collected (pytest exit code {int(exit_code)})"
    outcome, message = "passed", ""
    for nodeid in ours:
        reports = {r.when: r for r in recorder.phases.get(nodeid, [])}
        setup, call, teardown = (reports.get(w) for w in ("setup", "call", "teardown"))
        if setup is None or teardown is None or (setup.passed and call is None):
            return "error", f"test did not run to the end (pytest exit code {int(exit_code)})"
        if setup.failed:
            return "error", "setup failed: " + _failure_text(setup)
        if setup.skipped or (call is not None and call.skipped):
            outcome, message = "skipped", _failure_text(setup if setup.skipped else call)
            continue
        if call.failed:
            return "failed", _failure_text(call)
        if teardown.failed:
            return "error", "teardown failed: " + _failure_text(teardown)
    if outcome == "passed" and int(exit_code) != 0:
        return "error", f"pytest exited with code {int(exit_code)}"
    return outcome, message


def _run_test(spec: dict) -> tuple[str, str]:
    cwd = spec["cwd"]
    try:
        os.chdir(cwd)
    except OSError as exc:
        return "error", f"cannot enter the test's directory: {exc}"
    sys.path.insert(0, cwd)
    sys.dont_write_bytecode = True  # keep /work as the harness wrote it
    nodeid = f"{spec['file']}::{spec['function']}"
    recorder = _Recorder(nodeid)
    args = [nodeid, *PYTEST_ARGS, "--rootdir", cwd, "--confcutdir", cwd]
    try:
        exit_code = pytest.main(args, plugins=[recorder])
    except BaseException as exc:  # anything pytest lets through is an error
        return "error", f"pytest crashed: {type(exc).__name__}: {exc}"
    return _verdict(recorder, exit_code)


def _report(fd: int, token: str, outcome: str, message: str, cause: str | None) -> None:
    message = message[:MESSAGE_LIMIT]
    while True:
        line = json.dumps({"token": token, "outcome": outcome, "message": message,
                           "cause": cause}) + "\n"
        data = line.encode()
        if len(data) <= 4000 or not message:
            break
        message = message[: len(message) // 2]
    while data:
        data = data[os.write(fd, data):]


def _connect(spec: dict, channel_fd: int | None):
    """The test's session with its candidate host, installed as the suites' `job_queue`
    (or `candidate_queue` at L5) before pytest imports the suite; None without a host."""
    if channel_fd is None or _proxy is None:
        return None
    session = _proxy.Session(socket.socket(fileno=channel_fd))
    _proxy.install(session, spec.get("proxy_as") or "job_queue", support_dir=spec["cwd"],
                   settle_uid=spec.get("settle_uid"))
    return session


def _judged(spec: dict, session, outcome: str, message: str) -> tuple[str, str, str | None]:
    """(outcome, message, cause). A pass is void if the candidate's audit hook reported a
    voiding event. A test whose answer could not be imported is an error where the suites
    import the queue at module level (`job_queue`: in one process, their collection failed);
    at L5 the import is part of the test (`candidate_queue`), and its failure is the test's
    own outcome. Either way its cause is "import_error" (a syntax error included), so reports
    can count failure causes without reading messages."""
    imported_badly = (session is not None and session.import_error and outcome != "passed")
    if imported_badly and spec.get("proxy_as") == "job_queue":
        return "error", "collection failed: " + session.import_error, "import_error"
    voids = list(session.audit_voids) if session is not None else []
    if outcome == "passed" and voids:
        return ("error", "void: the candidate's process did what no honest queue does: "
                + voids[0], "void")
    return outcome, message, "import_error" if imported_badly else None


def _child(spec: dict, result_fd: int, output_fd: int, channel_fd: int | None) -> None:
    """Runs in the forked child; never returns (os._exit)."""
    global _IN_CHILD
    _IN_CHILD = True
    status = 70
    try:
        os.setsid()
        if spec.get("nice"):
            with contextlib.suppress(OSError):  # best effort: a priority, never a verdict
                os.nice(int(spec["nice"]))
        signal.set_wakeup_fd(-1)
        for signum in (*IGNORED_SIGNALS, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:  # above the runner's 0, below a candidate host's 1000
            with open("/proc/self/oom_score_adj", "w") as handle:
                handle.write("500")
        except OSError:
            pass
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        for fd in _open_fds():
            if fd > 2 and fd not in (result_fd, channel_fd):
                _close(fd)
        session = _connect(spec, channel_fd)
        outcome, message, cause = _judged(spec, session, *_run_test(spec))
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):  # the candidate may have replaced them
                stream.flush()
        _report(result_fd, spec["token"], outcome, message, cause)
        status = 0
    except BaseException:  # no result line is written, so the runner says "error"
        pass
    finally:
        os._exit(status)


def _open_fds() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return list(range(3, 256))


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


# --- the zygote ----------------------------------------------------------------------------

def _kill_session(sid: int) -> None:
    """SIGKILL every process left in a finished test's session (its strays)."""
    for _ in range(20):
        with contextlib.suppress(OSError):
            os.killpg(sid, signal.SIGKILL)
        found = False  # a live (non-zombie) member of the session, seen in /proc
        for name in _proc_pids():
            try:
                with open(f"/proc/{name}/stat", "rb") as handle:
                    fields = handle.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            # fields: state ppid pgrp session ...
            if fields[0] != b"Z" and int(fields[3]) == sid:
                found = True
                with contextlib.suppress(OSError):
                    os.kill(name, signal.SIGKILL)
        if not found:
            return
        time.sleep(0.001)


def _proc_pids() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []


class Zygote:
    """Serves "run" requests from the runner: one forked child per test; reports exits."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.running: dict[int, int] = {}  # pid -> plan index
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            index = self.running.pop(pid, None)
            if index is not None:
                _kill_session(pid)
                _send(self.sock, {"op": "exited", "index": index, "pid": pid, "status": status})

    def spawn(self, spec: dict, fds: list[int]) -> None:
        index = spec["index"]
        if len(fds) not in (2, 3):
            for fd in fds:
                _close(fd)
            _send(self.sock, {"op": "spawn_failed", "index": index, "error": "bad request"})
            return
        result_fd, output_fd, channel_fd = (*fds, None)[:3]
        sys.stdout.flush()
        sys.stderr.flush()
        while True:
            try:
                pid = os.fork()
                break
            except BlockingIOError as exc:  # EAGAIN: the pids limit is reached
                if time.monotonic() >= spec["deadline"]:
                    for fd in fds:
                        _close(fd)
                    _send(self.sock, {"op": "spawn_failed", "index": index,
                                      "error": f"fork failed: {exc} (pids limit reached)"})
                    return
                self.reap()
                time.sleep(FORK_RETRY_PAUSE_S)
        if pid == 0:
            _child(spec, result_fd, output_fd, channel_fd)
        for fd in fds:
            _close(fd)
        self.running[pid] = index
        _send(self.sock, {"op": "started", "index": index, "pid": pid})

    def serve(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.sock, selectors.EVENT_READ, "control")
        selector.register(self.wake_r, selectors.EVENT_READ, "wake")
        while True:
            for key, _ in selector.select():
                if key.data == "wake":
                    with contextlib.suppress(BlockingIOError):
                        os.read(self.wake_r, 4096)
                    continue
                try:
                    data, fds, _flags, _addr = socket.recv_fds(self.sock, 65536, 4)
                except OSError:
                    return
                if not data:
                    return  # the runner closed the socket: we are done
                try:
                    spec = json.loads(data)
                except ValueError:
                    continue
                if spec.get("op") == "run":
                    self.spawn(spec, fds)
            self.reap()


def _warm_up() -> None:
    """Run pytest once on a trivial test so its plugins and their imports are loaded."""
    folder = tempfile.mkdtemp(prefix="jq-zygote-")
    path = os.path.join(folder, "warm_up.py")
    with open(path, "w") as handle:
        handle.write("def test_warm_up():\n    assert True\n")
    saved_path = list(sys.path)
    try:  # our stdout is /dev/null, so pytest's chatter goes nowhere
        pytest.main([path, *PYTEST_ARGS, "--rootdir", folder, "--confcutdir", folder])
    finally:
        sys.stdout.flush()
        sys.path[:] = saved_path
        sys.modules.pop("warm_up", None)
        shutil.rmtree(folder, ignore_errors=True)


def _import_proxy(folder: str) -> None:
    """Load the proxy (and its channel and wire modules) from the runner's directory, which
    no candidate can write, before any test runs."""
    global _proxy
    sys.path.insert(0, folder)
    try:
        import proxy
    finally:
        sys.path.remove(folder)
    _proxy = proxy


def main() -> None:
    sock = socket.socket(fileno=int(sys.argv[1]))
    if len(sys.argv) > 2:
        _import_proxy(sys.argv[2])
    os.chdir("/")
    sys.dont_write_bytecode = True  # -I ignores PYTHONDONTWRITEBYTECODE
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    for signum in IGNORED_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    zygote = Zygote(sock)
    _warm_up()
    gc.collect()
    gc.freeze()  # fewer copy-on-write page faults in the children
    _send(sock, {"op": "ready", "python": sys.version.split()[0], "pytest": pytest.__version__})
    try:
        zygote.serve()
    finally:
        if not _IN_CHILD:
            for pid in list(zygote.running):
                _kill_session(pid)


if __name__ == "__main__":
    main()
