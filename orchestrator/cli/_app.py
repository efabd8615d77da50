"""The Typer app every command module registers on, and the options they share."""

import re
from pathlib import Path
from typing import Annotated

import typer

from challenge.levels import LEVELS, Level, parse_level
from worker.errors import ConfigError
from worker.settings import Settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="jqbench: benchmark LLMs on llama.cpp servers with the Job Queue Challenge.",
    pretty_exceptions_enable=False,
)

DEFAULT_OUTPUT = Path("results")
EXIT_TIMEOUT = 124
"""`--timeout` ran out: we stopped following, the run goes on (as timeout(1) exits)."""

RunIdArg = Annotated[str, typer.Argument(help="The run's id.")]
OutputOpt = Annotated[Path, typer.Option(help="Where results go.")]
WaitOpt = Annotated[
    bool, typer.Option("--wait", help="Follow progress; write the results at the end.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
TimeoutOpt = Annotated[
    float | None,
    typer.Option("--timeout", metavar="S",
                 help="Stop following after S seconds (exit 124); the run goes on."),
]


def settings() -> Settings:
    """The process's settings, from the environment (built here, at the entry point)."""
    return Settings()


def parse_levels(values: list[str] | None) -> list[Level]:
    """`--levels` as typed: absent means all five; "L1,L2" and "L1 L2" work too."""
    if not values:
        return list(LEVELS)
    words = [word for value in values for word in re.split(r"[\s,]+", value) if word]
    if not words:
        raise ConfigError(f"--levels is empty: choose from {', '.join(LEVELS)}")
    return [parse_one_level(w) for w in words]


def parse_one_level(value: str) -> Level:
    try:
        return parse_level(value)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def check_timeout(timeout_s: float | None, wait: bool = True) -> float | None:
    """`--timeout` only bounds following a run, so it needs `--wait` (`watch` always waits)."""
    if timeout_s is None:
        return None
    if not wait:
        raise ConfigError("--timeout applies to following a run: add --wait")
    if not timeout_s > 0:
        raise ConfigError(f"--timeout must be more than 0 seconds (got {timeout_s:g})")
    return timeout_s
