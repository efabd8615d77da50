"""`python -m worker`: start a Celery worker for one model server or for scoring.

    python -m worker --model NAME [--slots N]    # consumes llm.NAME with N slots
    python -m worker --score [--concurrency N]   # consumes score; default: the host's
                                                 # sandbox cap (JQ_SANDBOX_SLOTS)
    python -m worker --server NAME [--config FILE]
        # a shared GPU server of models.yaml (kind router or llama-swap): consumes gpu.NAME
        # (its drivers) and llm.<model> of each model on it; one per server
"""

import argparse
import os
import sys
from pathlib import Path

from worker.config import LOCAL_MODELS_FILE_ENV, load_models, server_commands
from worker.dispatch import SCORE_QUEUE, gpu_queue, llm_queue
from worker.errors import ConfigError

#: Worker processes of a shared server's worker (units run on its driver's threads).
SERVER_WORKER_CONCURRENCY = 3


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--model", action="append", help="model name (repeatable)")
    group.add_argument("--score", action="store_true", help="consume the score queue")
    group.add_argument("--server", help="a shared GPU server under servers: in models.yaml")
    parser.add_argument("--config", type=Path,
                        default=Path(os.environ.get("JQ_MODELS_FILE", "models.yaml")),
                        help="models file, for --server (default: $JQ_MODELS_FILE or "
                             "models.yaml)")
    parser.add_argument("--slots", "--concurrency", dest="concurrency", type=int, default=None)
    parser.add_argument("--loglevel", default="INFO")
    args = parser.parse_args(argv)
    if args.score:
        queues = [SCORE_QUEUE]
        from worker.settings import Settings

        concurrency = args.concurrency or Settings().effective_sandbox_slots
    elif args.server:
        try:
            queues = server_queues(args.server, args.config)
        except ConfigError as exc:
            parser.error(str(exc))
        os.environ[LOCAL_MODELS_FILE_ENV] = str(args.config.resolve())
        # a driver, a later run's driver waiting for it, and the generate tasks asking
        concurrency = args.concurrency or SERVER_WORKER_CONCURRENCY
    else:
        queues = [llm_queue(m) for m in args.model]
        concurrency = args.concurrency or len(queues)
    from worker.app import app

    app.worker_main([
        "worker", "-Q", ",".join(queues), "-c", str(concurrency),
        "--loglevel", args.loglevel,
        "-n", f"jqbench-{_role(args)}-{os.getpid()}@%h",
    ])


def _role(args: argparse.Namespace) -> str:
    return "score" if args.score else f"gpu-{args.server}" if args.server else "llm"


def server_queues(server: str, config: Path) -> list[str]:
    """gpu.<server> and the llm queue of every model of `config` on that server.

    Raises:
        ConfigError: the models file is broken, `server` has no model that it drives, or
            (kind commands) a model of it has no start command.
    """
    models = load_models(config)
    served = sorted(name for name, model in models.items() if model.server == server)
    if not served:
        raise ConfigError(f"{config}: no model has server: {server}")
    if not any(models[name].shares_a_server for name in served):
        raise ConfigError(f"{config}: servers.{server} is kind single: start its worker with "
                          f"--model {served[0]}")
    if models[served[0]].server_kind == "commands":
        server_commands(config, server)
    return [gpu_queue(server)] + [llm_queue(name) for name in served]


if __name__ == "__main__":
    main(sys.argv[1:])
