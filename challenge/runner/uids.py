"""What the root launcher does with uids (docs/trust-boundary.md), stdlib only.

The sandbox container starts as uid 0 with only CAP_SETUID, CAP_SETGID and CAP_KILL (no
CAP_CHOWN, no CAP_DAC_OVERRIDE: root here cannot read or change what a candidate owns). The
launcher never runs candidate code; it starts the trusted side under TRUSTED_UID and each
candidate under a uid of its own slot, and sweeps a slot's uid before it is used again.
Processes of different uids cannot signal, ptrace or read the memory, fds or environment of
each other, and a candidate uid owns nothing it could write but its own directory.
"""

import contextlib
import os
import signal
import stat
import time

TRUSTED_UID = 60000
"""The runner, the zygote and the test processes: suites, proxy, verdict."""
CANDIDATE_UID_BASE = 61000
"""Slot k's candidate runs as CANDIDATE_UID_BASE + k (far from any host user)."""
SWEEP_TIMEOUT_S = 5.0


def candidate_uid(slot: int) -> int:
    if not 0 <= slot < 1000:
        raise ValueError(f"slot {slot} out of range")
    return CANDIDATE_UID_BASE + slot


def drop_to(uid: int) -> None:
    """Become `uid` for good (group too, no supplementary groups); no way back to root."""
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid or os.getgid() != uid:
        raise PermissionError(f"could not become uid {uid}")


def own_dir(path: str) -> str:
    """A fresh directory that only this (already dropped) uid may enter and write: made by
    the candidate itself under a sticky, world-writable parent such as /tmp (root holds no
    CAP_CHOWN to hand one over), and refused if someone else's or not a plain directory."""
    os.mkdir(path, 0o700)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise PermissionError(f"{path} is not a directory of our own")
    return path


def live_tasks(uid: int, exclude: int | None = None, *, running: bool = False) -> list[int]:
    """Task ids of `uid`'s processes that are not zombies (with `running`: nor stopped).
    A thread group whose leader exited shows the leader as a zombie while its other threads
    still run: then its threads are looked at one by one. (Threads share their process's
    uids unless it changes them per thread, which takes capabilities no candidate has.)"""
    dead = (b"Z", b"X", b"T", b"t") if running else (b"Z", b"X")
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == exclude:
            continue
        try:  # /proc/<pid> is its owner's, or root's if it made itself non-dumpable
            if os.stat(f"/proc/{name}").st_uid not in (uid, 0):
                continue
        except OSError:
            continue
        facts = _task_facts(f"/proc/{name}/status")
        if facts is None or not uid_matches(facts[1], uid):
            continue
        if facts[0] not in (b"Z", b"X"):
            if facts[0] not in dead:
                found.append(int(name))
            continue
        try:
            tasks = os.listdir(f"/proc/{name}/task")
        except OSError:
            continue
        for tid in tasks:
            thread = _task_facts(f"/proc/{name}/task/{tid}/status")
            if thread is not None and thread[0] not in dead:
                found.append(int(tid))
    return found


def _task_facts(path: str) -> tuple[bytes, list[str]] | None:
    """(state letter, [real, effective, saved, fs uid]) from a status file, or None."""
    try:
        with open(path, "rb") as handle:
            status = handle.read()
    except OSError:
        return None
    state_at, uid_at = status.find(b"\nState:\t"), status.find(b"\nUid:\t")
    if state_at < 0 or uid_at < 0:
        return None
    state = status[state_at + 8:state_at + 9]
    uids = status[uid_at + 6:status.find(b"\n", uid_at + 6)].decode().split()
    return state, uids


def uid_matches(uids: list[str], uid: int) -> bool:
    """Whether any of a task's real, effective, saved or filesystem uids is `uid`."""
    return any(value == str(uid) for value in uids)


def kill_tasks(uid: int) -> None:
    """Stop, then kill, every task of `uid` that /proc shows (needs CAP_KILL): used when no
    sweeper can be forked because that uid's processes hold every pid (a fork bomb). Killing
    alone cannot win: each freed pid goes to the next fork; a stopped process forks no more."""
    for _ in range(100):
        running = live_tasks(uid, running=True)
        if not running:
            break
        for tid in running:
            with contextlib.suppress(OSError):
                os.kill(tid, signal.SIGSTOP)
    for tid in live_tasks(uid):
        with contextlib.suppress(OSError):
            os.kill(tid, signal.SIGKILL)


def sweep(uid: int, timeout_s: float = SWEEP_TIMEOUT_S) -> int:
    """Kill every task of `uid`, from a child that becomes that uid and sends
    kill(-1, SIGKILL) (which reaches exactly the processes that uid may signal, zombie-looking
    thread groups included) until /proc shows none; the number that survived (0: the uid
    may be used again). While the pids limit leaves no room for that child, the tasks /proc
    shows are stopped and killed from here."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            pid = os.fork()
            break
        except BlockingIOError:  # EAGAIN: the pids limit is reached
            kill_tasks(uid)
            if time.monotonic() > deadline:
                return min(len(live_tasks(uid)), 100) or 101
            time.sleep(0.005)
    if pid == 0:  # the sweeper: never returns
        code = 0
        try:
            drop_to(uid)
            me = os.getpid()
            deadline = time.monotonic() + timeout_s
            while True:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(-1, signal.SIGKILL)
                left = live_tasks(uid, exclude=me)
                if not left:
                    break
                if time.monotonic() > deadline:
                    code = min(len(left), 100)
                    break
                time.sleep(0.002)
        except BaseException:
            code = 101
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 101
