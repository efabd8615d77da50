"""The call channel (challenge/runner/channel.py): calls both ways while others are in
flight, and a broken or vanished peer turns into ChannelClosed, never a hang; and the
proxy's jobs begin in the order the queue called them, whatever order they arrive in."""

import json
import socket
import struct
import threading
import time

import pytest

from challenge.runner.channel import CallFailed, Channel, ChannelClosed


def frame(payload: dict) -> bytes:
    data = json.dumps(payload).encode()
    return struct.pack(">I", len(data)) + data


def test_both_sides_call_each_other_while_a_call_is_in_flight() -> None:
    a_sock, b_sock = socket.socketpair()
    a: Channel
    b = Channel(b_sock, lambda op, body: a_value_from_a() + body)

    def a_value_from_a() -> int:
        return int(b.call("value", None))

    a = Channel(a_sock, lambda op, body: 40)
    a.start()
    b.start()
    assert a.call("add", 2) == 42  # b, answering a, calls a back first
    a.close()
    b.close()


def test_a_vanished_or_broken_peer_closes_the_channel() -> None:
    ours, theirs = socket.socketpair()
    channel = Channel(ours, lambda op, body: None).start()
    outcome: list[BaseException] = []

    def wait_for_an_answer() -> None:
        try:
            channel.call("x", None)
        except ChannelClosed as exc:
            outcome.append(exc)

    waiter = threading.Thread(target=wait_for_an_answer)
    waiter.start()
    time.sleep(0.1)
    theirs.sendall(struct.pack(">I", 5) + b"nojsn")  # not JSON: the peer broke the protocol
    waiter.join(5)
    assert not waiter.is_alive() and len(outcome) == 1 and channel.closed
    with pytest.raises(ChannelClosed):
        channel.call("again", None)
    theirs.close()


def test_a_handler_error_is_the_callers_error() -> None:
    a_sock, b_sock = socket.socketpair()

    def fail(op: str, body: object) -> None:
        raise ValueError("no such thing")

    Channel(b_sock, fail).start()
    a = Channel(a_sock, fail).start()
    with pytest.raises(CallFailed, match="ValueError: no such thing"):
        a.call("x", None)
    a.close()


def test_jobs_begin_in_the_order_the_queue_called_them() -> None:
    from challenge.runner.proxy import ORDER_WAIT_S, Session

    candidate, test_side = socket.socketpair()
    session = Session(test_side)
    begun: list[tuple[int, float]] = []
    release = threading.Event()

    def record(n: int) -> int:
        begun.append((n, time.monotonic()))
        if n == 0:
            release.wait(5)  # a held job: the ones after it still begin
        return n

    fn = session.encode(record)[1]

    def job(call_id: int, order: int, fn: object = fn) -> bytes:
        body = {"fn": fn, "order": order, "args": session.encode([order]),
                "kwargs": session.encode({})}
        return frame({"id": call_id, "op": "job", "body": body})

    # sent out of order (the queue's threads raced to the socket); order 2 names no job (it
    # fails, and takes its turn); order 5 never comes
    started = time.monotonic()
    candidate.sendall(job(1, 3) + job(2, 4) + job(3, 0) + job(4, 1) + job(5, 6)
                      + job(6, 2, fn=["h", 10**9]))
    deadline = time.monotonic() + 10
    while len(begun) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [n for n, _ in begun] == [0, 1, 3, 4, 6]
    assert begun[3][1] - started < ORDER_WAIT_S  # the failed call did not stall the next
    assert begun[4][1] - started >= ORDER_WAIT_S  # the missing number did, as long as that
    release.set()
    session.channel.close()
    candidate.close()
