"""The in-container runner (challenge/sandbox/) in the real sandbox, on suites of our own:
ordinary outcomes, and hostile or broken candidates that must never turn into a pass."""

import json
import secrets
from typing import Any

import pytest

from challenge.levels import Profile
from challenge.plan import PlannedTest, SandboxPlan
from challenge.sandbox.scheduler import TailBuffer, parse_result_line
from worker._docker import DockerSandbox
from worker.sandbox import ExecResult, SandboxLimits
from worker.scorer import RUNNER_COMMAND, parse_report, runner_files

LIMITS = SandboxLimits(memory_mb=256, pids=64, wall_clock_s=40)

#: One candidate per directory; its suite calls `go()` once.
SUITE = "import job_queue\n\n\ndef test_it():\n    job_queue.go()\n"


def run_plan(
    sandbox: DockerSandbox,
    files: dict[str, str],
    tests: list[tuple[str, str, str, str]],
    *,
    timeout_s: float = 3.0,
    parallel: int = 4,
    cap: int = 4000,
    budget_s: float | None = None,
    limits: SandboxLimits = LIMITS,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], ExecResult]:
    """Run the runner on `files` with tests (id, cwd, file, function); return the report,
    its outcomes by id, and the raw result. Fails if the report is missing."""
    nonce = secrets.token_hex(16)
    plan = SandboxPlan(
        tests=[PlannedTest(profile=Profile.LEGACY, id=i, cwd=c, file=f, function=fn)
               for i, c, f, fn in tests],
        test_timeout_s=timeout_s, max_parallel=parallel, output_cap_bytes=cap,
    )
    command = [*RUNNER_COMMAND, *(["--budget-s", str(budget_s)] if budget_s else [])]
    result = sandbox.run(
        {**files, **runner_files(), "plan.json": plan.model_dump_json(), ".nonce": nonce},
        command, limits=limits,
    )
    report = parse_report(result.stdout, nonce)
    assert report is not None, f"no report; exit {result.exit_code}: {result.stderr[-2000:]}"
    assert [t["id"] for t in report["tests"]] == [t[0] for t in tests]  # all, once, in order
    return report, {t["id"]: t for t in report["tests"]}, result


def zoo(candidates: dict[str, str]) -> tuple[dict[str, str], list[tuple[str, str, str, str]]]:
    """Files and tests for candidates given as name -> job_queue.py source."""
    files: dict[str, str] = {}
    tests = []
    for name, code in candidates.items():
        files[f"{name}/suite.py"] = SUITE
        files[f"{name}/job_queue.py"] = code
        tests.append((name, name, "suite.py", "test_it"))
    return files, tests


OK = "def go():\n    pass\n"


# --- pure parts ---------------------------------------------------------------------------------

def test_result_line_needs_exactly_one_line_with_the_token() -> None:
    good = json.dumps({"token": "t1", "outcome": "passed", "message": ""}).encode() + b"\n"
    assert parse_result_line(good, "t1") == {"token": "t1", "outcome": "passed", "message": ""}
    assert parse_result_line(good, "t2") is None
    assert parse_result_line(good + good, "t1") is None
    assert parse_result_line(b"junk\n" + good, "t1") is None
    assert parse_result_line(good[:-1], "t1") is None
    assert parse_result_line(good.replace(b"passed", b"won"), "t1") is None
    assert parse_result_line(b"", "t1") is None


def test_output_tail_buffer_fits_its_cap() -> None:
    buffer = TailBuffer(100)
    buffer.add(b"a" * 1000 + b"END")
    text = buffer.text()
    assert len(text.encode()) <= 100 and text.startswith("[... 903 bytes dropped]")
    assert text.endswith("END")


# --- Docker: ordinary suites --------------------------------------------------------------------

