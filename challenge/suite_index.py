"""Which suite tests run for a level under a profile, and their stable ids.

Legacy: docs/challenge.md §3-4; strict: docs/scoring.md §4-5.

The suites in `challenge/suites/` are data for the sandbox. Their test functions are read
from the source with `ast` (never imported: they import the candidate), so a suite file is
the single source of truth for its tests. Ids are "L<n>::<function name without test_>".
"""

import ast
from functools import cache
from typing import NamedTuple, TypeVar

from challenge._resources import read_text
from challenge.levels import Level, Profile

SUITES_DIR = "suites"

_T = TypeVar("_T")

#: Per profile, the suite file holding each level's own tests (relative to `SUITES_DIR`).
SUITE_FILES: dict[Profile, dict[Level, str]] = {
    profile: {level: f"{profile.value}_{level.value.lower()}.py" for level in Level}
    for profile in (Profile.LEGACY, Profile.STRICT)
}

#: Per profile, helper modules its suites import; the bundle puts them beside the suites.
SUPPORT_FILES: dict[Profile, tuple[str, ...]] = {
    Profile.LEGACY: (),
    Profile.STRICT: ("strict_support.py", "strict_locks.py", "strict_inside.py"),
}

#: Per profile, whose tests run when a level is scored. Legacy: docs/challenge.md §4. Strict:
#: the same sets, so that a regression of an earlier level in L2 or L3 costs points there.
LEVEL_TEST_SETS: dict[Profile, dict[Level, tuple[Level, ...]]] = {
    profile: {
        Level.L1: (Level.L1,),
        Level.L2: (Level.L1, Level.L2),
        Level.L3: (Level.L1, Level.L2, Level.L3),
        Level.L4: (Level.L4,),
        Level.L5: (Level.L5,),
    }
    for profile in (Profile.LEGACY, Profile.STRICT)
}


class SuiteTest(NamedTuple):
    """One test function of a suite file."""

    id: str
    """Stable id, e.g. "L1::add_job_returns_job_id"."""
    file: str
    """Suite file name, relative to `SUITES_DIR` (and to the test's cwd in the sandbox)."""
    function: str
    """Test function name inside `file`."""


def _profile_table(table: dict[Profile, _T], profile: Profile) -> _T:
    """`table[profile]`, or a ValueError naming the profile."""
    try:
        return table[Profile(profile)]
    except KeyError:
        raise ValueError(f"profile {profile!s} has no test suites yet") from None


def suite_source(file: str) -> str:
    """The source text of a suite file (e.g. "legacy_l1.py"), byte for byte."""
    return read_text(f"{SUITES_DIR}/{file}")


@cache
def _suite_functions(file: str) -> tuple[str, ...]:
    """Top-level `test_*` functions of a suite file, in source order."""
    tree = ast.parse(suite_source(file), filename=file)
    return tuple(
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    )


def suite_tests(level: Level, profile: Profile = Profile.LEGACY) -> list[SuiteTest]:
    """The tests of `level`'s own suite file (not the accumulated set a level runs)."""
    file = _profile_table(SUITE_FILES, profile)[Level(level)]
    return [
        SuiteTest(f"{Level(level).value}::{name.removeprefix('test_')}", file, name)
        for name in _suite_functions(file)
    ]


def test_cases(level: Level, profile: Profile = Profile.LEGACY) -> list[SuiteTest]:
    """The test set run when `level` is scored under `profile` (legacy L2 = L1 + L2, ...)."""
    levels = _profile_table(LEVEL_TEST_SETS, profile)[Level(level)]
    return [test for part in levels for test in suite_tests(part, profile)]


test_cases.__test__ = False  # type: ignore[attr-defined]  # a pytest importing it must not collect it


def suite_files(level: Level, profile: Profile = Profile.LEGACY) -> list[str]:
    """The suite files `test_cases(level, profile)` needs, without repeats, in run order."""
    return list(dict.fromkeys(test.file for test in test_cases(level, profile)))


def support_files(profile: Profile) -> tuple[str, ...]:
    """Helper modules (relative to `SUITES_DIR`) that `profile`'s suites import."""
    return _profile_table(SUPPORT_FILES, profile)
