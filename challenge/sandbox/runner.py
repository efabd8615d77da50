"""The sandbox's test runner: runs /work/plan.json and prints one authenticated report line.

    python3 /work/_runner/runner.py /work/plan.json [--budget-s SECONDS]

It runs inside the throwaway container (Python 3.11, stdlib + pytest 7.2.1, uid 1000) and
never imports candidate code. Each planned test runs in its own fresh child process, forked
by a zygote (zygote.py) that is a separate interpreter; scheduler.py runs up to
`max_parallel` of them and collects each outcome from a pipe it created for that test.
At the end it prints exactly one line on stdout:

    JQBENCH-REPORT <nonce> {"python": "3.11.2", "pytest": "7.2.1", "tampered": [],
                            "tests": [{profile, id, outcome, duration_s, message, output}]}

with every planned test once, in plan order. `<nonce>` is read from /work/.nonce (beside
the plan) and that file is deleted before anything else runs; the host trusts only the line
carrying it. `--budget-s` stops the run in time for the report: tests still running then are
killed and, like tests not yet started, reported as errors.

Threat model. The candidate's code is hostile or broken and runs as the same uid as this
runner, in test children only. Guarded (none of these can produce a pass, and the other
tests are still reported):
- exiting at import or mid-test (sys.exit, os._exit(0), segfault, SIGKILL to itself): a test
  passes only on a result line its child writes after pytest itself returned OK with setup,
  call and teardown of that very test passed; no line means `error`.
- forging the report: test output goes to a per-test pipe, never our stdout; a line written
  to the container's stdout by other means lacks the nonce, which no test process can learn
  (it is read and deleted before any test starts, the zygote is a fresh interpreter that never
  sees it, and this process makes itself non-dumpable so /proc/<pid>/mem, environ, fd and
  ptrace are closed to same-uid processes).
- writing files: nothing is read back from /work after start-up (no report files); the
  zygote is respawned from source held in memory; every file the bundle put in /work is
  hashed at start and re-checked after each test and at the end; if one changed, no test of
  the run is reported as passed ("tampered").
- forks, fork bombs within the pids limit, stray processes and threads: each test has its own
  session, killed when the test ends; the runner and zygote are child subreapers, so orphans
  are reaped (no zombie piles eating the pids limit) and killed before the report; a fork that
  fails for lack of pids is retried until the test's deadline.
- memory exhaustion: test processes have oom_score_adj 1000, so the kernel kills them rather
  than the runner; such a test is an `error` that says "out of memory".
- hangs and never-ending threads: per-test timeout (the session is SIGKILLed), then os._exit.
- closing or dup2-ing fds 0/1/2, junk on the result pipe, killing or stopping the parent
  (the zygote): results travel on pipes straight to this process, and a killed zygote is
  replaced (at most a few times).
Out of scope (bounded by the container, not prevented here): code written to attack this
harness on purpose - monkeypatching pytest inside its own test process, or forging its own
result line with the token it can dig out of its memory; attaching (ptrace, /proc/<pid>/fd)
to the zygote or to other test processes, which share its uid, to forge their lines; killing
or stopping this runner (kill(-1, SIGKILL) can: then no report carries the nonce and every
test is an `error`, never a pass). The container's limits (read-only root, no network, no
capabilities, pids, memory, wall clock) bound what any of that can do.
"""

import contextlib
import ctypes
import hashlib
import json
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # leave /work exactly as the host wrote it

from scheduler import Scheduler  # noqa: E402 - from our own directory, loaded before tests run

# Nothing is imported from our directory (writable by test code) after this point.
sys.path[:] = [p for p in sys.path if p not in ("", HERE)]

MARKER = "JQBENCH-REPORT"
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
#: Signals a candidate could send us; ignoring them leaves only SIGKILL/SIGSTOP.
IGNORED_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM,
                   signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM, signal.SIGTSTP,
                   signal.SIGTTIN, signal.SIGTTOU, signal.SIGPIPE, signal.SIGXCPU,
                   signal.SIGXFSZ)


def take_nonce(path: str) -> str:
    """Read the report nonce and delete its file, so no test process can read it later."""
    with open(path) as handle:
        nonce = handle.read().strip()
    os.unlink(path)
    if not nonce or not nonce.isalnum():
        raise ValueError("the nonce file is empty or malformed")
    return nonce