PLAIN_SUITE = '''
import os, sys, pytest
import job_queue

MARK = []

@pytest.fixture
def broken():
    raise RuntimeError("fixture exploded")

def test_pass():
    MARK.append(1)
    print("said hello")
    assert job_queue.VALUE == 1

def test_fresh_process():
    assert MARK == [] and os.getcwd() == os.path.dirname(os.path.abspath(__file__))
    assert sys.path[0] == os.getcwd()

def test_fail():
    assert job_queue.VALUE == 2, "value is not two"

def test_skip():
    pytest.skip("not today")

def test_setup_error(broken):
    pass

def test_loud():
    print("x" * 50000)
    print("THE END")
    assert False
'''


@pytest.mark.docker
def test_ordinary_outcomes_in_plan_order(docker_sandbox: DockerSandbox) -> None:
    files = {
        "p/test_plain.py": PLAIN_SUITE, "p/job_queue.py": "VALUE = 1\n",
        "bad/suite.py": SUITE, "bad/job_queue.py": "def go(:\n",
        "conftest.py": "raise RuntimeError('a conftest above the cwd must not load')\n",
    }
    tests = [(name, "p", "test_plain.py", f"test_{name}")
             for name in ("fail", "pass", "fresh_process", "skip", "setup_error", "missing",
                          "loud")]
    tests.append(("syntax", "bad", "suite.py", "test_it"))
    report, by_id, _ = run_plan(docker_sandbox, files, tests, parallel=3, cap=1000)
    assert report["python"].startswith("3.11") and report["pytest"] == "7.2.1"
    assert report["tampered"] == []
    outcomes = {name: t["outcome"] for name, t in by_id.items()}
    assert outcomes == {
        "fail": "failed", "pass": "passed", "fresh_process": "passed", "skip": "skipped",
        "setup_error": "error", "missing": "error", "loud": "failed", "syntax": "error",
    }
    assert "value is not two" in by_id["fail"]["message"]
    assert "said hello" not in by_id["pass"]["message"]
    assert "fixture exploded" in by_id["setup_error"]["message"]
    assert "collection failed" in by_id["syntax"]["message"]
    assert "SyntaxError" in by_id["syntax"]["output"]
    loud = by_id["loud"]["output"]
    assert len(loud.encode()) <= 1000 and loud.startswith("[... ") and "THE END" in loud
    assert all(t["duration_s"] > 0 for t in report["tests"] if t["id"] != "missing")


# --- Docker: hostile and broken candidates ------------------------------------------------------

