"""Leases: a unit in progress is held by the worker process running it.

The process takes the lease when the unit starts (`RecordStore.acquire_lease`: a Redis key
with a TTL and a random token) and a heartbeat thread in that same process renews it; the
unit's final record is written only while the lease is still its own (checked atomically),
so a worker that was cut off and wakes up late, or a stale redelivery, can never overwrite
what another worker wrote (first writer wins). When a lease lapses (the process was killed,
its host or network is gone), any worker's sweeper re-sends the unit (`worker.sweeper`),
long before Redis's visibility timeout would.
"""

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from worker.store import RecordStore, StoreUnavailable
from worker.unit import Stage, Unit

logger = logging.getLogger(__name__)


@dataclass
class Lease:
    """A lease this process holds on one stage of one unit."""

    unit: Unit
    stage: Stage
    token: str
    lost: threading.Event = field(default_factory=threading.Event)
    """Set when a renewal found the lease gone or taken: the unit's writes will be refused."""


class UnitBusy(Exception):
    """Another live worker holds this unit's lease: this delivery is a duplicate."""


@contextmanager
def held(store: RecordStore, unit: Unit, stage: Stage, ttl_s: float) -> Iterator[Lease]:
    """Hold the lease of (unit, stage) for the block, renewed every ttl/3 by a daemon thread.

    Raises:
        UnitBusy: a live lease of another worker exists.
        StoreUnavailable: Redis failed.
    """
    token = store.acquire_lease(unit, stage, ttl_s)
    if token is None:
        raise UnitBusy(f"{unit.log_context} stage={stage.value} is held by another worker")
    lease = Lease(unit, stage, token)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(ttl_s / 3):
            try:
                if not store.renew_lease(unit, stage, token, ttl_s):
                    lease.lost.set()
                    logger.warning("%s lease lost: another worker owns the unit now",
                                   unit.log_context)
                    return
            except StoreUnavailable as exc:  # keep trying: the lease may still be ours
                logger.warning("%s lease renewal failed: %s", unit.log_context, exc)

    beat = threading.Thread(target=renew, name=f"lease-{unit.key}", daemon=True)
    beat.start()
    try:
        yield lease
    finally:
        stop.set()
        beat.join(5)
        try:
            store.release_lease(unit, stage, token)
        except StoreUnavailable as exc:  # it lapses by itself
            logger.warning("%s lease release failed: %s", unit.log_context, exc)
