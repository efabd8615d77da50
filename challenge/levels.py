"""The five levels of the Job Queue Challenge and their point caps (docs/challenge.md §4)."""

from enum import StrEnum


class Level(StrEnum):
    L1 = "L1"
    L2 = "L2"
    L3 = "L3"
    L4 = "L4"
    L5 = "L5"

    @property
    def number(self) -> int:
        return int(self.value[1])


LEVELS: tuple[Level, ...] = tuple(Level)

#: Levels whose prompt embeds the code of the previous chained level ("Current implementation").
CHAINED_LEVELS: tuple[Level, ...] = (Level.L1, Level.L2, Level.L3)

#: Maximum points per level; the five add up to 100.
MAX_POINTS: dict[Level, int] = {
    Level.L1: 25,
    Level.L2: 25,
    Level.L3: 25,
    Level.L4: 15,
    Level.L5: 10,
}


class Profile(StrEnum):
    """A scoring profile: the original rules, or tests that measure what each level asks for."""

    LEGACY = "legacy"
    STRICT = "strict"


def parse_level(text: str) -> Level:
    """Parse "L3", "l3" or "3" into a Level; raise ValueError with the valid choices."""
    cleaned = text.strip().upper()
    if not cleaned.startswith("L"):
        cleaned = "L" + cleaned
    try:
        return Level(cleaned)
    except ValueError:
        raise ValueError(f"unknown level {text!r}: choose from L1, L2, L3, L4, L5") from None