HOSTILE = {
    "kill_parent": "import os, signal\ndef go():\n    os.kill(os.getppid(), signal.SIGKILL)\n",
    "exit0_import": "import os\nos._exit(0)\n",
    "sysexit_import": "import sys\nsys.exit(0)\n",
    "exit0_in_test": "import os\ndef go():\n    os._exit(0)\n",
    "forge": (
        "import os\n"
        "LINE = '\\nJQBENCH-REPORT 0123456789abcdef {\"tests\": []}\\n'\n"
        "FAKE = b'{\"outcome\": \"passed\", \"token\": \"\"}\\n'\n"
        "def go():\n"
        "    print(LINE)\n"
        "    for path in ('/proc/1/fd/1', '/proc/1/fd/2'):\n"
        "        try:\n"
        "            with open(path, 'w') as handle:\n"
        "                handle.write(LINE + 'junk without a newline')\n"
        "        except OSError:\n"
        "            pass\n"
        "    for fd in range(3, 64):\n"
        "        try:\n"
        "            os.write(fd, FAKE)\n"
        "        except OSError:\n"
        "            pass\n"
    ),
    "report_files": (
        "import json\n"
        "def go():\n"
        "    claim = json.dumps({'outcome': 'passed', 'tests': 'all passed'})\n"
        "    for path in ('/work/report.json', '/work/result.json', '/tmp/report.json',\n"
        "                 '/work/_runner/report.json', 'junit.xml'):\n"
        "        with open(path, 'w') as handle:\n"
        "            handle.write(claim)\n"
        "    assert False, 'wrote report files'\n"
    ),
    "dup2_fds": (
        "import os\n"
        "def go():\n"
        "    null = os.open('/dev/null', os.O_WRONLY)\n"
        "    for fd in range(0, 64):\n"
        "        if fd != null:\n"
        "            try:\n"
        "                os.dup2(null, fd)\n"
        "            except OSError:\n"
        "                pass\n"
    ),
    "close_stdio": "import os\ndef go():\n    os.close(0)\n    os.close(1)\n    os.close(2)\n",
    "segfault": "import ctypes\ndef go():\n    ctypes.string_at(0)\n",
    "endless_loop": "def go():\n    while True:\n        pass\n",
    "endless_threads": (
        "import threading, time\n"
        "def spin():\n"
        "    while True:\n"
        "        time.sleep(0.01)\n"
        "def go():\n"
        "    for _ in range(3):\n"
        "        threading.Thread(target=spin).start()\n"
    ),
    "stray_daemon": (
        "import os, time\n"
        "def go():\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        "        if os.fork() == 0:\n"
        "            while True:\n"
        "                time.sleep(1)\n"
        "        os._exit(0)\n"
    ),
    "snoop": (
        "import os\n"
        "def go():\n"
        "    assert not os.path.exists('/work/.nonce')\n"
        "    runner = int(open(f'/proc/{os.getppid()}/stat').read().rsplit(')', 1)[1].split()[1])\n"
        "    for what in ('environ', 'mem', 'fd/1', 'maps'):\n"
        "        try:\n"
        "            open(f'/proc/{runner}/{what}', 'rb').read(1)\n"
        "        except OSError:\n"
        "            continue\n"
        "        raise AssertionError(f'could read the runner\\'s {what}')\n"
    ),
    "ok_1": OK, "ok_2": OK, "ok_3": OK, "ok_4": OK,
}


@pytest.mark.docker
def test_hostile_candidates_never_pass_and_the_rest_is_reported(
    docker_sandbox: DockerSandbox,
) -> None:
    files, tests = zoo(HOSTILE)
    # 6 s per test: enough for tests queued behind the zygote that kill_parent kills to be run
    # by its replacement even on a busy CI machine (respawning imports pytest again).
    _, by_id, result = run_plan(docker_sandbox, files, tests, timeout_s=6, parallel=4)
    outcome = {name: t["outcome"] for name, t in by_id.items()}
    for name in ("exit0_import", "sysexit_import", "exit0_in_test", "forge", "dup2_fds",
                 "segfault", "endless_loop"):
        assert outcome[name] == "error", (name, by_id[name])
    assert outcome["report_files"] == "failed", by_id["report_files"]
    assert "exited with code 0" in by_id["exit0_import"]["message"]
    assert "SIGSEGV" in by_id["segfault"]["message"]
    assert "timed out after 6 s" in by_id["endless_loop"]["message"]
    # Legitimate passes despite the mischief; the zygote killed by kill_parent was replaced.
    for name in ("kill_parent", "close_stdio", "endless_threads", "stray_daemon",
                 "snoop", "ok_1", "ok_2", "ok_3", "ok_4"):
        assert outcome[name] == "passed", (name, by_id[name])
    assert by_id["endless_threads"]["duration_s"] < 2.5
    # The forgery reached the container's stdout (via PID 1's fd) and was ignored; the junk
    # it left unterminated does not hide the real report line.
    assert "0123456789abcdef" in result.stdout
    assert "junk without a newlineJQBENCH-REPORT" in result.stdout
    assert "zygote gone" in result.stderr


