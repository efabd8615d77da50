"""A unit of work: one (run, model, iteration, level), the key of task ids, records and logs."""

from enum import StrEnum
from typing import NamedTuple

from challenge.levels import Level


class Stage(StrEnum):
    """The two tasks of a unit; the suffix of its task ids."""

    GENERATE = "gen"
    SCORE = "score"


class Unit(NamedTuple):
    """Who a generate or score task is for. Model names and run ids are limited to
    `[A-Za-z0-9._-]`, so the joined key is unambiguous."""

    run_id: str
    model: str
    iteration: int
    level: Level

    @property
    def key(self) -> str:
        """`{run}:{model}:{iteration}:{level}`: the stem of task ids and record keys."""
        return f"{self.run_id}:{self.model}:{self.iteration}:{self.level.value}"

    def task_id(self, stage: Stage) -> str:
        """Deterministic, so a resent task is the same task (docs/architecture.md, Data flow)."""
        return f"{self.key}:{stage.value}"

    @property
    def log_context(self) -> str:
        """The fields every log line about this unit carries."""
        return (f"run={self.run_id} model={self.model} iter={self.iteration} "
                f"level={self.level.value}")

    @property
    def slot(self) -> tuple[str, int, Level]:
        """(model, iteration, level): the unit within its run."""
        return self.model, self.iteration, self.level


def parse_task_id(task_id: str) -> tuple[Unit, Stage]:
    """The unit and stage of a `Unit.task_id` (also a lease's name).

    Raises:
        ValueError: `task_id` is not one of ours.
    """
    run_id, model, iteration, level, stage = task_id.split(":")
    return Unit(run_id, model, int(iteration), Level(level)), Stage(stage)
