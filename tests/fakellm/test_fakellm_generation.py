"""Fake tokens, max_tokens cuts and the slot queue, without HTTP."""

from __future__ import annotations

import threading

import pytest

from fakellm import FakeAnswer, LatencyModel
from fakellm.generation import count_prompt_tokens, generate, split_tokens
from fakellm.slots import SlotPool


@pytest.mark.parametrize("text", ["", "a", "hello world", "  x\n\n  def f():\r\n\treturn 1  \n"])
def test_tokens_join_back_to_the_text(text: str) -> None:
    assert "".join(split_tokens(text)) == text


def test_token_count_grows_with_length() -> None:
    assert len(split_tokens(" word" * 100)) == 100
    assert len(split_tokens("word\n" * 100)) == 101  # the final newline is a token too
    assert len(split_tokens("x" * 40)) == 10


def test_prompt_tokens_count_template_overhead() -> None:
    one = count_prompt_tokens([{"role": "user", "content": "word " * 10}])
    two = count_prompt_tokens([{"role": "user", "content": "word " * 20}])
    assert 10 < one < two


def test_generate_stop_counts_the_end_token() -> None:
    gen = generate(FakeAnswer("one two three"), max_tokens=100)
    assert gen.finish_reason == "stop"
    assert gen.content == "one two three"
    assert gen.completion_tokens == len(split_tokens("one two three")) + 1


def test_generate_cuts_at_max_tokens() -> None:
    gen = generate(FakeAnswer("aa bb cc dd ee"), max_tokens=2)
    assert gen.finish_reason == "length"
    assert gen.content == "aa bb"
    assert gen.completion_tokens == 2


def test_generate_needs_room_for_the_end_token() -> None:
    assert generate(FakeAnswer("aa bb"), max_tokens=2).finish_reason == "length"
    assert generate(FakeAnswer("aa bb"), max_tokens=3).finish_reason == "stop"
    assert generate(FakeAnswer("aa bb"), max_tokens=-1).finish_reason == "stop"
    assert generate(FakeAnswer("aa bb"), max_tokens=None).finish_reason == "stop"


def test_reasoning_is_split_only_on_stop() -> None:
    answer = FakeAnswer("code", reasoning_content="think hard")
    done = generate(answer, max_tokens=100)
    assert (done.reasoning_content, done.content) == ("think hard", "code")
    cut = generate(answer, max_tokens=3)
    assert cut.reasoning_content is None
    assert cut.content.startswith("<think>\n")


def test_forced_cut() -> None:
    gen = generate(FakeAnswer("aa bb cc"), max_tokens=100, cut_at=1)
    assert (gen.finish_reason, gen.content, gen.completion_tokens) == ("length", "aa", 1)


def test_latency_model() -> None:
    model = LatencyModel(prompt_tokens_per_s=100, tokens_per_s=50)
    assert model.prompt_s(50) == pytest.approx(0.5)
    assert model.generation_s(10) == pytest.approx(0.2)
    assert LatencyModel().generation_s(1000) == 0.0
    with pytest.raises(ValueError):
        LatencyModel(tokens_per_s=-1)


def test_slot_pool_serves_in_arrival_order() -> None:
    pool = SlotPool(1)
    assert pool.acquire()
    order: list[int] = []
    threads = []
    for i in range(4):
        thread = threading.Thread(
            target=lambda i=i: (pool.acquire(), order.append(i), pool.release())
        )
        thread.start()
        threads.append(thread)
        while pool.deferred < i + 1:  # wait until it queues, to fix the arrival order
            threading.Event().wait(0.001)
    pool.release()
    for thread in threads:
        thread.join(5)
    assert order == [0, 1, 2, 3]


def test_slot_pool_close_wakes_waiters() -> None:
    pool = SlotPool(1)
    assert pool.acquire()
    results: list[bool] = []
    thread = threading.Thread(target=lambda: results.append(pool.acquire()))
    thread.start()
    while pool.deferred < 1:
        threading.Event().wait(0.001)
    pool.close()
    thread.join(5)
    assert results == [False]
