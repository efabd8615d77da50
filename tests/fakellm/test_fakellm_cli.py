"""`python -m fakellm` in a child process: port on stdout, SIGTERM, exit 0."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2

from challenge.answers import canned_answer
from challenge.levels import Level
from fakellm.answers import vary_text
from fakellm.dialect import B4748


def _read_line(stream: object, timeout: float) -> str:
    """First line of a child's stdout, without risking a hang."""
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True)  # type: ignore[attr-defined]
    reader.start()
    return lines.get(timeout=timeout)


def test_cli_serves_until_sigterm(
    tmp_path: Path,
    repo: Path,
    level_prompts: dict[str, str],
    level_prompt: Callable[..., str],
    chat_body: Callable[..., dict[str, Any]],
) -> None:
    log = tmp_path / "requests.jsonl"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]),
    }
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fakellm",
            "--port",
            "0",
            "--dialect",
            "b4748",
            "--answers",
            "flawed",
            "--reasoning",
            "hmm",
            "--slots",
            "2",
            "--alias",
            "cli-model",
            "--log-requests",
            str(log),
            "--vary",
        ],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = _read_line(child.stdout, timeout=20)
        match = re.fullmatch(r"listening on (http://127\.0\.0\.1:(\d+))\n", line)
        assert match, line
        url = match.group(1)
        assert httpx2.get(url + "/health").json() == {"status": "ok"}
        props = httpx2.get(url + "/props").json()
        assert (props["total_slots"], props["build_info"]) == (2, B4748.build_info)
        assert httpx2.get(url + "/v1/models").json()["data"][0]["id"] == "cli-model"
        prompt = level_prompt(level_prompts["L4"])
        body = httpx2.post(url + "/v1/chat/completions", json=chat_body(prompt)).json()
        message = body["choices"][0]["message"]
        assert message["content"] == vary_text(canned_answer(Level.L4, "flawed"), 1)
        assert message["reasoning_content"] == "hmm"
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=10) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        assert child.stdout is not None and child.stderr is not None
        child.stdout.close()
        child.stderr.close()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["path"] for r in records] == [
        "/health",
        "/props",
        "/v1/models",
        "/v1/chat/completions",
    ]
    assert records[-1]["level"] == "L4" and records[-1]["status"] == 200
    assert records[-1]["body"]["messages"][0]["content"] == prompt


def test_cli_refuses_unknown_answers(repo: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fakellm", "--answers", "brilliant"],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "reference" in result.stderr


def test_cli_hang_option_makes_a_hanging_server() -> None:
    from fakellm.cli import build_parser, build_server

    assert build_server(build_parser().parse_args(["--hang"])).hanging
    assert not build_server(build_parser().parse_args([])).hanging
