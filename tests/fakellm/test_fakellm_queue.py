"""Slots: at most N chat requests at once, the others queued (never refused), FIFO.

Assertions use the server's own request log (received / started / finished), not the
test's clock, so a slow machine cannot make them flaky.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx2
import pytest

from fakellm import FakeLlamaServer, LatencyModel
from fakellm.requestlog import RequestRecord

StartServer = Callable[..., FakeLlamaServer]
Chats = Callable[[FakeLlamaServer], list[RequestRecord]]

#: Each request holds its slot this long.
HOLD = LatencyModel(base_s=0.4)


def _post(server: FakeLlamaServer, i: int) -> int:
    body = {"model": "m", "messages": [{"role": "user", "content": f"request {i}"}]}
    return httpx2.post(server.base_url + "/chat/completions", json=body, timeout=30).status_code


def _concurrent_posts(server: FakeLlamaServer, n: int) -> list[int]:
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda i: _post(server, i), range(n)))


def _wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _by_start(records: list[RequestRecord]) -> list[RequestRecord]:
    assert all(r.started_at is not None and r.finished_at is not None for r in records)
    return sorted(records, key=lambda r: r.started_at or 0.0)


def test_one_slot_queues_the_second_request(start_server: StartServer, chats: Chats) -> None:
    server = start_server(slots=1, latency=HOLD)
    assert _concurrent_posts(server, 2) == [200, 200]
    first, second = _by_start(chats(server))
    assert second.received_at < first.finished_at  # it arrived while the first ran ...
    assert second.started_at >= first.finished_at  # ... and waited for the slot
    assert second.finished_at - second.started_at >= 0.9 * HOLD.base_s


def test_two_slots_run_in_parallel(start_server: StartServer, chats: Chats) -> None:
    server = start_server(slots=2, latency=HOLD)
    assert _concurrent_posts(server, 2) == [200, 200]
    first, second = _by_start(chats(server))
    assert second.started_at < first.finished_at  # overlap


def test_the_peak_counts_requests_running_and_queued(start_server: StartServer) -> None:
    server = start_server(slots=1, latency=HOLD)
    assert server.model.slots.peak == 0
    assert _concurrent_posts(server, 3) == [200] * 3
    assert server.model.slots.peak == 3


def test_queue_is_fifo_and_never_refuses(start_server: StartServer, chats: Chats) -> None:
    server = start_server(slots=1, latency=LatencyModel(base_s=0.1))
    with ThreadPoolExecutor(5) as pool:
        futures = []
        for i in range(5):
            futures.append(pool.submit(_post, server, i))
            # Send the next one only once this one is in the queue, to fix the arrival order.
            _wait_until(lambda i=i: server.model.slots.arrived == i + 1)
        assert [f.result() for f in futures] == [200] * 5
    records = chats(server)
    ordered = _by_start(records)
    assert [r.index for r in ordered] == [r.index for r in records]  # first come, first served
    for earlier, later in itertools.pairwise(ordered):
        assert later.started_at >= earlier.finished_at


def test_stop_ends_running_and_queued_requests(start_server: StartServer) -> None:
    server = start_server(slots=1, latency=LatencyModel(base_s=30))
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(_post, server, i) for i in range(2)]
        _wait_until(lambda: server.model.slots.processing == 1 and server.model.slots.deferred == 1)
        stopped_at = time.monotonic()
        server.stop()
        for future in futures:
            with pytest.raises(httpx2.TransportError):
                future.result(timeout=5)
    assert time.monotonic() - stopped_at < 5
