"""Runs the planned tests through the zygote, at most `max_parallel` at a time.

Trust rules (see runner.py for the whole threat model):
- A test's outcome comes only from its own result pipe, created here and handed to exactly
  one test child; it must hold exactly one line with that test's random token. Anything
  else (nothing, junk, two lines, the wrong token) makes the test an `error`.
- A test is finished when its process exited (the zygote, or this process as subreaper,
  reaped it), when its result pipe hit EOF, or when its time ran out (its session is then
  SIGKILLed). None of these can turn into a pass without a valid result line.
- The zygote may die (no candidate can reach it, it runs under the trusted uid, but it could
  crash): tests in flight keep their pipes to us, and a new zygote is started from the
  source read at start-up for the tests not yet run.
"""

import contextlib
import json
import os
import secrets
import selectors
import signal
import socket
import sys
import time
from dataclasses import dataclass, field

#: Zygotes started at most (the first plus respawns after a candidate killed one).
MAX_ZYGOTES = 4
#: Seconds a zygote may take to import pytest and report ready.
ZYGOTE_START_TIMEOUT_S = 60.0
#: After its result pipe closed, how long to wait for a test's exit status (only for the
#: message; the zygote can be slow to reap under load, e.g. while it kills a fork bomb).
EOF_GRACE_S = 5.0
#: After a valid result, how long a test's process may take to exit before it is killed.
EXIT_GRACE_S = 2.0
#: Bytes of a result pipe read at most; a valid result line is far shorter.
RESULT_LIMIT = 65536
#: Bytes of zygote stderr kept for diagnostics.
ZYGOTE_LOG_LIMIT = 8000
OUTCOMES = ("passed", "failed", "error", "skipped")
CAUSES = ("import_error", "timeout", "void")
"""Why a test did not pass, where it is known for certain (`challenge.outcomes.Cause`)."""


