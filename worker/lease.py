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
from collections.abc import Callable, Iterator
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
def renewing(renew: Callable[[], bool], every_s: float, what: str) -> Iterator[threading.Event]:
    """Call `renew` every `every_s` seconds on a daemon thread for the block.

    Yields an event set once `renew` returns False (the hold is gone: it stops there). A
    renewal that fails on Redis is logged and tried again next time: the hold may still be
    ours until its TTL.
    """
    lost = threading.Event()
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every_s):
            try:
                if not renew():
                    lost.set()
                    logger.warning("%s lost: another holder may have it now", what)
                    return
            except StoreUnavailable as exc:
                logger.warning("%s renewal failed: %s", what, exc)

    thread = threading.Thread(target=beat, name=f"renew {what}", daemon=True)
    thread.start()
    try:
        yield lost
    finally:
        stop.set()
        thread.join(5)


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
    try:
        with renewing(lambda: store.renew_lease(unit, stage, token, ttl_s), ttl_s / 3,
                      f"{unit.log_context} lease") as lost:
            yield Lease(unit, stage, token, lost)
    finally:
        try:
            store.release_lease(unit, stage, token)
        except StoreUnavailable as exc:  # it lapses by itself
            logger.warning("%s lease release failed: %s", unit.log_context, exc)
