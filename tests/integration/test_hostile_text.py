"""No unit ends unrecorded: an answer with a lone surrogate, whose tests fail with messages
holding another, goes through the real path (fake server over HTTP, Celery workers, Redis,
Docker) and is saved and scored."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fakellm import FakeLlamaServer, LevelAnswers
from orchestrator.localstack import LocalStack
from worker.dispatch import SCORE_QUEUE, llm_queue

pytestmark = [pytest.mark.docker, pytest.mark.redis]

#: An L1 answer: a lone surrogate in a comment, and a queue whose results all raise with one.
HOSTILE_L1 = (
    "Here you go \udcff\n```python\n"
    "# caf\udcff\n"
    "import itertools\n"
    "class JobQueue:\n"
    "    def __init__(self, num_workers=1):\n"
    "        self.ids = itertools.count(1)\n"
    "    def add_job(self, fn, *args, **kwargs):\n"
    "        return next(self.ids)\n"
    "    def get_result(self, job_id, timeout=None):\n"
    "        raise ValueError('bad ' + chr(0xdcff) + ' result')\n"
    "```\n"
)


def test_lone_surrogates_are_saved_and_scored(tmp_path: Path, redis_url: str,
                                              sandbox_image: str) -> None:
    with FakeLlamaServer(LevelAnswers({"L1": HOSTILE_L1})) as server, \
            LocalStack(workdir=tmp_path / "stack") as stack:
        config = tmp_path / "models.yaml"
        config.write_text(yaml.safe_dump({"models": {"m": {"base_url": server.base_url}}}))
        env = {"REDIS_URL": redis_url, "JQ_SANDBOX_IMAGE": sandbox_image,
               "JQ_TEST_TIMEOUT_S": "20"}
        stack.start_worker("llm", [llm_queue("m")], 1, env)
        stack.start_worker("score", [SCORE_QUEUE], 1, env)
        done = subprocess.run(
            [sys.executable, "-m", "orchestrator", "submit", "--models", "m", "--levels", "L1",
             "--config", str(config), "--run-id", "hostile", "--output",
             str(tmp_path / "results"), "--wait"],
            env={**os.environ, **env}, capture_output=True, text=True, timeout=180)
        logs = "\n".join(child.log_tail() for child in stack.children)
    assert done.returncode == 0, done.stderr + logs
    record = json.loads((tmp_path / "results" / "hostile" / "attempts" / "m" / "iter1"
                         / "L1.json").read_text(encoding="utf-8"))
    assert record["status"] == "scored"
    assert record["answer"].startswith("Here you go \ufffd")
    report = record["report"]
    # only the job id test passes: 1 of 5 legacy tests, 1 of 6 strict ones
    assert report["scores"] == {"legacy": 5.0, "strict": 4.2}
    assert "# caf\ufffd" in report["extracted"]["legacy"]["job_queue.py"]
    messages = " ".join(test["message"] for test in report["tests"])
    assert "bad \ufffd result" in messages
