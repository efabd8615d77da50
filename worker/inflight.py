"""At most a server's slot count of requests in flight on it, whatever `-c` says and however
many worker processes, on however many hosts, send to it.

llama-server never refuses a request for want of a slot: it queues it silently, and the
wait counts into the call's duration and its timeout. So before each call a worker takes
one of the server's slots in Redis (`RecordStore.take_server_slot`: a sorted set of holders
with lease expiries on Redis's clock), renews it while the call runs, and gives it back
after. A process that dies holding a slot loses it when its lease lapses.
"""

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from worker.config import ModelConfig
from worker.lease import renewing
from worker.records import Run
from worker.store import RecordStore, StoreUnavailable

logger = logging.getLogger(__name__)

#: How often a worker waiting for a slot asks again.
POLL_S = 0.1


def server_key(run: Run, model: str) -> str:
    """The server `model` is served by: its root URL as submit found it (models that share
    a server share its slots)."""
    facts = run.endpoints.get(model)
    return facts.root_url if facts else run.models[model].base_url.rstrip("/")


def slot_limit(run: Run, model: str) -> int:
    """The server's real slot count (`/props` at submit); the models file's `slots` where
    the server does not say (a router or llama-swap describes no single model there)."""
    facts = run.endpoints.get(model)
    config: ModelConfig = run.models[model]
    return facts.total_slots if facts and facts.total_slots else config.slots


@contextmanager
def server_slot(store: RecordStore, server: str, limit: int, ttl_s: float, *,
                check: Callable[[], None] = lambda: None,
                sleep: Callable[[float], None] = time.sleep) -> Iterator[float]:
    """Hold one of `server`'s `limit` slots for the block; yields the seconds waited.

    `check` runs while waiting (e.g. raise when the run was cancelled).
    """
    waited_from = time.monotonic()
    while (token := store.take_server_slot(server, limit, ttl_s)) is None:
        check()
        sleep(POLL_S)
    try:
        with renewing(lambda: store.renew_server_slot(server, token, ttl_s), ttl_s / 3,
                      f"slot of {server}"):
            yield time.monotonic() - waited_from
    finally:
        try:
            store.release_server_slot(server, token)
        except StoreUnavailable as exc:  # it lapses by itself
            logger.warning("releasing a slot of %s failed: %s", server, exc)