@pytest.mark.docker
def test_fork_bomb_is_an_error_and_is_cleaned_up(docker_sandbox: DockerSandbox) -> None:
    bomb = ("import os, time\ndef go():\n    for _ in range(100000):\n        try:\n"
            "            os.fork()\n        except OSError:\n            time.sleep(0.01)\n")
    # While the bomb holds every pid, tests beside it may fail (it is the same candidate's
    # code); what must hold: the bomb is an error, its processes are gone when it ends, and
    # the tests before and after it run normally.
    files, tests = zoo({"ok_1": OK, "bomb": bomb})
    tests.append(("after", "ok_1", "suite.py", "test_it"))
    _, by_id, _ = run_plan(docker_sandbox, files, tests, timeout_s=2, parallel=1)
    assert by_id["bomb"]["outcome"] == "error" and "timed out" in by_id["bomb"]["message"]
    assert by_id["ok_1"]["outcome"] == by_id["after"]["outcome"] == "passed", by_id["after"]


@pytest.mark.docker
def test_memory_hog_is_an_error_that_says_out_of_memory(docker_sandbox: DockerSandbox) -> None:
    hog = "def go():\n    blocks = []\n    while True:\n        blocks.append(bytearray(8 << 20))\n"
    files, tests = zoo({"hog": hog, "ok_1": OK})
    tests.append(("after", "ok_1", "suite.py", "test_it"))
    _, by_id, _ = run_plan(docker_sandbox, files, tests, timeout_s=10, parallel=2)
    assert by_id["hog"]["outcome"] == "error"
    assert "out of memory" in by_id["hog"]["message"]
    assert by_id["ok_1"]["outcome"] == by_id["after"]["outcome"] == "passed"


@pytest.mark.docker
def test_rewriting_a_suite_file_voids_every_pass(docker_sandbox: DockerSandbox) -> None:
    tamper = ("def go():\n    with open('/work/ok_1/suite.py', 'w') as handle:\n"
              "        handle.write('def test_it():\\n    pass\\n')\n")
    files, tests = zoo({"tamper": tamper, "ok_1": OK})
    report, by_id, _ = run_plan(docker_sandbox, files, tests, parallel=1)
    assert report["tampered"] == ["ok_1/suite.py"]
    assert {t["outcome"] for t in by_id.values()} == {"error"}
    assert "not trusted" in by_id["ok_1"]["message"]


@pytest.mark.docker
def test_stray_threads_of_one_test_cannot_touch_the_next(docker_sandbox: DockerSandbox) -> None:
    writer = ("import threading, time\n"
              "def scribble():\n"
              "    while True:\n"
              "        with open('/tmp/scribble', 'a') as handle:\n"
              "            handle.write('x')\n"
              "        time.sleep(0.01)\n"
              "def go():\n"
              "    threading.Thread(target=scribble, daemon=False).start()\n"
              "    time.sleep(0.1)\n")
    reader = ("import os, time\n"
              "def go():\n"
              "    before = os.path.getsize('/tmp/scribble')\n"
              "    time.sleep(0.3)\n"
              "    assert os.path.getsize('/tmp/scribble') == before, 'a stray thread wrote'\n")
    files, tests = zoo({"writer": writer, "reader": reader})
    _, by_id, _ = run_plan(docker_sandbox, files, tests, parallel=1)
    assert by_id["writer"]["outcome"] == "passed"
    assert by_id["reader"]["outcome"] == "passed", by_id["reader"]


@pytest.mark.docker
def test_time_budget_keeps_finished_tests_and_errors_the_rest(
    docker_sandbox: DockerSandbox,
) -> None:
    hang = "import time\ndef go():\n    time.sleep(60)\n"
    files, tests = zoo({"ok_1": OK, "hang": hang, "never": OK})
    _, by_id, result = run_plan(docker_sandbox, files, tests, timeout_s=30, parallel=1,
                                budget_s=3)
    assert by_id["ok_1"]["outcome"] == "passed"
    assert by_id["hang"]["outcome"] == "error" and "time budget" in by_id["hang"]["message"]
    assert by_id["never"]["outcome"] == "error" and "not run" in by_id["never"]["message"]
    assert result.duration_s < 10 and not result.timed_out
