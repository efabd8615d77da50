"""The in-container runner (challenge/runner/) in the real sandbox, on suites of our own:
ordinary outcomes, and hostile or broken candidates that must never turn into a pass.

Each candidate runs in its own candidate host (its own process and uid) and its suite reaches
it through the proxy; a zoo candidate does its mischief when its JobQueue is built."""

import json
import secrets
from typing import Any

import pytest

from challenge.levels import Profile
from challenge.plan import CandidateSpec, PlannedTest, RunnerLimits, SandboxPlan
from challenge.runner.scheduler import TailBuffer, parse_result_line
from worker._docker import DockerSandbox
from worker.sandbox import ExecResult, SandboxLimits
from worker.scorer import RUNNER_COMMAND, parse_report, runner_files

LIMITS = SandboxLimits(memory_mb=256, pids=64, wall_clock_s=40)

#: One candidate per directory; its suite builds its JobQueue once, which calls `go()`.
SUITE = "from job_queue import JobQueue\n\n\ndef test_it():\n    JobQueue()\n"
#: Appended to each zoo candidate: the queue whose constructor does the candidate's deed.
ZOO_QUEUE = "\n\nclass JobQueue:\n    def __init__(self):\n        go()\n"


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
    key = secrets.token_hex(32)
    plan = SandboxPlan(
        tests=[PlannedTest(profile=Profile.LEGACY, id=i, cwd=c, file=f, function=fn,
                           candidate=CandidateSpec(dir=f"{c}/candidate", module="job_queue",
                                                   proxy_as="job_queue"))
               for i, c, f, fn in tests],
        limits=RunnerLimits(test_timeout_s=timeout_s, max_parallel=parallel, output_cap_bytes=cap),
    )
    command = [*RUNNER_COMMAND, *(["--budget-s", str(budget_s)] if budget_s else [])]
    result = sandbox.run(
        {**files, **runner_files(), "plan.json": plan.model_dump_json(), ".key": key},
        command, limits=limits,
    )
    report = parse_report(result.stdout, key)
    assert report is not None, f"no report; exit {result.exit_code}: {result.stderr[-2000:]}"
    assert [t["id"] for t in report["tests"]] == [t[0] for t in tests]  # all, once, in order
    return report, {t["id"]: t for t in report["tests"]}, result


def zoo(candidates: dict[str, str]) -> tuple[dict[str, str], list[tuple[str, str, str, str]]]:
    """Files and tests for candidates given as name -> job_queue.py source."""
    files: dict[str, str] = {}
    tests = []
    for name, code in candidates.items():
        files[f"{name}/suite.py"] = SUITE
        files[f"{name}/candidate/job_queue.py"] = code + ZOO_QUEUE
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
    caused = json.dumps({"token": "t1", "outcome": "error", "cause": "timeout"}).encode()
    assert parse_result_line(caused + b"\n", "t1") is not None
    assert parse_result_line(caused.replace(b"timeout", b"sunspots") + b"\n", "t1") is None
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
from job_queue import JobQueue

MARK = []

@pytest.fixture
def broken():
    raise RuntimeError("fixture exploded")

def test_pass():
    MARK.append(1)
    print("said hello")
    assert JobQueue().get_result("value") == 1

def test_fresh_process():
    assert MARK == [] and os.getcwd() == os.path.dirname(os.path.abspath(__file__))
    assert sys.path[0] == os.getcwd()

def test_fail():
    assert JobQueue().get_result("value") == 2, "value is not two"

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
        "p/test_plain.py": PLAIN_SUITE,
        "p/candidate/job_queue.py": ("class JobQueue:\n    def get_result(self, job_id):\n"
                                     "        return 1\n"),
        "bad/suite.py": SUITE, "bad/candidate/job_queue.py": "def go(:\n",
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
    assert by_id["syntax"]["message"].startswith(
        "collection failed: importing job_queue failed: SyntaxError"), by_id["syntax"]
    # The harness marks why, for failure counts that never read messages.
    causes = {name: t["cause"] for name, t in by_id.items()}
    assert causes == {name: None for name in outcomes} | {"syntax": "import_error"}
    loud = by_id["loud"]["output"]
    assert len(loud.encode()) <= 1000 and loud.startswith("[... ") and "THE END" in loud
    assert all(t["duration_s"] > 0 for t in report["tests"] if t["id"] != "missing")


