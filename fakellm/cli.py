"""The command line: `python -m fakellm --port 0 --answers reference ...`.

Prints exactly one line, `listening on http://HOST:PORT`, to stdout once it accepts
connections, so a parent process can read the port; logs go to stderr. Serves until
SIGTERM or SIGINT, then stops cleanly and exits 0; exits 2 on bad options.

Options come in two groups: the server's (port, dialect, request log) and the model's
(what `ModelSpec` holds). Router mode will add server options (a models directory,
`--models-max`) that describe several models instead of the one given here.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from fakellm.answers import (
    ANSWER_FLAVOURS,
    AnswerSource,
    MixedAnswers,
    VaryingAnswers,
    canned_answers,
    parse_mix,
)
from fakellm.dialect import DIALECTS
from fakellm.latency import LatencyModel
from fakellm.server import FakeLlamaServer

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m fakellm",
        description="A fake llama.cpp llama-server answering the Job Queue Challenge levels.",
    )
    server = parser.add_argument_group("server")
    server.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    server.add_argument(
        "--dialect",
        choices=sorted(DIALECTS),
        default="b4748",
        help="llama-server build to imitate (default: %(default)s)",
    )
    server.add_argument(
        "--log-requests", type=Path, metavar="FILE", help="append every request as a JSON line"
    )
    server.add_argument(
        "--api-key",
        help="like llama-server's --api-key: every path but /health and /models needs it",
    )
    server.add_argument(
        "--hang",
        action="store_true",
        help="accept connections but answer nothing, /health included (a hung server)",
    )
    model = parser.add_argument_group("model")
    model.add_argument("--alias", default="fake-model", help="model id in /v1/models")
    model.add_argument(
        "--answers",
        choices=ANSWER_FLAVOURS,
        default="reference",
        help="canned answers from challenge.answers, or empty ones (default: "
             "%(default)s)",
    )
    model.add_argument(
        "--mix", metavar="FLAVOUR=W,...",
        help="draw each answer's flavour by weight (e.g. reference=0.8,empty=0.2) from a "
             "seeded RNG, instead of --answers",
    )
    model.add_argument("--seed", type=int, default=0, help="seed of --mix (default: 0)")
    model.add_argument("--reasoning", help="thinking text returned with every level answer")
    model.add_argument(
        "--vary",
        action="store_true",
        help="make every answer unique: a '# fake variant N' comment line in its code",
    )
    model.add_argument("--slots", type=int, default=1, help="parallel slots (default: 1)")
    model.add_argument("--n-ctx", type=int, default=32768,
                       help="per-slot context in /props (default 32768: max_tokens 8192 "
                            "and a chained prompt fit)")
    model.add_argument("--no-context-shift", dest="context_shift", action="store_false",
                       default=None, help="refuse a prompt longer than the context (400) "
                       "instead of cutting it (default: as the dialect does)")
    model.add_argument("--load-s", type=float, default=0.0, help="seconds of 503 'Loading model'")
    model.add_argument(
        "--tokens-per-s", type=float, default=0.0, help="generation speed; 0 = instantaneous"
    )
    model.add_argument(
        "--prompt-tokens-per-s",
        type=float,
        default=0.0,
        help="prompt processing speed; 0 = instantaneous",
    )
    return parser


def build_server(args: argparse.Namespace) -> FakeLlamaServer:
    """The server the options describe (not started); ValueError for impossible values,
    OSError for a request log that cannot be opened."""
    answers: AnswerSource = canned_answers(args.answers, reasoning=args.reasoning)
    if args.mix:
        answers = MixedAnswers(parse_mix(args.mix, args.reasoning), seed=args.seed)
    if args.vary:
        answers = VaryingAnswers(answers)
    return FakeLlamaServer(
        answers,
        port=args.port,
        dialect=args.dialect,
        alias=args.alias,
        slots=args.slots,
        n_ctx=args.n_ctx,
        context_shift=args.context_shift,
        load_s=args.load_s,
        latency=LatencyModel(
            prompt_tokens_per_s=args.prompt_tokens_per_s, tokens_per_s=args.tokens_per_s
        ),
        hang=args.hang,
        log_path=args.log_requests,
        api_key=args.api_key,
    )


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT; return the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        server = build_server(args)
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"fakellm: {exc}\n")
        return 2
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
