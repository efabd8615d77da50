"""Canned model answers for tests, the demo and the fake llama-server.

Each is a whole answer as a model would send it (markdown with a ```python fence for L1-L4).
- "reference": correct and cumulative (L2 = L1 + retries, L3 = L1 + L2 + priority); the L5
  answer is unfenced ("# queue/x.py" headers only), the one form legacy extraction keeps clean.
- "flawed": realistic mistakes: L1 correct; L2 without any retry logic; L3 ignoring priority
  (plain FIFO); L4 echoing the prompt's buggy code; L5 fenced per file like the published
  answers (legacy extraction leaves fence text in every file).
"""

from challenge._resources import read_text
from challenge.levels import Level

REFERENCE = "reference"
FLAWED = "flawed"

#: The available flavours of canned answers.
FLAVOURS: tuple[str, ...] = (REFERENCE, FLAWED)

#: Legacy points each canned answer scores (docs/challenge.md §4): a fixture for end-to-end
#: checks.
EXPECTED_LEGACY_POINTS: dict[str, dict[Level, int]] = {
    REFERENCE: {Level.L1: 25, Level.L2: 25, Level.L3: 25, Level.L4: 15, Level.L5: 10},
    FLAWED: {Level.L1: 25, Level.L2: 25, Level.L3: 25, Level.L4: 15, Level.L5: 5},
}

#: Strict points each canned answer scores (docs/scoring.md §5). The flawed set loses them
#: where it is flawed: L2 fails the 4 retry tests of its 13 (9/13 x 25), L3 the 3
#: priority-order tests of its 18 (15/18 x 25), the echoed L4 its guarded-write tests (all or
#: nothing); its L5 is fenced per file, which strict extraction reads clean. tests/corpus
#: checks these in Docker.
EXPECTED_STRICT_POINTS: dict[str, dict[Level, float]] = {
    REFERENCE: {Level.L1: 25, Level.L2: 25, Level.L3: 25, Level.L4: 15, Level.L5: 10},
    FLAWED: {Level.L1: 25, Level.L2: 17.3, Level.L3: 20.8, Level.L4: 0, Level.L5: 10},
}


def canned_answer(level: Level, flavour: str) -> str:
    """The full answer text of `flavour` for `level`, byte for byte as stored."""
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown flavour {flavour!r}: choose from {', '.join(FLAVOURS)}")
    return read_text(f"reference/{Level(level).value}_{flavour}.md")
