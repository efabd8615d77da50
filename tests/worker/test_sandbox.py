"""The Docker sandbox: pure parts (tar, stream framing, limits) and, with Docker, every flag
and limit observed from inside the container, failure modes, and container removal."""

import io
import json
import socket
import tarfile
import threading
import time
import uuid

import pytest

from challenge.plan import RunnerLimits
from worker._archive import build_archive, check_path
from worker._docker import (
    LABEL_ROLE,
    DockerSandbox,
    StreamTail,
    _StreamReader,
    shell_command,
)
from worker.errors import ServiceUnavailable
from worker.sandbox import (
    LABEL_RUN,
    LABEL_WORKER,
    SandboxLimits,
    SandboxUnavailable,
    sandbox_limits,
)
from worker.settings import Settings

#: Short limits: every Docker test here finishes in seconds.
LIMITS = SandboxLimits(memory_mb=256, pids=64, wall_clock_s=20,
                       runner=RunnerLimits(test_timeout_s=5))


# --- pure: archive, framing, command, limits ---------------------------------------------------

def _members(archive: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return tar.getmembers()


def test_archive_holds_regular_files_only_with_mode_0644() -> None:
    archive = build_archive({"b/c/d.py": "x = 1\n", "a.txt": b"\x00\xff", "é.py": "é"})
    members = _members(archive)
    assert [m.name for m in members] == ["a.txt", "b/c/d.py", "é.py"]
    assert all(m.isreg() and m.mode == 0o644 for m in members)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert tar.extractfile("a.txt").read() == b"\x00\xff"  # type: ignore[union-attr]
        assert tar.extractfile("é.py").read() == "é".encode()  # type: ignore[union-attr]


def test_archive_has_no_dot_or_directory_entries() -> None:
    names = [m.name for m in _members(build_archive({"x/y.py": "", "z.py": ""}))]
    assert "." not in names and "./" not in names and "x" not in names


@pytest.mark.parametrize(
    "path", ["", "/etc/passwd", "../x", "a/../../x", "./a", "a//b", "a/.", "a\\b", "a\x00"]
)
def test_archive_rejects_paths_outside_work(path: str) -> None:
    with pytest.raises(ValueError, match="relative path"):
        check_path(path)


def test_archive_rejects_a_file_that_is_also_a_directory() -> None:
    with pytest.raises(ValueError, match="both a file and a directory"):
        build_archive({"a": "", "a/b": ""})


def test_archive_makes_lone_surrogates_safe() -> None:
    archive = build_archive({"a.py": "x = '\udcff'\n"})
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        data = tar.extractfile("a.py").read()  # type: ignore[union-attr]
    assert data.decode("utf-8") == "x = '\ufffd'\n"
    with pytest.raises(ValueError, match="surrogate"):
        build_archive({"\udcff.py": ""})


def test_stream_reader_splits_docker_frames_arriving_in_pieces() -> None:
    stream = b"".join(
        bytes([kind, 0, 0, 0]) + len(data).to_bytes(4, "big") + data
        for kind, data in [(1, b"out1"), (2, b"err"), (1, b"out2\xff")]
    )
    ours, theirs = socket.socketpair()
    reader = _StreamReader(ours)
    reader.start()
    for i in range(0, len(stream), 3):
        theirs.sendall(stream[i : i + 3])
    theirs.close()
    reader.join(5)
    ours.close()
    assert not reader.is_alive() and reader.error is None
    assert reader.stdout.text() == "out1out2\ufffd" and reader.stderr.text() == "err"


def test_stream_tail_keeps_the_end_and_counts_what_it_dropped() -> None:
    buffer = StreamTail(5)
    for chunk in (b"abc", b"defg", b"hi"):
        buffer.add(chunk)
    assert buffer.text() == "[... 4 bytes dropped]\nefghi"


def test_shell_command_unpacks_then_execs_under_timeout() -> None:
    argv = shell_command(["python3", "/work/a b.py", "--x"], 12.5)
    assert argv[:2] == ["sh", "-c"]
    assert argv[2] == (
        "cd /work && tar -x --no-same-owner && exec timeout -s KILL 12.5 "
        "python3 '/work/a b.py' --x"
    )
    assert "e+" not in shell_command(["true"], 1e6)[2]


def test_limits_defaults_and_validation() -> None:
    limits = SandboxLimits()
    assert (limits.memory_mb, limits.pids, limits.cpus, limits.cpu_shares) == (512, 1024, None, 512)
    assert (limits.wall_clock_s, limits.runner.test_timeout_s) == (300, 60)
    # a level's legacy and strict tests (L3: 15 + 16) run in one wave
    assert (limits.runner.output_cap_bytes, limits.runner.max_parallel) == (4000, 32)
    with pytest.raises(ValueError):
        SandboxLimits(memory_mb=0)


def test_settings_defaults_give_the_default_limits() -> None:
    assert sandbox_limits(Settings()) == SandboxLimits()


def test_labels_always_carry_role_and_worker() -> None:
    sandbox = DockerSandbox("img", client=object(), worker_id="w1")  # type: ignore[arg-type]
    labels = sandbox.labels_for({LABEL_RUN: "r1", LABEL_ROLE: "fake", LABEL_WORKER: "other"})
    assert labels == {LABEL_RUN: "r1", LABEL_ROLE: "sandbox", LABEL_WORKER: "w1"}
    assert sandbox.labels_for(None)[LABEL_RUN] == ""


def test_unavailable_is_a_service_error_with_a_hint() -> None:
    exc = SandboxUnavailable("image missing", "build it")
    assert isinstance(exc, ServiceUnavailable) and exc.exit_code == 3
    assert str(exc) == "image missing; build it" and exc.hint == "build it"


# --- Docker ------------------------------------------------------------------------------------

def _run_id() -> dict[str, str]:
    return {LABEL_RUN: f"test-{uuid.uuid4().hex[:10]}"}


@pytest.mark.docker
def test_runs_a_command_over_the_files(docker_sandbox: DockerSandbox) -> None:
    files = {"pkg/data.txt": "hello", "main.py": (
        "import sys\nprint(open('pkg/data.txt').read())\nprint('oops', file=sys.stderr)\n"
        "sys.exit(3)\n")}
    result = docker_sandbox.run(files, ["python3", "main.py"], limits=LIMITS)
    assert (result.exit_code, result.stdout, result.stderr) == (3, "hello\n", "oops\n")
    assert not result.timed_out and not result.oom_killed
    assert 0 < result.duration_s < 10


PROBE = r"""
import json, os, socket, resource, subprocess
def readable(path):
    try:
        return open(path).read().strip()
    except OSError as exc:
        return f"unreadable: {exc}"
def writable(path):
    try:
        with open(path, "w") as handle:
            handle.write("x")
        return True
    except OSError:
        return False
def writable_by_a_candidate(path):
    pid = os.fork()
    if pid == 0:
        os.setgroups([]); os.setgid(61000); os.setuid(61000)
        os._exit(0 if writable(path) else 1)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
def network():
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=1).close()
        return "reachable"
    except OSError as exc:
        return f"unreachable: {exc}"
def spawn(n):
    procs, started = [], 0
    for _ in range(n):
        try:
            procs.append(subprocess.Popen(["sleep", "5"]))
            started += 1
        except OSError:
            break
    for proc in procs:
        proc.kill(); proc.wait()
    return started
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines()
              if ":\t" in line)
print(json.dumps({
    "uid": os.getuid(), "gid": os.getgid(), "cap_eff": status["CapEff"].strip(),
    "no_new_privs": status["NoNewPrivs"].strip(),
    "root_writable": writable("/probe"), "etc_writable": writable("/etc/probe"),
    "work_writable": writable("/work/probe"), "tmp_writable": writable("/tmp/probe"),
    "work_writable_by_a_candidate": writable_by_a_candidate("/work/candidate-probe"),
    "tmp_writable_by_a_candidate": writable_by_a_candidate("/tmp/candidate-probe"),
    "work_mode": oct(os.stat("/work").st_mode & 0o7777),
    "network": network(), "interfaces": sorted(os.listdir("/sys/class/net")),
    "pids_max": readable("/sys/fs/cgroup/pids/pids.max"),
    "memory": readable("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
    "memsw": readable("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"),
    "cfs_quota": readable("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
    "core": resource.getrlimit(resource.RLIMIT_CORE),
    "spawned": spawn(100),
}))
"""


@pytest.mark.docker
def test_flags_and_limits_observed_from_inside(docker_sandbox: DockerSandbox) -> None:
    result = docker_sandbox.run({"probe.py": PROBE}, ["python3", "probe.py"], limits=LIMITS)
    assert result.exit_code == 0, result.stderr
    facts = json.loads(result.stdout)
    # root with CAP_KILL, CAP_SETGID and CAP_SETUID only: the launcher's uid changes
    assert (facts["uid"], facts["gid"]) == (0, 0)
    assert facts["cap_eff"] == "00000000000000e0" and facts["no_new_privs"] == "1"
    assert not facts["root_writable"] and not facts["etc_writable"]
    assert facts["work_writable"] and facts["tmp_writable"] and facts["work_mode"] == "0o755"
    assert not facts["work_writable_by_a_candidate"] and facts["tmp_writable_by_a_candidate"]
    assert facts["network"].startswith("unreachable") and facts["interfaces"] == ["lo"]
    assert facts["pids_max"] == "64" and facts["spawned"] < 64
    assert facts["memory"] == str(256 << 20)
    assert facts["memsw"] in (str(256 << 20), "unreadable: [Errno 2] No such file or directory: "
                              "'/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'")
    assert facts["cfs_quota"] == "-1"  # no CPU quota unless asked for
    assert facts["core"] == [0, 0]


@pytest.mark.docker
def test_cpu_quota_uses_a_short_period(docker_sandbox: DockerSandbox) -> None:
    limits = LIMITS.model_copy(update={"cpus": 0.5})
    result = docker_sandbox.run({}, ["sh", "-c", "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us "
                                     "/sys/fs/cgroup/cpu/cpu.cfs_period_us"], limits=limits)
    assert result.stdout.split() == ["5000", "10000"]


@pytest.mark.docker
def test_cpu_shares_weigh_the_sandbox(docker_sandbox: DockerSandbox) -> None:
    limits = LIMITS.model_copy(update={"cpu_shares": 256})
    result = docker_sandbox.run({}, ["cat", "/sys/fs/cgroup/cpu/cpu.shares"], limits=limits)
    assert result.stdout.split() == ["256"]


def test_cpu_settings_reach_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    assert sandbox_limits(Settings()).cpu_shares == 512 and sandbox_limits(Settings()).cpus is None
    monkeypatch.setenv("JQ_SANDBOX_CPU_SHARES", "300")
    monkeypatch.setenv("JQ_SANDBOX_CPUS", "1.5")
    limits = sandbox_limits(Settings())
    assert (limits.cpu_shares, limits.cpus) == (300, 1.5)
    monkeypatch.setenv("JQ_SANDBOX_CPU_SHARES", "1")
    with pytest.raises(ValueError):
        Settings()


@pytest.mark.docker
def test_wall_clock_kills_the_container_and_says_timed_out(docker_sandbox: DockerSandbox) -> None:
    limits = LIMITS.model_copy(update={"wall_clock_s": 1.5})
    result = docker_sandbox.run({}, ["sh", "-c", "echo started; sleep 60"], limits=limits)
    assert result.timed_out and result.exit_code in (124, 137)
    assert result.stdout == "started\n"
    assert 1.5 <= result.duration_s < 10


@pytest.mark.docker
def test_memory_hog_is_oom_killed_as_a_result(docker_sandbox: DockerSandbox) -> None:
    hog = "blocks = []\nwhile True:\n    blocks.append(bytearray(16 << 20))\n"
    result = docker_sandbox.run({"hog.py": hog}, ["python3", "hog.py"], limits=LIMITS)
    assert result.oom_killed and result.exit_code == 137 and not result.timed_out


@pytest.mark.docker
def test_fork_bomb_stays_inside_the_pids_limit(docker_sandbox: DockerSandbox) -> None:
    bomb = ("import os, time\nfor _ in range(100000):\n    try:\n        os.fork()\n"
            "    except OSError:\n        time.sleep(0.01)\n")
    limits = LIMITS.model_copy(update={"wall_clock_s": 3})
    result = docker_sandbox.run({"bomb.py": bomb}, ["python3", "bomb.py"], limits=limits)
    assert result.timed_out and result.duration_s < 15


@pytest.mark.docker
def test_output_is_capped_to_its_tail(docker_sandbox: DockerSandbox) -> None:
    script = "import sys\nsys.stdout.write('x' * (9 << 20))\nsys.stdout.write('\\nLAST\\n')\n"
    result = docker_sandbox.run({"big.py": script}, ["python3", "big.py"], limits=LIMITS)
    assert result.stdout.startswith("[... ") and result.stdout.endswith("\nLAST\n")
    assert len(result.stdout) < (8 << 20) + 100


@pytest.mark.docker
def test_labelled_while_running_and_removed_after(docker_sandbox: DockerSandbox) -> None:
    labels = _run_id()
    seen: list[list[str]] = []

    def watch() -> None:
        for _ in range(50):
            found = docker_sandbox.sandbox_containers(
                {**labels, LABEL_WORKER: docker_sandbox.worker_id})
            if found:
                seen.append(found)
                return
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    docker_sandbox.run({}, ["sleep", "2"], limits=LIMITS, labels=labels)
    watcher.join()
    assert seen and len(seen[0]) == 1
    assert docker_sandbox.sandbox_containers(labels) == []


@pytest.mark.docker
def test_removed_after_timeout_and_after_an_exception(
    docker_sandbox: DockerSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    labels = _run_id()
    limits = LIMITS.model_copy(update={"wall_clock_s": 1})
    assert docker_sandbox.run({}, ["sleep", "30"], limits=limits, labels=labels).timed_out
    assert docker_sandbox.sandbox_containers(labels) == []

    def broken_send(*_args: object) -> None:
        raise RuntimeError("boom while sending the files")

    monkeypatch.setattr(DockerSandbox, "_send", broken_send)
    with pytest.raises(RuntimeError, match="boom"):
        docker_sandbox.run({"a.py": ""}, ["true"], limits=LIMITS, labels=labels)
    assert docker_sandbox.sandbox_containers(labels) == []


@pytest.mark.docker
def test_missing_image_is_unavailable_with_the_build_hint(docker_sandbox: DockerSandbox) -> None:
    sandbox = DockerSandbox("jqbench-sandbox:no-such-tag", worker_id=docker_sandbox.worker_id)
    with pytest.raises(SandboxUnavailable, match=r"scripts/build-sandbox-image\.sh"):
        sandbox.run({}, ["true"], limits=LIMITS)
    with pytest.raises(SandboxUnavailable, match=r"scripts/build-sandbox-image\.sh"):
        sandbox.image_facts()


def test_unreachable_daemon_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(SandboxUnavailable, match="DOCKER_HOST"):
        DockerSandbox("jqbench-sandbox:latest").run({}, ["true"], limits=LIMITS)


@pytest.mark.docker
def test_image_facts_give_the_image_id(docker_sandbox: DockerSandbox) -> None:
    facts = docker_sandbox.image_facts()
    assert facts.image == docker_sandbox.image and facts.image_id.startswith("sha256:")


@pytest.mark.docker
def test_cleanup_removes_a_dead_workers_leftovers(
    docker_sandbox: DockerSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = DockerSandbox(docker_sandbox.image, worker_id=f"dead-{uuid.uuid4().hex[:8]}")
    labels = _run_id()
    monkeypatch.setattr(DockerSandbox, "_remove", lambda self, container: None)  # "it crashed"
    dead.run({}, ["true"], limits=LIMITS, labels=labels)
    monkeypatch.undo()
    assert len(docker_sandbox.sandbox_containers(labels)) == 1
    assert docker_sandbox.cleanup_leftovers(["some-other-worker"]) == []
    assert len(docker_sandbox.cleanup_leftovers([dead.worker_id])) == 1
    assert docker_sandbox.sandbox_containers(labels) == []
