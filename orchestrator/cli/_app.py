"""The Typer app every command module registers on, and the options they share."""

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

RunIdArg = Annotated[str, typer.Argument(help="The run's id.")]
OutputOpt = Annotated[Path, typer.Option(help="Where results go.")]
WaitOpt = Annotated[
    bool, typer.Option("--wait", help="Follow progress; write the results at the end.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def settings() -> Settings:
    """The process's settings, from the environment (built here, at the entry point)."""
    return Settings()


def parse_levels(values: list[str] | None) -> list[Level]:
    if not values:
        return list(LEVELS)
    return [parse_one_level(v) for v in values]


def parse_one_level(value: str) -> Level:
    try:
        return parse_level(value)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
