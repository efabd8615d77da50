"""`python -m worker`: start a Celery worker for one model server or for scoring.

    python -m worker --model NAME [--slots N]    # consumes llm.NAME with N slots
    python -m worker --score [--concurrency N]   # consumes score, default one per core
"""

import argparse
import os
import sys

from worker.dispatch import SCORE_QUEUE, llm_queue


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--model", action="append", help="model name (repeatable)")
    group.add_argument("--score", action="store_true", help="consume the score queue")
    parser.add_argument("--slots", "--concurrency", dest="concurrency", type=int, default=None)
    parser.add_argument("--loglevel", default="INFO")
    args = parser.parse_args(argv)
    if args.score:
        queues = [SCORE_QUEUE]
        concurrency = args.concurrency or os.cpu_count() or 1
    else:
        queues = [llm_queue(m) for m in args.model]
        concurrency = args.concurrency or len(queues)
    from worker.app import app

    app.worker_main([
        "worker", "-Q", ",".join(queues), "-c", str(concurrency),
        "--loglevel", args.loglevel,
        "-n", f"jqbench-{'score' if args.score else 'llm'}-{os.getpid()}@%h",
    ])


if __name__ == "__main__":
    main(sys.argv[1:])
