"""The sandbox's root launcher (docs/trust-boundary.md): the only process that holds the key.

    python3 -I /work/_runner/launcher.py RUNNER [ARG ...]

Runs as uid 0 with only CAP_SETUID, CAP_SETGID and CAP_KILL and never runs candidate code.
It empties its environment, starts the host spawner (host_spawner.py, which forks candidate
hosts and never sees the key), reads the report key from /work/.key (root's, mode 0400) and
deletes it, and starts RUNNER (the trusted side) under TRUSTED_UID with one end of a
socketpair on fd 3. Then it serves the runner's requests on that socketpair (one JSON
object per SOCK_SEQPACKET message):

    {"op": "spawn", "slot": k, "dir": D, "module": M, "nice": n}  + one fd (the test's
        channel end)
        -> {"pid": p, "uid": u}: a candidate host (candidate_host.py, forked by the spawner) on D/M
           under slot k's uid, in a new session and a fresh directory of its own, with that
           fd as its only one
    {"op": "sweep", "slot": k} -> {"survivors": n}: every task of slot k's uid killed
    {"op": "report", "body": TEXT} -> {"ok": true}, and prints on stdout
        JQBENCH-REPORT <hex HMAC-SHA256 of TEXT under the key> TEXT

The host trusts a report only with a valid HMAC, and the key never leaves this process:
no argv, no environment, no file after start-up, and no process of another uid can read
this one's memory. When the runner is gone (or after the report) every slot is swept and
the runner's processes are killed; no report then means every test is an error.
"""

import hashlib
import hmac
import json
import os
import signal
import socket
import sys

# Before any import of ours: this process and the spawner it forks are root, and a .pyc
# written into /work/_runner while the runner watches the bundle voids every test of the run.
sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE]
from host_spawner import Spawner  # noqa: E402
from uids import TRUSTED_UID, candidate_uid, drop_to, sweep  # noqa: E402

sys.path.remove(HERE)

MARKER = "JQBENCH-REPORT"
KEY_PATH = "/work/.key"
PYTHON = sys.executable or "/usr/bin/python3"
MESSAGE_LIMIT = 1 << 24
MAX_FDS = 4
"""Fds accepted with one request (a spawn sends one)."""
SAFE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
IGNORED_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM,
                   signal.SIGUSR1, signal.SIGUSR2, signal.SIGPIPE)


def take_key(path: str = KEY_PATH) -> bytes:
    """Read the key and delete its file; refuse one that others could have read."""
    info = os.lstat(path)
    if info.st_uid != 0 or info.st_mode & 0o077:
        raise PermissionError(f"{path} must be root's and mode 0400")
    with open(path, "rb") as handle:
        key = handle.read().strip()
    os.unlink(path)
    if len(key) < 16:
        raise ValueError("the key is too short")
    return key


def sign(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def report_line(key: bytes, body: str) -> str:
    return f"{MARKER} {sign(key, body)} {body}"


class Launcher:
    def __init__(self, key: bytes, runner_argv: list[str], spawner: Spawner) -> None:
        self._key = key
        self._spawner = spawner
        self._runner_argv = runner_argv
        self._slots_used: set[int] = set()
        self._spawned = 0
        self.reported = False

    def start_runner(self) -> socket.socket:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            try:
                ours.close()
                os.setsid()
                drop_to(TRUSTED_UID)
                os.dup2(theirs.fileno(), 3)
                os.closerange(4, 1 << 16)
                os.execve(PYTHON, [PYTHON, "-I", *self._runner_argv],
                          {**SAFE_ENV, "HOME": "/tmp", "JQBENCH_LAUNCHER_FD": "3"})
            finally:
                os._exit(127)
        theirs.close()
        return ours

    def spawn(self, slot: int, fd: int, folder: str, module: str, nice: int = 0) -> int:
        uid = candidate_uid(slot)
        self._slots_used.add(slot)
        self._spawned += 1
        workdir = f"/tmp/candidate-{slot}-{self._spawned}"
        return self._spawner.spawn(uid, workdir, fd, folder, module, nice)

    def handle(self, request: dict[str, object], fds: list[int]) -> dict[str, object]:
        op = request.get("op")
        if op == "spawn":
            if len(fds) != 1:
                raise ValueError("spawn needs exactly one fd")
            slot = int(str(request["slot"]))
            return {"pid": self.spawn(slot, fds[0], str(request["dir"]),
                                      str(request.get("module", "job_queue")),
                                      int(str(request.get("nice", 0)))),
                    "uid": candidate_uid(slot)}
        if op == "sweep":
            slot = int(str(request["slot"]))
            return {"survivors": sweep(candidate_uid(slot))}
        if op == "report":
            if self.reported:
                raise ValueError("one report per run")
            print(report_line(self._key, str(request["body"])), flush=True)
            self.reported = True
            return {"ok": True}
        raise ValueError(f"unknown request {op!r}")

    def serve(self, sock: socket.socket) -> None:
        while not self.reported:
            _reap()
            try:
                data, fds, _, _ = socket.recv_fds(sock, MESSAGE_LIMIT, MAX_FDS)
            except OSError:
                return
            if not data:
                return  # the runner is gone
            try:
                answer = self.handle(json.loads(data), fds)
            except (ValueError, KeyError, TypeError, OSError) as exc:
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            finally:
                for fd in fds:
                    os.close(fd)
            try:
                sock.send(json.dumps(answer).encode())
            except OSError:
                return

    def finish(self) -> None:
        """Sweep every slot used and kill whatever is left of the runner."""
        self._spawner.close()
        for slot in sorted(self._slots_used):
            sweep(candidate_uid(slot))
        sweep(TRUSTED_UID)
        _reap()  # the runner included


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main(argv: list[str]) -> int:
    if os.getuid() != 0:
        print("launcher: must start as root (the container's uid 0)", file=sys.stderr)
        return 2
    if not argv:
        print("usage: launcher.py RUNNER [ARG ...]", file=sys.stderr)
        return 2
    os.environ.clear()
    os.environ.update(SAFE_ENV)
    spawner = Spawner()  # before the key is read: no host inherits memory that held it
    key = take_key()
    for signum in IGNORED_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    launcher = Launcher(key, argv, spawner)
    sock = launcher.start_runner()
    try:
        launcher.serve(sock)
    finally:
        launcher.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
