"""The scoring corpus: model-like answers with the legacy and strict points they must get.

`manifest.yaml` lists the entries (with the reasoning behind each expectation); the answers
are files in `answers/` (kept byte for byte: `.gitattributes` there turns off newline
conversion, since one answer is CRLF) or the canned answers of `challenge.answers`.
Used by `test_corpus.py` and by `stress_corpus.py`.
"""

from functools import cache
from pathlib import Path
from typing import NamedTuple

import yaml

from challenge.answers import canned_answer
from challenge.levels import Level, Profile
from challenge.outcomes import TestOutcome
from challenge.plan import RunnerLimits
from challenge.suite_index import test_cases
from worker.sandbox import SandboxLimits

CORPUS_DIR = Path(__file__).resolve().parent
ANSWERS_DIR = CORPUS_DIR / "answers"
MANIFEST = CORPUS_DIR / "manifest.yaml"
CANNED_PREFIX = "canned:"
ALL_FAIL = "all"

#: Limits for scoring the corpus: the workers' default of 32 tests at once, so a level's legacy
#: and strict tests run in one wave (L3 has 15 + 18 = 33: its last test starts as soon as the
#: first one ends), and room for their threads (a 3-worker pool answer runs 4 threads per test
#: process).
LIMITS = SandboxLimits(memory_mb=512, pids=1024, wall_clock_s=240,
                       runner=RunnerLimits(test_timeout_s=60, max_parallel=32))


class Entry(NamedTuple):
    """One corpus answer and what each profile must make of it."""

    name: str
    level: Level
    answer_ref: str
    """A file name in answers/, or canned:<flavour>."""
    legacy: float | None
    """Legacy points; None where the legacy suite races on this code (not asserted)."""
    strict: float
    strict_failing: frozenset[str] | None
    """Strict test ids that must not pass; None: no strict code, so nothing runs."""
    why: str

    def answer(self) -> str:
        """The answer text, byte for byte."""
        if self.answer_ref.startswith(CANNED_PREFIX):
            return canned_answer(self.level, self.answer_ref.removeprefix(CANNED_PREFIX))
        return (ANSWERS_DIR / self.answer_ref).read_bytes().decode("utf-8")

    def strict_ids(self) -> list[str]:
        return [case.id for case in test_cases(self.level, Profile.STRICT)]

    def expected_strict_outcomes(self) -> list[TestOutcome]:
        """The strict outcomes the manifest implies (failing ids "failed", others "passed")."""
        failing = self.strict_failing or frozenset()
        return [TestOutcome(profile=Profile.STRICT, id=test_id,
                            outcome="failed" if test_id in failing else "passed")
                for test_id in self.strict_ids()]


def _entry(raw: dict) -> Entry:
    failing = raw.get("strict_failing", [])
    return Entry(
        name=raw["name"],
        level=Level(raw["level"]),
        answer_ref=raw["answer"],
        legacy=None if raw["legacy"] is None else float(raw["legacy"]),
        strict=float(raw["strict"]),
        strict_failing=None if failing == ALL_FAIL else frozenset(failing),
        why=" ".join(str(raw["why"]).split()),
    )


@cache
def load_corpus() -> tuple[Entry, ...]:
    """The manifest's entries, in file order."""
    return tuple(_entry(raw) for raw in yaml.safe_load(MANIFEST.read_text(encoding="utf-8")))
