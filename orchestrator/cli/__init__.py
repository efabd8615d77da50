"""The jqbench command line (`jqbench` = `python -m orchestrator`).

One Typer app (`_app.py`); a module per command group registers its commands on it (`runs`,
`scoring`, `reports`, `maintenance`); `_render.py` is the one place that prints. Commands
parse, call a service, and render. Errors of ours (JqbenchError) and usage errors become one line on
stderr and an exit code: 2 usage or configuration, 3 a service does not answer, 1 a run that
ended incomplete or cancelled (or a failed doctor check), 124 `--timeout` ran out, 130 Ctrl-C.
"""

import logging
import os
import sys

import typer

# Importing a command module registers its commands; `--help` lists them in this order.
from orchestrator.cli import runs  # noqa: F401  # isort: skip
from orchestrator.cli import scoring  # noqa: F401  # isort: skip
from orchestrator.cli import reports  # noqa: F401  # isort: skip
from orchestrator.cli import maintenance  # noqa: F401  # isort: skip
from orchestrator.cli._app import app
from orchestrator.cli._render import say
from worker.errors import JqbenchError

__all__ = ["app", "expand_multi_value_options", "main"]

MULTI_VALUE_OPTIONS = frozenset({"--models", "-m", "--levels", "-l", "--worker", "--run", "-r"})


def expand_multi_value_options(argv: list[str]) -> list[str]:
    """Let `--models a b --levels L1 L2` work: click takes one value per option occurrence,
    so every further bare word after such an option becomes its own `--option word`."""
    expanded: list[str] = []
    current: str | None = None
    first_value_pending = False
    for word in argv:
        if word.startswith("-"):
            current = word if word in MULTI_VALUE_OPTIONS else None
            first_value_pending = current is not None
            expanded.append(word)
        elif current is not None and not first_value_pending:
            expanded.extend([current, word])
        else:
            expanded.append(word)
            first_value_pending = False
    return expanded


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(
        level=os.environ.get("JQ_LOG_LEVEL", "WARNING").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        args = expand_multi_value_options(list(sys.argv[1:] if argv is None else argv))
        code = app(args=args, standalone_mode=False, prog_name="jqbench")
    except JqbenchError as exc:
        say(f"error: {exc}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        say("interrupted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        say("aborted")
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors (typer's click) in non-standalone mode
        message = exc.format_message()
        if message:  # else the help was shown already (no arguments at all)
            command = getattr(getattr(exc, "ctx", None), "command_path", None) or "jqbench"
            say(f"error: {message} (see {command} --help)")
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(code if isinstance(code, int) else 0)
