"""Forks candidate hosts from a warm interpreter (docs/trust-boundary.md), stdlib only.

The launcher starts one spawner before it reads the report key, so the spawner's memory,
which every candidate host inherits, never held the key. The spawner imports the candidate
host's modules once, then for each request forks a child that becomes the slot's uid and
serves the answer in-process: a host costs a fork, not a fresh interpreter (about 7 MB of
private memory and 40 ms of CPU less per test, which lets 32 tests run at once in 512 MB).

Protocol (SOCK_SEQPACKET, one JSON object per message):
    launcher -> spawner  {"uid": u, "workdir": W, "dir": D, "module": M, "nice": n}
                         + the channel fd
    spawner -> launcher  {"pid": p} or {"error": "..."}
"""

import contextlib
import ctypes
import gc
import json
import os
import signal
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SAFE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
REQUEST_LIMIT = 65536
PR_SET_CHILD_SUBREAPER = 36


class Spawner:
    """The launcher's handle on its spawner process."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                ours.close()
                serve(theirs)
            except BaseException:
                code = 70
            finally:
                os._exit(code)
        theirs.close()
        self.pid = pid
        self._sock = ours

    def spawn(self, uid: int, workdir: str, fd: int, folder: str, module: str,
              nice: int = 0) -> int:
        """A candidate host under `uid` on channel `fd`, at niceness `nice` (a strict
        test's host yields the CPU to legacy's fixed waits, as the test does); its pid."""
        request = {"uid": uid, "workdir": workdir, "dir": folder, "module": module,
                   "nice": nice}
        socket.send_fds(self._sock, [json.dumps(request).encode()], [fd])
        answer = self._sock.recv(REQUEST_LIMIT)
        if not answer:
            raise OSError("the host spawner is gone")
        parsed = json.loads(answer)
        if "error" in parsed:
            raise OSError(str(parsed["error"]))
        return int(parsed["pid"])

    def close(self) -> None:
        self._sock.close()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


def serve(sock: socket.socket) -> None:
    """The spawner's loop (root, no key): one forked host per request until EOF."""
    sys.path[:0] = [HERE]
    import candidate_host  # noqa: F401 - warm: its imports are what every host needs
    from uids import drop_to, own_dir

    sys.path.remove(HERE)
    # Hosts, and every orphan they leave, end up here and are reaped by the kernel at once:
    # a fork bomb's killed processes must not linger as zombies that hold the pids limit.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    gc.collect()
    gc.freeze()  # fewer copy-on-write faults in the hosts
    while True:
        data, fds, _, _ = socket.recv_fds(sock, REQUEST_LIMIT, 1)
        if not data:
            return
        try:
            request = json.loads(data)
            if len(fds) != 1:
                raise ValueError("a spawn needs exactly one fd")
            pid = os.fork()
            if pid == 0:
                _host(sock, fds[0], request, drop_to, own_dir)
            answer = {"pid": pid}
        except (ValueError, KeyError, TypeError, OSError) as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            for fd in fds:
                os.close(fd)
        sock.send(json.dumps(answer).encode())


def _host(spawner_sock: socket.socket, channel_fd: int, request: dict, drop_to,
          own_dir) -> None:
    """In the forked child: become the slot's uid, keep only the channel (as fd 3) and
    /dev/null on 0-2, serve the answer. Never returns."""
    code = 71
    try:
        spawner_sock.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as handle:
            handle.write("1000")  # the kernel's OOM killer takes a candidate first
        if int(request.get("nice", 0)) > 0:
            os.nice(int(request["nice"]))
        drop_to(int(request["uid"]))
        home = own_dir(str(request["workdir"]))
        os.chdir(home)
        os.dup2(channel_fd, 3)
        os.closerange(0, 3)
        os.closerange(4, 1 << 16)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        if null > 3:
            os.close(null)
        os.environ.clear()
        os.environ.update({**SAFE_ENV, "HOME": home, "TMPDIR": home})
        gc.unfreeze()
        import candidate_host
        code = candidate_host.main(["3", str(request["dir"]), str(request["module"])])
    except BaseException:
        pass
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
