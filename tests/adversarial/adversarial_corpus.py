"""The adversarial corpus (issue 7, point 8): answers written to fool the scorer.

Each attack answer is built on code that earns a known number of points honestly (a "base":
a stub that never runs a job, or a partial queue), plus attack code that runs in the sandbox
and tries to turn failing tests into passes. `manifest.yaml` lists the entries with what the
base earns honestly (`honest`, measured by scoring the base answer alone, which is kept as
its own entry) and what the attack added on the pre-fix runner, before the trust boundary
(`forged_today`: the positive control). Anything an entry scores above `honest` is unearned.
Bases are entries of class `base` (honest = what they score; nothing to forge).

Read by the CI test test_adversarial.py (every base scores exactly its honest points; no
attack earns an unearned point in any of its runs) and by bench/adversarial.py, which prints
the current table.
"""

from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from challenge.levels import Level, Profile
from worker.sandbox import SandboxLimits

ADVERSARIAL_DIR = Path(__file__).resolve().parent
ANSWERS_DIR = ADVERSARIAL_DIR / "answers"
MANIFEST = ADVERSARIAL_DIR / "manifest.yaml"
BASE_CLASS = "base"
PROFILES: tuple[Profile, ...] = (Profile.LEGACY, Profile.STRICT)

#: The production defaults (worker.settings): every test of a level in one wave (32 at
#: once), so attacks that depend on start order meet the order scoring really uses.
LIMITS = SandboxLimits()


class Entry(NamedTuple):
    """One adversarial answer and what it earns honestly / forged when measured."""

    name: str
    answer_file: str
    level: Level
    attack_class: str
    """A short class name (e.g. "patch-harness", "forge-result-line", "base")."""
    base: str | None
    """The entry whose code this one is built on (None for a base)."""
    honest: dict[str, float]
    """Points per profile that the code earns without the attack (the base's score)."""
    forged_today: dict[str, float]
    """Points per profile the attack added on the pre-fix runner (scored - honest)."""
    runs: int
    """How often to score it: more than once for attacks that race with something (the
    worst run counts)."""
    why: str

    def answer(self) -> str:
        """The answer text, byte for byte."""
        return (ANSWERS_DIR / self.answer_file).read_bytes().decode("utf-8")

    @property
    def is_base(self) -> bool:
        return self.attack_class == BASE_CLASS


def _points(raw: dict[str, Any]) -> dict[str, float]:
    return {profile.value: float(raw[profile.value]) for profile in PROFILES}


def _entry(raw: dict[str, Any]) -> Entry:
    return Entry(
        name=raw["name"],
        answer_file=raw["answer"],
        level=Level(raw["level"]),
        attack_class=raw["class"],
        base=raw.get("base"),
        honest=_points(raw["honest"]),
        forged_today=_points(raw["forged_today"]),
        runs=int(raw.get("runs", 1)),
        why=" ".join(str(raw["why"]).split()),
    )


@cache
def load_adversarial() -> tuple[Entry, ...]:
    """The manifest's entries, in file order."""
    return tuple(_entry(raw) for raw in yaml.safe_load(MANIFEST.read_text(encoding="utf-8")))
