"""Wait until a Celery worker listens on each queue named, then exit 0 (1 after the timeout).

The compose demo runs this before `jqbench submit`, so that the run starts at once and
submit has no reason to warn about workers that are still starting.

    python3 wait_for_workers.py [--timeout S] QUEUE [QUEUE ...]
"""

import argparse
import sys
import time

from orchestrator.workers import worker_census
from worker.settings import Settings


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("queues", nargs="+")
    args = parser.parse_args(argv)
    settings = Settings()
    deadline = time.monotonic() + args.timeout
    missing: list[str] = list(args.queues)
    while time.monotonic() < deadline:
        census = worker_census(settings)
        missing = census.missing(args.queues) if not census.error else list(args.queues)
        if not missing:
            return 0
        time.sleep(1)
    print(f"wait_for_workers: no worker listens on {' '.join(missing)} after "
          f"{args.timeout:g} s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
