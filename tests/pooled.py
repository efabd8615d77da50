"""What a test module asks of the session's scoring pool (`scoring_pool` in tests/conftest.py).

A module sets `POOLED_SCORINGS: PoolNeeds`: (answer, level, limits) -> the profiles of each
round it reads. A profile no module reads in a round is not run in it.
"""

from challenge.levels import Level, Profile
from worker.sandbox import SandboxLimits

BOTH: tuple[Profile, ...] = (Profile.LEGACY, Profile.STRICT)
STRICT_ONLY: tuple[Profile, ...] = (Profile.STRICT,)

PoolKey = tuple[str, Level, SandboxLimits]
PoolNeeds = dict[PoolKey, tuple[tuple[Profile, ...], ...]]
