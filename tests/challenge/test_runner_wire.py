"""The tagged encoding of values that cross between a test and the candidate's queue."""

import json
import math
import uuid

import pytest

from challenge.runner.wire import (
    MAX_DEPTH,
    Decoder,
    Encoder,
    Handle,
    Handles,
    RemoteError,
    WireError,
)


def trip(value: object) -> object:
    """Encode on one side, carry as JSON, decode on the other."""
    return Decoder()(json.loads(json.dumps(Encoder(Handles())(value))))


@pytest.mark.parametrize("value", [
    None, True, False, 0, 1, -7, 2**100, 1.5, -0.0, "", "héllo\n", b"", b"\x00\xff",
    [1, "1", 1.0, True], (1, (2,)), {"a": 1, 2: "b", (1, 2): [None]}, [[[]]],
])
def test_plain_data_keeps_its_exact_types(value: object) -> None:
    back = trip(value)
    assert back == value and repr(back) == repr(value)


def test_json_alone_would_merge_what_the_tags_keep_apart() -> None:
    back = trip([1, True, 1.0, "x", b"x", (1,), [1]])
    assert [type(v) for v in back] == [int, bool, float, str, bytes, tuple, list]
    assert math.isnan(trip(math.nan)) and trip(math.inf) == math.inf


def test_exceptions_become_trusted_instances() -> None:
    back = trip(ValueError("bad", 3))
    assert type(back) is ValueError and back.args == ("bad", 3)

    class Custom(Exception):
        pass

    custom = trip(Custom("x"))
    assert type(custom) is RemoteError and custom.type_name == "Custom"
    assert str(custom) == "Custom: x"


class AlwaysEqual:
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__


class SneakyInt(int):
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = int.__hash__


def test_an_object_that_lies_about_equality_does_not_survive_the_trip() -> None:
    assert trip(AlwaysEqual()) != 42
    assert trip(SneakyInt(1)) != 42  # a subclass of int is not plain data either
    assert trip([AlwaysEqual()]) != [42]


def test_handles_go_back_to_the_objects_they_name() -> None:
    job_id = uuid.uuid4()
    candidate_handles = Handles()
    sent = Encoder(candidate_handles)(job_id)
    assert sent[0] == "h"
    handle = Decoder()(sent)  # what the test sees
    assert isinstance(handle, Handle) and handle == Decoder()(sent) and handle != job_id
    returned = Encoder(Handles())(handle)  # the test passes it back to get_result
    assert returned == ["r", sent[1]]
    assert Decoder(own=candidate_handles)(returned) is job_id
    assert Encoder(candidate_handles)(job_id) == sent  # the same object, the same handle


def test_handles_of_the_other_side_can_become_stubs() -> None:
    def job(n: int) -> int:
        return n

    tagged = Encoder(Handles(), describe=lambda fn: {"name": fn.__name__})(job)
    stub = Decoder(remote=lambda number, about: f"stub #{number} {about['name']}")(tagged)
    assert stub == f"stub #{tagged[1]} job"


@pytest.mark.parametrize("data", [
    [], ["?"], ["i", "1"], ["i", True], ["b", 1], ["s", 1], ["y", "%%%"], ["l", "x"],
    ["d", [[["s", "k"]]]], ["e", 1, []], ["r", 0], "plain", 5, ["h", "x"],
])
def test_malformed_input_is_refused(data: object) -> None:
    with pytest.raises(WireError):
        Decoder()(data)


def test_hostile_nesting_and_size_are_refused_both_ways() -> None:
    deep: list[object] = []
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(WireError):
        Encoder()(deep)
    tagged: list[object] = ["n"]
    for _ in range(MAX_DEPTH + 5):
        tagged = ["l", [tagged]]
    with pytest.raises(WireError):
        Decoder()(tagged)
    with pytest.raises(WireError):
        Encoder()(list(range(200_000)))


def test_without_a_handle_table_objects_are_refused() -> None:
    with pytest.raises(WireError, match="object cannot cross"):
        Encoder()(object())