def _close(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


def _kill_group(pid: int) -> None:
    for kill in (os.killpg, os.kill):
        with contextlib.suppress(OSError):
            kill(pid, signal.SIGKILL)


def oom_kills() -> int | None:
    """The container's OOM-kill counter (cgroup v1 or v2), or None where it cannot be read."""
    for path in ("/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events"):
        try:
            with open(path) as handle:
                for line in handle:
                    name, _, value = line.partition(" ")
                    if name == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return None


class TailBuffer:
    """The last `cap` bytes written, and how many were dropped before them."""

    def __init__(self, cap: int) -> None:
        self.cap = max(0, cap)
        self.data = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        excess = len(self.data) - self.cap
        if excess > 0:
            del self.data[:excess]
            self.dropped += excess

    def text(self) -> str:
        body = bytes(self.data)
        if self.dropped:
            marker = f"[... {self.dropped} bytes dropped]\n".encode()
            body = marker + body[len(marker):] if len(marker) < len(body) else body
        return body.decode("utf-8", "replace")


@dataclass
class TestRun:
    """Book-keeping for one planned test while it runs."""

    index: int
    spec: dict
    token: str
    output: TailBuffer
    result_r: int | None = None
    output_r: int | None = None
    dispatched_at: float = 0.0
    deadline: float = 0.0
    pid: int | None = None
    result: bytearray = field(default_factory=bytearray)
    result_at: float | None = None
    eof_at: float | None = None
    exit_status: int | None = None
    spawn_error: str | None = None
    timed_out: bool = False
    oom_before: int | None = None
    slot: int | None = None
    """The candidate slot (uid) of the test's candidate host, until it is swept."""
    candidate_uid: int | None = None
    """The uid of the test's candidate host, once started."""
    survivors: int = 0
    """Tasks of the candidate's uid that outlived the sweep after the test (a pass is void)."""
    outcome: dict | None = None

    def parsed(self) -> dict | None:
        """The test's result line if it is exactly one valid line carrying our token."""
        if not self.result.endswith(b"\n") or self.result.count(b"\n") != 1:
            return None
        try:
            message = json.loads(self.result)
        except ValueError:
            return None
        if (not isinstance(message, dict) or message.get("token") != self.token
                or message.get("outcome") not in OUTCOMES
                or message.get("cause") not in (None, *CAUSES)):
            return None
        return message


def parse_result_line(data: bytes, token: str) -> dict | None:
    """Validate a result pipe's content (exposed for tests of the rule)."""
    probe = TestRun(index=0, spec={}, token=token, output=TailBuffer(0))
    probe.result += data
    return probe.parsed()


class Scheduler:
    """Dispatch tests to the zygote, watch their pipes and processes, collect outcomes."""

    def __init__(self, plan: dict, root: str, zygote_source: str, *,
                 budget_deadline: float | None = None,
                 on_finished=None, link=None, runner_dir: str | None = None) -> None:
        self.tests: list[dict] = list(plan["tests"])
        self.root = root
        limits = plan["limits"]  # challenge/plan.py RunnerLimits, always written in full
        self.timeout_s = float(limits["test_timeout_s"])
        self.max_parallel = max(1, int(limits["max_parallel"]))
        self.output_cap = max(0, int(limits["output_cap_bytes"]))
        self.zygote_source = zygote_source
        self.budget_deadline = budget_deadline
        self.on_finished = on_finished or (lambda run: None)
        self.runs = [TestRun(i, t, secrets.token_hex(16), TailBuffer(self.output_cap))
                     for i, t in enumerate(self.tests)]
        self.link = link
        """The launcher (launcher_link.LauncherLink): candidate hosts and sweeps."""
        self.runner_dir = runner_dir
        self.free_slots = list(range(self.max_parallel))
        self.pending = list(range(len(self.runs)))
        self.running: dict[int, TestRun] = {}
        self.by_pid: dict[int, TestRun] = {}
        self.selector = selectors.DefaultSelector()
        self.pytest_version: str | None = None
        self.zygote_log = TailBuffer(ZYGOTE_LOG_LIMIT)
        self.zygotes_started = 0
        self.zygote_pid: int | None = None
        self.zygote_sock: socket.socket | None = None
        self.zygote_err: int | None = None
        self.zygote_ready = False
        self.zygote_started_at = 0.0
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.selector.register(self.wake_r, selectors.EVENT_READ, ("wake", None))

    # --- the zygote --------------------------------------------------------------------

    def _start_zygote(self) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        err_r, err_w = os.pipe()
        child.set_inheritable(True)
        tmp = os.environ.get("TMPDIR", "/tmp")
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": tmp,
            "TMPDIR": tmp,
            "LANG": "C.UTF-8",
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self.zygotes_started += 1
        try:
            pid = os.posix_spawn(
                sys.executable,
                [sys.executable, "-I", "-c", self.zygote_source, str(child.fileno()),
                 *([self.runner_dir] if self.runner_dir else [])],
                env,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                    (os.POSIX_SPAWN_DUP2, err_w, 2),
                ],
                setsigdef=tuple(s for s in signal.Signals if s not in (signal.SIGKILL,
                                                                     signal.SIGSTOP)),
            )
        except OSError as exc:
            self.zygote_log.add(f"runner: cannot start the zygote: {exc}\n".encode())
            parent.close()
            _close(err_r)
            return
        finally:
            child.close()
            _close(err_w)
        os.set_blocking(err_r, False)
        parent.setblocking(False)
        self.zygote_pid, self.zygote_sock, self.zygote_err = pid, parent, err_r
        self.zygote_ready = False
        self.zygote_started_at = time.monotonic()
        self.selector.register(parent, selectors.EVENT_READ, ("control", None))
        self.selector.register(err_r, selectors.EVENT_READ, ("zygote_err", None))

    def _zygote_gone(self, why: str) -> None:
        if self.zygote_sock is None:
            return
        self.zygote_log.add(f"runner: zygote gone ({why})\n".encode())
        self.selector.unregister(self.zygote_sock)
        self.zygote_sock.close()
        self.zygote_sock = None
        self.zygote_ready = False
        if self.zygote_pid is not None:  # not reaped yet, so the pid cannot be reused
            with contextlib.suppress(OSError):
                os.kill(self.zygote_pid, signal.SIGKILL)
        self._drain_zygote_err()

    def _drain_zygote_err(self) -> None:
        if self.zygote_err is None:
            return
        try:
            while chunk := os.read(self.zygote_err, 65536):
                self.zygote_log.add(chunk)
        except BlockingIOError:
            return
        except OSError:
            pass
        self.selector.unregister(self.zygote_err)
        _close(self.zygote_err)
        self.zygote_err = None

    # --- tests -------------------------------------------------------------------------

    def _dispatch(self, run: TestRun) -> bool:
        assert self.zygote_sock is not None
        result_r, result_w = os.pipe()
        output_r, output_w = os.pipe()
        now = time.monotonic()
        deadline = now + self.timeout_s
        if self.budget_deadline is not None:
            deadline = min(deadline, self.budget_deadline)
        spec = run.spec
        candidate = spec.get("candidate")
        message = {
            "op": "run", "index": run.index, "token": run.token,
            "cwd": os.path.normpath(os.path.join(self.root, spec["cwd"])),
            "file": spec["file"], "function": spec["function"], "deadline": deadline,
            "nice": int(spec.get("cpu_nice", 0)),
            "proxy_as": candidate["proxy_as"] if candidate else None,
        }
        fds = [result_w, output_w]
        channel = self._candidate_host(run, candidate) if candidate else None
        if channel is not None:
            fds.append(channel.fileno())
            if spec.get("settle_sleeps"):
                message["settle_uid"] = run.candidate_uid
        elif candidate:  # no candidate host: the test cannot run
            for fd in (result_r, result_w, output_r, output_w):
                _close(fd)
            self._not_run(run.index, run.spawn_error or "no candidate host")
            return True
        try:
            socket.send_fds(self.zygote_sock, [json.dumps(message).encode()], fds)
        except OSError:
            for fd in (result_r, output_r):
                _close(fd)
            self._sweep(run)
            return False
        finally:
            _close(result_w)
            _close(output_w)
            if channel is not None:
                channel.close()
        for fd in (result_r, output_r):
            os.set_blocking(fd, False)
        run.result_r, run.output_r = result_r, output_r
        run.dispatched_at, run.deadline = now, deadline
        run.oom_before = oom_kills()
        self.selector.register(result_r, selectors.EVENT_READ, ("result", run))
        self.selector.register(output_r, selectors.EVENT_READ, ("output", run))
        self.running[run.index] = run
        return True

    def _candidate_host(self, run: TestRun, candidate: dict) -> socket.socket | None:
        """Have the launcher start the test's candidate host in a free slot; the test's end
        of their socketpair. Without a launcher (or if it refuses) the test gets no host,
        and its suite's `import job_queue` fails: an error, never a pass."""
        if self.link is None:
            run.spawn_error = "not run: no launcher to start the candidate's process"
            return None
        if not self.free_slots:
            run.spawn_error = ("not run: every candidate slot is held by processes that "
                               "outlived their sweep")
            return None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        slot = self.free_slots.pop(0)
        run.slot = slot
        try:
            _, run.candidate_uid = self.link.spawn(
                slot, theirs, os.path.normpath(os.path.join(self.root, candidate["dir"])),
                candidate["module"], nice=int(run.spec.get("cpu_nice", 0)))
        except Exception as exc:  # the launcher refused or is gone
            run.spawn_error = f"could not start the candidate's process: {exc}"
            ours.close()
            self._sweep(run)
            return None
        finally:
            theirs.close()
        return ours

    def _sweep(self, run: TestRun) -> None:
        """Kill every task of the test's candidate uid; the slot is free again only if none
        survived (a pass is then void)."""
        if run.slot is None or self.link is None:
            return
        slot, run.slot = run.slot, None
        try:
            run.survivors = self.link.sweep(slot)
        except Exception as exc:
            print(f"runner: sweep of slot {slot} failed: {exc}", file=sys.stderr)
            run.survivors = -1
        if run.survivors:
            print(f"runner: {run.survivors} task(s) of slot {slot} outlived the sweep",
                  file=sys.stderr)
        if run.survivors == 0:
            self.free_slots.append(slot)

    def _read_result(self, run: TestRun) -> None:
        try:
            while chunk := os.read(run.result_r, 65536):
                room = RESULT_LIMIT - len(run.result)
                run.result += chunk[:max(0, room)]
                if run.result_at is None and b"\n" in run.result:
                    run.result_at = time.monotonic()
        except BlockingIOError:
            return
        except OSError:
            pass
        run.eof_at = time.monotonic()  # EOF: every holder of the write end is gone
        self.selector.unregister(run.result_r)
        _close(run.result_r)
        run.result_r = None

    def _read_output(self, run: TestRun, limit: int = 1 << 20) -> None:
        read = 0
        try:
            while read < limit and (chunk := os.read(run.output_r, 65536)):
                run.output.add(chunk)
                read += len(chunk)
            if read < limit:
                self._close_output(run)
        except BlockingIOError:
            return
        except OSError:
            self._close_output(run)

    def _close_output(self, run: TestRun) -> None:
        if run.output_r is not None:
            self.selector.unregister(run.output_r)
            _close(run.output_r)
            run.output_r = None

    def _handle_control(self) -> None:
        assert self.zygote_sock is not None
        while True:
            try:
                data, fds, _flags, _addr = socket.recv_fds(self.zygote_sock, 65536, 4)
            except BlockingIOError:
                return
            except OSError as exc:
                self._zygote_gone(f"control socket: {exc}")
                return
            for fd in fds:  # the zygote never sends fds; do not leak any
                _close(fd)
            if not data:
                self._zygote_gone("control socket closed")
                return
            try:
                message = json.loads(data)
                op = message["op"]
            except (ValueError, KeyError, TypeError):
                continue
            if op == "ready":
                self.zygote_ready = True
                self.pytest_version = str(message.get("pytest"))
                continue
            run = self.running.get(message.get("index"))
            if run is None:
                continue
            if op == "started":
                run.pid = int(message["pid"])
                self.by_pid[run.pid] = run
            elif op == "spawn_failed":
                run.spawn_error = str(message.get("error", "could not start"))
            elif op == "exited" and run.pid == message.get("pid"):
                run.exit_status = int(message["status"])

    def _reap(self) -> None:
        """Reap our children: the zygote, and test processes orphaned when it died."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.zygote_pid:
                self.zygote_pid = None
                self._zygote_gone(f"exit status {status}")
            run = self.by_pid.get(pid)
            if run is not None and run.exit_status is None:
                run.exit_status = status

    def _check(self, run: TestRun, now: float) -> None:
        """Decide whether a running test is finished; kill what is left of it if so."""
        valid = run.parsed() is not None
        exited = run.exit_status is not None or run.spawn_error is not None
        # EOF without an exit status: wait briefly for it (for the message), unless the
        # zygote that would send it is gone.
        closed = run.eof_at is not None and (self.zygote_sock is None
                                             or now - run.eof_at >= EOF_GRACE_S)
        lingering = valid and run.result_at is not None and now - run.result_at >= EXIT_GRACE_S
        if not (exited or closed or lingering):
            if now < run.deadline:
                return
            run.timed_out = not valid
        if run.exit_status is None and run.pid is not None:
            _kill_group(run.pid)
        self._finish(run, now)

    def _finish(self, run: TestRun, now: float) -> None:
        if run.result_r is not None:
            self._read_result(run)
            if run.result_r is not None:
                self.selector.unregister(run.result_r)
                _close(run.result_r)
                run.result_r = None
        if run.output_r is not None:
            self._read_output(run)
            self._close_output(run)
        self._sweep(run)
        run.outcome = self._outcome(run, now)
        self.running.pop(run.index, None)
        self.on_finished(run)

    def _outcome(self, run: TestRun, now: float) -> dict:
        spec = run.spec
        outcome, message, cause = "error", "", None
        parsed = run.parsed()
        if parsed is not None:
            outcome, message = parsed["outcome"], str(parsed.get("message", ""))
            cause = parsed.get("cause")
            if outcome == "passed" and run.survivors:
                outcome, message = "error", ("void: a process of the candidate outlived the "
                                             "test's end and its sweep")
                cause = "void"
        elif run.timed_out:
            cause = "timeout"
            if self.budget_deadline is not None and run.deadline >= self.budget_deadline:
                message = "killed: the sandbox's time budget ran out"
            else:
                message = f"timed out after {self.timeout_s:g} s (killed)"
        elif run.spawn_error is not None:
            message = run.spawn_error
        elif run.result:
            message = "garbled result channel (something else wrote to it)"
        elif run.exit_status is not None:
            message = self._exit_text(run)
        else:
            message = "the test process ended without reporting a result"
        if outcome != "passed" and "out of memory" not in message and self._oom_during(run):
            message += " (out of memory: the container's memory limit was reached)"
        return {
            "profile": spec["profile"], "id": spec["id"], "outcome": outcome,
            "duration_s": round(max(0.0, (run.result_at or now) - run.dispatched_at), 3),
            "message": message, "output": run.output.text(), "cause": cause,
        }

    @staticmethod
    def _oom_during(run: TestRun) -> bool:
        """Whether the kernel's OOM killer struck while the test ran (in the candidate's
        process, most likely: it is the first the killer takes)."""
        after = oom_kills()
        return after is not None and run.oom_before is not None and after > run.oom_before

    def _exit_text(self, run: TestRun) -> str:
        status = run.exit_status or 0
        if os.WIFSIGNALED(status):
            signum = os.WTERMSIG(status)
            try:
                name = signal.Signals(signum).name
            except ValueError:
                name = f"signal {signum}"
            text = f"the test process was killed by {name} without reporting a result"
            after = oom_kills()
            if (signum == signal.SIGKILL and after is not None and run.oom_before is not None
                    and after > run.oom_before):
                text += " (out of memory: the container's memory limit was reached)"
            return text
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
        return f"the test process exited with code {code} without reporting a result"

    def _not_run(self, index: int, message: str, cause: str | None = None) -> None:
        run = self.runs[index]
        run.outcome = {
            "profile": run.spec["profile"], "id": run.spec["id"], "outcome": "error",
            "duration_s": 0.0, "message": message, "output": "", "cause": cause,
        }
        self.on_finished(run)

    # --- the loop ----------------------------------------------------------------------

    def run(self) -> list[dict]:
        """Run every planned test; return their outcome dicts in plan order."""
        try:
            self._loop()
        finally:
            if self.zygote_sock is not None:
                self.selector.unregister(self.zygote_sock)
                self.zygote_sock.close()
                self.zygote_sock = None
        return [run.outcome for run in self.runs]

    def _loop(self) -> None:
        while self.pending or self.running:
            now = time.monotonic()
            if self.budget_deadline is not None and now >= self.budget_deadline:
                for index in self.pending:
                    self._not_run(index, "not run: the sandbox's time budget ran out",
                                  "timeout")
                self.pending.clear()
            self._manage_zygote(now)
            while (self.pending and self.zygote_ready
                   and len(self.running) < self.max_parallel):
                if not self._dispatch(self.runs[self.pending[0]]):
                    break
                self.pending.pop(0)
            deadlines = [run.deadline for run in self.running.values()]
            if self.zygote_sock is not None and not self.zygote_ready:
                deadlines.append(self.zygote_started_at + ZYGOTE_START_TIMEOUT_S)
            if self.budget_deadline is not None:
                deadlines.append(self.budget_deadline)
            timeout = min(deadlines, default=now + 1.0) - now
            if any(r.eof_at is not None or r.result_at is not None
                   for r in self.running.values()):
                timeout = min(timeout, 0.05)
            for key, _ in self.selector.select(max(0.0, timeout)):
                kind, run = key.data
                if kind == "wake":
                    with contextlib.suppress(BlockingIOError):
                        os.read(self.wake_r, 4096)
                elif kind == "control":
                    self._handle_control()
                elif kind == "zygote_err":
                    self._drain_zygote_err()
                elif kind == "result" and run.result_r is not None:
                    self._read_result(run)
                elif kind == "output" and run.output_r is not None:
                    self._read_output(run)
            if self.zygote_sock is not None:
                self._handle_control()
            self._reap()
            now = time.monotonic()
            for run in list(self.running.values()):
                self._check(run, now)

    def _manage_zygote(self, now: float) -> None:
        if self.zygote_sock is not None:
            if not self.zygote_ready and now - self.zygote_started_at > ZYGOTE_START_TIMEOUT_S:
                self._zygote_gone("not ready in time")
            return
        if not self.pending:
            return
        if self.zygotes_started >= MAX_ZYGOTES:
            log = self.zygote_log.text().strip().splitlines()[-5:]
            why = "the test host process died repeatedly"
            for index in self.pending:
                self._not_run(index, f"not run: {why}" + (": " + " | ".join(log) if log else ""))
            self.pending.clear()
            return
        self._start_zygote()