# --- Docker: hostile and broken candidates ------------------------------------------------------

HOSTILE = {
    "kill_parent": ("import os, signal\ndef go():\n    for pid in (os.getppid(), 1):\n"
                    "        try:\n            os.kill(pid, signal.SIGKILL)\n"
                    "        except OSError:\n            pass\n"),
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
    _, by_id, result = run_plan(docker_sandbox, files, tests, timeout_s=6, parallel=4)
    outcome = {name: t["outcome"] for name, t in by_id.items()}
    # The candidate's process died, broke its channel or hung: the test never passes.
    for name in ("exit0_import", "sysexit_import", "exit0_in_test", "dup2_fds", "segfault",
                 "report_files"):
        assert outcome[name] in ("failed", "error"), (name, by_id[name])
    for name in ("exit0_import", "sysexit_import"):  # in one process: collection failed
        assert outcome[name] == "error", by_id[name]
        assert by_id[name]["message"].startswith("collection failed: "), by_id[name]
    assert "SystemExit" in by_id["sysexit_import"]["message"], by_id["sysexit_import"]
    assert "PermissionError" in by_id["report_files"]["message"], by_id["report_files"]
    assert outcome["endless_loop"] == "error"
    assert "timed out after 6 s" in by_id["endless_loop"]["message"]
    assert by_id["endless_loop"]["cause"] == "timeout"
    assert by_id["exit0_import"]["cause"] == by_id["sysexit_import"]["cause"] == "import_error"
    assert by_id["snoop"]["cause"] == "void"
    # Reading another process's fds, memory or environment voids the test, whether or not
    # the read succeeded (here it cannot: those processes belong to other uids).
    assert outcome["snoop"] == "error" and "void" in by_id["snoop"]["message"], by_id["snoop"]
    assert outcome["forge"] in ("failed", "error"), by_id["forge"]  # it also broke its channel
    # Legitimate passes despite the mischief: the parent and PID 1 belong to other uids.
    for name in ("kill_parent", "close_stdio", "endless_threads", "stray_daemon",
                 "ok_1", "ok_2", "ok_3", "ok_4"):
        assert outcome[name] == "passed", (name, by_id[name])
    assert by_id["endless_threads"]["duration_s"] < 2.5
    # The forged report line never reached the container's stdout: the candidate's stdout
    # is /dev/null and PID 1's fds are not its to open.
    assert "0123456789abcdef" not in result.stdout


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
    assert by_id["hog"]["outcome"] in ("failed", "error")
    assert "out of memory" in by_id["hog"]["message"], by_id["hog"]
    assert by_id["ok_1"]["outcome"] == by_id["after"]["outcome"] == "passed"


@pytest.mark.docker
def test_no_candidate_can_write_under_work(docker_sandbox: DockerSandbox) -> None:
    tamper = ("import os\n"
              "def go():\n"
              "    for path in ('/work/ok_1/suite.py', '/work/conftest.py', '/work/ok_1/x.py',\n"
              "                 '/work/tamper/candidate/job_queue.py'):\n"
              "        try:\n"
              "            with open(path, 'w') as handle:\n"
              "                handle.write('def test_it():\\n    pass\\n')\n"
              "        except OSError:\n"
              "            continue\n"
              "        raise AssertionError(f'wrote {path}')\n")
    files, tests = zoo({"tamper": tamper, "ok_1": OK})
    report, by_id, _ = run_plan(docker_sandbox, files, tests, parallel=1)
    assert report["tampered"] == []
    assert by_id["tamper"]["outcome"] == by_id["ok_1"]["outcome"] == "passed", by_id


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
    assert by_id["hang"]["cause"] == by_id["never"]["cause"] == "timeout"
    assert by_id["ok_1"]["cause"] is None
    assert result.duration_s < 10 and not result.timed_out
