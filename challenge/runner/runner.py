"""The sandbox's test runner: runs /work/plan.json and hands one report to the launcher.

    python3 -I /work/_runner/launcher.py /work/_runner/runner.py /work/plan.json [--budget-s S]

The root launcher (launcher.py) starts this runner under the trusted uid with one socketpair
(fd 3) to itself. The runner never imports candidate code. Each planned test runs in its own
fresh child process, forked by a zygote (zygote.py, a separate interpreter); scheduler.py runs
up to `max_parallel` of them, asks the launcher for a candidate host per test (the answer,
imported by candidate_host.py in a process and uid of its own: slot k's uid 61000+k), hands
the test its end of their socketpair, collects each outcome from a pipe it created for that
test, and has the launcher sweep the slot's uid when the test ends. At the end it sends the
report to the launcher, which signs it (HMAC-SHA256 under a key only it holds) and prints

    JQBENCH-REPORT <hmac> {"python": "3.11.2", "pytest": "7.2.1", "tampered": [],
                           "tests": [{profile, id, outcome, duration_s, message, output}]}

with every planned test once, in plan order. `--budget-s` stops the run in time for the
report: tests still running then are killed and, like tests not yet started, are errors.

Threat model (docs/trust-boundary.md). The candidate's code is hostile or broken. It runs only
in candidate hosts, each under a candidate uid, which own nothing they could use: /work is
root's (mode 0755), the key file was root's (0400) and is deleted before the runner or any
candidate host starts, and
processes of other uids cannot be signalled, traced or read (memory, fds, environment). What
a test judges is decided on the trusted side: the test calls the queue through a proxy
(proxy.py) and only tagged plain data crosses (wire.py), never pickles; job functions stay on
the trusted side (the candidate gets stubs that call back), so which job ran, when, with which
arguments and in what order is observed with the trusted clock. Guarded:
- forging the verdict: pytest, the suites, the zygote and the runner run under the trusted uid
  and never run candidate code; patching them, tracing them or reading their memory needs
  that uid. pytest runs with --noconftest, and /work is not writable by candidates (no new
  conftest.py, no swapped suite).
- forging or stealing the report: the key lives in the launcher only (no argv, environment or
  file after start-up); a line printed by other means lacks a valid HMAC.
- values that lie (an `__eq__` that is always True), fake clocks (time is read on the
  trusted side), a synchronous queue posing as asynchronous (a job run inside add_job runs in
  the calling test thread on the trusted side too).
- leftovers: a candidate uid is swept (kill(-1, SIGKILL) as that uid until /proc shows no
  task of it, zombie-looking thread groups included) after its test; a pass is void if any
  task survives, and the slot is used again only when none did.
- exiting, crashing, hanging, forking, fork bombs within the pids limit, memory exhaustion
  (candidate hosts have oom_score_adj 1000), closing or dup2-ing fds: the candidate host dies
  or hangs, and the test fails or times out; the test's own process is trusted code.
What remains (small): the inside checks (strict L4's guarded writes, strict L5's import,
core and own-modules checks: 5 tests) run beside the candidate and trust what they see there;
an audit hook voids the known ways to tamper with them (ctypes, gc walks, other threads'
frames, tracing, /proc/*/mem|fd|environ), but an answer written against them could still
forge them by plain Python (e.g. replacing a function of the check's module). A candidate
can also spend its CPU share and memory to slow tests that run beside it (bounded by the
container's cpu shares, pids and memory limits) and can read the suites (they are no secret).
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
sys.path[:0] = [HERE]  # started with -I: our directory is not on the path by itself

from launcher_link import LauncherLink  # noqa: E402 - from our own directory
from scheduler import Scheduler  # noqa: E402

sys.path[:] = [p for p in sys.path if p not in ("", HERE)]

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
#: Signals a candidate could send us; ignoring them leaves only SIGKILL/SIGSTOP.
IGNORED_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM,
                   signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM, signal.SIGTSTP,
                   signal.SIGTTIN, signal.SIGTTOU, signal.SIGPIPE, signal.SIGXCPU,
                   signal.SIGXFSZ)


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
                 tampered: list[str], timing: dict | None = None) -> dict:
    """The report object; if bundle files changed, no test is reported as passed."""
    if tampered:
        note = "bundle file modified during the run (" + ", ".join(tampered[:5]) + ")"
        for outcome in outcomes:
            if outcome["outcome"] == "passed":
                outcome["outcome"] = "error"
                outcome["message"] = f"not trusted: {note}"
    return {"python": python, "pytest": pytest, "tampered": tampered, "tests": outcomes,
            "timing": timing or {}}


CGROUP_CPU_FILES = ("/sys/fs/cgroup/cpuacct/cpuacct.usage", "/sys/fs/cgroup/cpu.stat")
"""The container's CPU time: cgroup v1 (nanoseconds), or v2 (`usage_usec` in cpu.stat)."""


def container_cpu_s() -> float | None:
    """CPU seconds every process of this container has used so far, if the cgroup says."""
    for path in CGROUP_CPU_FILES:
        try:
            with open(path) as handle:
                text = handle.read()
        except OSError:
            continue
        if path.endswith("cpuacct.usage"):
            return int(text.strip()) / 1e9
        for line in text.splitlines():
            if line.startswith("usage_usec "):
                return int(line.split()[1]) / 1e6
    return None


def timing(started: float, dispatched: list[float]) -> dict:
    """Where the runner's time went: setup (zygote warm-up) and the tests, and the CPU."""
    now = time.monotonic()
    first = min(dispatched) if dispatched else now
    figures = {"setup_s": first - started, "tests_s": now - first, "cpu_s": container_cpu_s()}
    return {name: round(value, 3) for name, value in figures.items() if value is not None}


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
    link = LauncherLink()
    harden()
    with open(os.path.join(HERE, "zygote.py")) as handle:
        zygote_source = handle.read()
    with open(plan_path) as handle:
        plan = json.load(handle)
    facts = snapshot(root)  # the key file is gone already
    tampered: list[str] = []

    def after_test(_run) -> None:
        for rel in changed_files(root, facts):
            if rel not in tampered:
                tampered.append(rel)

    scheduler = Scheduler(
        plan, root, zygote_source, on_finished=after_test,
        budget_deadline=None if budget is None else started + budget,
        link=link, runner_dir=HERE,
    )
    try:
        outcomes = scheduler.run()
    finally:
        kill_descendants(os.getpid())
    after_test(None)
    log = scheduler.zygote_log.text().strip()
    if log:
        print(log, file=sys.stderr)
    report = build_report(sys.version.split()[0], scheduler.pytest_version, outcomes, tampered,
                          timing(started, [r.dispatched_at for r in scheduler.runs
                                           if r.dispatched_at]))
    link.report(json.dumps(report))  # the launcher signs and prints it
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"runner: {exc}", file=sys.stderr)
        sys.exit(2)
