"""Answer -> the sandbox bundle: candidate files, suite files and the plan, per profile.

Layout under /work, one directory per profile (the tests' cwd and sys.path[0]):
    legacy/legacy_l1.py ...         the suites the level's test set needs
    legacy/candidate/job_queue.py   L1-L4 candidate
    legacy/candidate/queue/*.py     L5 candidate
    strict/strict_l1.py ...         likewise for strict, with strict extraction's files,
    strict/strict_support.py        plus the helper modules its suites import (waiting and
    strict/strict_locks.py          order; L4's lock recorder; the checks run inside the
    strict/strict_inside.py         candidate's process)
The candidate's files are never on a test's sys.path: a candidate host imports them in a
process and uid of its own, and the test reaches the queue through a proxy
(docs/trust-boundary.md). A profile whose extraction found no code gets no files and no
tests: it scores 0.
"""

import re
from collections.abc import Callable, Sequence

from challenge.extraction import legacy_candidate_files
from challenge.extraction_strict import strict_candidate_files
from challenge.levels import Level, Profile
from challenge.plan import (
    DEFAULT_RUNNER_LIMITS,
    Bundle,
    CandidateSpec,
    PlannedTest,
    RunnerLimits,
    SandboxPlan,
)
from challenge.suite_index import suite_source, support_files, test_cases

#: Where the candidate's files go, relative to the profile directory.
CANDIDATE_DIR = "candidate"

# The extraction regex only yields queue/\w+\.py; stay within names every tar and file
# system takes (ASCII, short), whatever a future extractor produces.
_SAFE_L5_NAME = re.compile(r"queue/[A-Za-z0-9_]{1,100}\.py")

Extractor = Callable[[str, Level], dict[str, str]]

#: Per profile: answer, level -> candidate files (names relative to the candidate root).
EXTRACTORS: dict[Profile, Extractor] = {
    Profile.LEGACY: legacy_candidate_files,
    Profile.STRICT: strict_candidate_files,
}


#: Per profile: niceness of its test processes (see PlannedTest.cpu_nice).
CPU_NICE: dict[Profile, int] = {Profile.LEGACY: 0, Profile.STRICT: 10}
#: Profiles whose tests wait fixed times (see PlannedTest.settle_sleeps).
SETTLED_SLEEPS = frozenset({Profile.LEGACY})


def is_safe_l5_name(name: str) -> bool:
    """True for a file name an L5 candidate may have, such as "queue/core.py"."""
    return _SAFE_L5_NAME.fullmatch(name) is not None


def candidate_files(answer: str, level: Level, profile: Profile) -> dict[str, str]:
    """The candidate files `profile` scores for this answer; unsafe L5 names are dropped."""
    try:
        extract = EXTRACTORS[Profile(profile)]
    except KeyError:
        raise ValueError(f"profile {profile!s} has no extractor yet") from None
    files = extract(answer, Level(level))
    if Level(level) is Level.L5:
        files = {name: body for name, body in files.items() if is_safe_l5_name(name)}
    return files


def candidate_spec(level: Level, root: str) -> CandidateSpec:
    """Where the candidate host of a test in profile directory `root` finds the answer."""
    folder = f"{root}/{CANDIDATE_DIR}"
    if level is Level.L5:
        return CandidateSpec(dir=folder, module="queue", proxy_as="candidate_queue")
    return CandidateSpec(dir=folder, module="job_queue", proxy_as="job_queue")


def build_bundle(
    answer: str,
    level: Level,
    *,
    profiles: Sequence[Profile] = (Profile.LEGACY,),
    limits: RunnerLimits = DEFAULT_RUNNER_LIMITS,
) -> Bundle:
    """Everything the sandbox needs to score `answer` for `level` under each of `profiles`.

    `bundle.extracted[profile]` holds the candidate files (empty when there was no code).
    Score the runner's outcomes with `challenge.points`, e.g. `legacy_points(level,
    outcomes, has_code=bool(bundle.extracted["legacy"]))`.
    """
    level = Level(level)
    files: dict[str, str] = {}
    tests: list[PlannedTest] = []
    extracted: dict[str, dict[str, str]] = {}
    for profile in dict.fromkeys(Profile(p) for p in profiles):
        candidate = candidate_files(answer, level, profile)
        extracted[profile.value] = candidate
        if not candidate:
            continue
        root = profile.value
        cases = test_cases(level, profile)
        for suite in [*dict.fromkeys(case.file for case in cases), *support_files(profile)]:
            files[f"{root}/{suite}"] = suite_source(suite)
        for name, body in candidate.items():
            files[f"{root}/{CANDIDATE_DIR}/{name}"] = body
        tests.extend(
            PlannedTest(
                profile=profile, id=case.id, cwd=root, file=case.file, function=case.function,
                candidate=candidate_spec(level, root), cpu_nice=CPU_NICE[profile],
                settle_sleeps=profile in SETTLED_SLEEPS,
            )
            for case in cases
        )
    plan = SandboxPlan(tests=tests, limits=limits)
    return Bundle(level=level, files=files, plan=plan, extracted=extracted)
