"""LocalStack's supervision: a child marked restart_on_failure that dies on its own is started
again, as compose's restart policy does; one that ends cleanly or that the stack stops is not."""

import sys
import time
from collections.abc import Callable
from pathlib import Path

from orchestrator.localstack import LocalStack


def wait_for(check: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_crashed_child_is_started_again_until_the_stack_stops(tmp_path: Path) -> None:
    with LocalStack(workdir=tmp_path) as stack:
        crasher = stack._spawn("crasher", [sys.executable, "-c", "import sys; sys.exit(3)"])
        clean = stack._spawn("clean", [sys.executable, "-c", "pass"])
        sleeper = stack._spawn("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"])
        for child in (crasher, clean, sleeper):
            child.restart_on_failure = True
        stack.supervise(interval_s=0.05)
        wait_for(lambda: crasher.restarts >= 2)
        assert clean.process.wait(5) == 0
        sleeper.stop()
        time.sleep(0.3)
        assert clean.restarts == 0 and sleeper.restarts == 0
        assert "exited with 3; started again" in (crasher.log_tail() or "")
    restarts = crasher.restarts
    time.sleep(0.3)
    assert crasher.restarts == restarts  # stopped with the stack
