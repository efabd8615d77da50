"""Scoring wall time per level and profile, on the canned reference answers.

    .venv/bin/python bench/scoring_times.py [--repeat N] [--flavour reference|flawed]

Each level is scored under each profile alone, then under all profiles in one sandbox (as
the workers do). Needs Docker and the sandbox image. Prints a table; asserts nothing.
"""

import argparse
import statistics
import time

from challenge.answers import canned_answer
from challenge.levels import LEVELS, Level, Profile
from challenge.points import SCORE_RULES
from worker._docker import DockerSandbox
from worker.sandbox import SandboxLimits
from worker.scorer import score_answer
from worker.settings import Settings


def time_scoring(sandbox: DockerSandbox, answer: str, level: Level,
                 profiles: tuple[Profile, ...], repeat: int) -> tuple[float, dict[str, float]]:
    """Median seconds over `repeat` runs, and the points of the last run."""
    times = []
    scores: dict[str, float] = {}
    for _ in range(repeat):
        started = time.monotonic()
        report = score_answer(answer, level, sandbox, SandboxLimits(), profiles=profiles)
        times.append(time.monotonic() - started)
        scores = report.scores
    return statistics.median(times), scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--flavour", default="reference")
    args = parser.parse_args()
    sandbox = DockerSandbox(Settings().sandbox_image)
    profiles = tuple(p for p in Profile if p in SCORE_RULES)
    columns = [*(p.value for p in profiles), "+".join(p.value for p in profiles)]
    print(f"{args.flavour} answers, median of {args.repeat} runs, seconds (points)")
    print("level  " + "  ".join(f"{c:>18}" for c in columns))
    for level in LEVELS:
        answer = canned_answer(level, args.flavour)
        cells = []
        for selection in [(p,) for p in profiles] + [profiles]:
            seconds, scores = time_scoring(sandbox, answer, level, selection, args.repeat)
            points = "/".join(f"{scores.get(p.value, 0):g}" for p in selection)
            cells.append(f"{seconds:7.2f} ({points})")
        print(f"{level.value:5}  " + "  ".join(f"{c:>18}" for c in cells))


if __name__ == "__main__":
    main()
