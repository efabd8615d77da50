"""Run a fake llama-server in its own process: `python -m orchestrator.fakellm --port 0 ...`.

Prints exactly one line, `listening on http://HOST:PORT`, to stdout once it accepts
connections, so a parent process can read the port; logs go to stderr. Serves until
SIGTERM or SIGINT, then stops cleanly and exits 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from orchestrator.fakellm.answers import (
    AnswerSource,
    LevelAnswers,
    VaryingAnswers,
    canned_answers,
)
from orchestrator.fakellm.latency import LatencyModel
from orchestrator.fakellm.server import FakeLlamaServer

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m orchestrator.fakellm",
        description="A fake llama.cpp llama-server answering the Job Queue Challenge levels.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    parser.add_argument(
        "--answers",
        default="reference",
        metavar="FLAVOUR",
        help="canned answer flavour from challenge.answers, e.g. reference or flawed "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--answers-file",
        type=Path,
        metavar="FILE",
        help='JSON object {"L1": answer text, ...}; used instead of --answers',
    )
    parser.add_argument("--reasoning", help="thinking text returned with every level answer")
    parser.add_argument(
        "--vary",
        action="store_true",
        help="make every answer unique: a '# fake variant N' comment line in its code",
    )
    parser.add_argument("--slots", type=int, default=1, help="parallel slots (default: 1)")
    parser.add_argument("--alias", default="fake-model", help="model id in /v1/models")
    parser.add_argument("--n-ctx", type=int, default=8192, help="per-slot context in /props")
    parser.add_argument("--load-s", type=float, default=0.0, help="seconds of 503 'Loading model'")
    parser.add_argument(
        "--tokens-per-s", type=float, default=0.0, help="generation speed; 0 = instantaneous"
    )
    parser.add_argument(
        "--prompt-tokens-per-s",
        type=float,
        default=0.0,
        help="prompt processing speed; 0 = instantaneous",
    )
    parser.add_argument("--api-key", help="require this Bearer key (like llama-server --api-key)")
    parser.add_argument(
        "--log-requests", type=Path, metavar="FILE", help="append every request as a JSON line"
    )
    parser.add_argument("--log-level", default="WARNING", help="stderr log level")
    return parser


def load_answers(args: argparse.Namespace) -> AnswerSource:
    """The answer source the flags ask for."""
    source: AnswerSource
    if args.answers_file is not None:
        mapping = json.loads(args.answers_file.read_text(encoding="utf-8"))
        if not isinstance(mapping, dict):
            raise ValueError(f"{args.answers_file}: expected a JSON object of level -> text")
        source = LevelAnswers(mapping, reasoning=args.reasoning)
    else:
        source = canned_answers(args.answers, reasoning=args.reasoning)
    return VaryingAnswers(source) if args.vary else source


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT; return the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        answers = load_answers(args)
    except (OSError, ValueError, RuntimeError) as exc:
        sys.stderr.write(f"fakellm: {exc}\n")
        return 2
    server = FakeLlamaServer(
        answers,
        host=args.host,
        port=args.port,
        slots=args.slots,
        model_alias=args.alias,
        load_s=args.load_s,
        latency=LatencyModel(
            prompt_tokens_per_s=args.prompt_tokens_per_s, tokens_per_s=args.tokens_per_s
        ),
        n_ctx=args.n_ctx,
        api_key=args.api_key,
        log_path=args.log_requests,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        logger.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    try:
        sys.stdout.write(f"listening on {server.url}\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