def harden() -> None:
    """Make this process unreadable by same-uid test code and the reaper of orphans."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError) as exc:
        print(f"runner: prctl unavailable ({exc}); running unhardened", file=sys.stderr)
    for signum in IGNORED_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def snapshot(root: str) -> dict[str, tuple[int, str]]:
    """Size and sha256 of every regular file under `root` (relative path -> facts)."""
    facts: dict[str, tuple[int, str]] = {}
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            if os.path.isfile(path) and not os.path.islink(path):
                digest = _file_digest(path, None)
                if digest is not None:
                    facts[rel] = digest
    return facts


def _file_digest(path: str, max_size: int | None) -> tuple[int, str] | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        size = os.fstat(fd).st_size
        if max_size is not None and size != max_size:
            return size, ""
        digest = hashlib.sha256()
        while chunk := os.read(fd, 1 << 16):
            digest.update(chunk)
        return size, digest.hexdigest()
    finally:
        os.close(fd)


def changed_files(root: str, facts: dict[str, tuple[int, str]]) -> list[str]:
    """Files of the snapshot that are gone or differ now."""
    return [rel for rel, (size, digest) in facts.items()
            if _file_digest(os.path.join(root, rel), size) != (size, digest)]


def kill_descendants(root_pid: int) -> None:
    """SIGKILL every process below `root_pid` (as subreaper, orphans stay below us)."""
    for _ in range(100):
        children: dict[int, list[int]] = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as handle:
                    fields = handle.read().rsplit(b")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[0] != b"Z":
                children.setdefault(int(fields[1]), []).append(int(name))
        victims, stack = [], list(children.get(root_pid, []))
        while stack:
            pid = stack.pop()
            victims.append(pid)
            stack.extend(children.get(pid, []))
        if not victims:
            return
        for pid in victims:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        _reap_all()
        time.sleep(0.002)


def _reap_all() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def build_report(python: str, pytest: str | None, outcomes: list[dict],
                 tampered: list[str]) -> dict:
    """The report object; if bundle files changed, no test is reported as passed."""
    if tampered:
        note = "bundle file modified during the run (" + ", ".join(tampered[:5]) + ")"
        for outcome in outcomes:
            if outcome["outcome"] == "passed":
                outcome["outcome"] = "error"
                outcome["message"] = f"not trusted: {note}"
    return {"python": python, "pytest": pytest, "tampered": tampered, "tests": outcomes}


def _parse_args(argv: list[str]) -> tuple[str, float | None]:
    args = list(argv)
    budget = None
    if "--budget-s" in args:
        at = args.index("--budget-s")
        budget = float(args[at + 1])
        del args[at:at + 2]
    if len(args) != 1:
        raise ValueError("usage: runner.py PLAN.json [--budget-s SECONDS]")
    return args[0], budget


def main(argv: list[str]) -> int:
    started = time.monotonic()
    plan_path, budget = _parse_args(argv)
    root = os.path.dirname(os.path.abspath(plan_path))
    nonce = take_nonce(os.path.join(root, ".nonce"))
    harden()
    with open(os.path.join(HERE, "zygote.py")) as handle:
        zygote_source = handle.read()
    with open(plan_path) as handle:
        plan = json.load(handle)
    facts = snapshot(root)  # the nonce file is gone already
    tampered: list[str] = []

    def after_test(_run) -> None:
        for rel in changed_files(root, facts):
            if rel not in tampered:
                tampered.append(rel)

    scheduler = Scheduler(
        plan, root, zygote_source, on_finished=after_test,
        budget_deadline=None if budget is None else started + budget,
    )
    try:
        outcomes = scheduler.run()
    finally:
        kill_descendants(os.getpid())
    after_test(None)
    log = scheduler.zygote_log.text().strip()
    if log:
        print(log, file=sys.stderr)
    report = build_report(sys.version.split()[0], scheduler.pytest_version, outcomes, tampered)
    line = f"{MARKER} {nonce} {json.dumps(report)}\n"
    sys.stdout.write(line)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (OSError, ValueError) as exc:
        print(f"runner: {exc}", file=sys.stderr)
        sys.exit(2)
