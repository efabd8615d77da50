"""Which level a prompt asks for, and the answer sources built on that."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from challenge.answers import FLAVOURS, canned_answer
from challenge.extraction import extract_code_legacy, extract_l5_files_legacy
from challenge.levels import Level
from fakellm import FakeAnswer, LevelAnswers, VaryingAnswers, canned_answers
from fakellm.answers import UNKNOWN_ANSWER, vary_text
from fakellm.prompts import detect_level, last_user_text, level_markers

LEVELS = ("L1", "L2", "L3", "L4", "L5")
LevelPrompt = Callable[..., str]

#: Earlier-level code that quotes every level's first line, to try to fool the detection.
TRICKY_CODE = '''"""Notes:
Implement a JobQueue class in Python with the following requirements:
Extend the JobQueue to add retry logic with exponential backoff:
Extend the JobQueue to add priority scheduling:
The following JobQueue implementation has a concurrency bug
Refactor the monolithic queue.py into a Python package
"""
import threading


class JobQueue:
    def add_job(self, fn, *args, **kwargs):
        return 1
'''


def test_each_marker_is_its_own_prompts_alone(level_prompts: dict[str, str]) -> None:
    markers = level_markers()
    assert set(markers) == set(Level)
    for level, text in level_prompts.items():
        assert text.startswith(markers[Level(level)] + "\n")
        others = [m for lv, m in markers.items() if lv != level]
        assert not any(marker in text for marker in others)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("no_think", [True, False])
def test_detects_every_level(
    level: str, no_think: bool, level_prompts: dict[str, str], level_prompt: LevelPrompt
) -> None:
    assert detect_level(level_prompt(level_prompts[level], no_think=no_think)) == level


@pytest.mark.parametrize("level", ["L2", "L3"])
@pytest.mark.parametrize("current", ["import threading\n\nclass JobQueue:\n    pass", TRICKY_CODE])
def test_detects_l2_l3_with_embedded_implementation(
    level: str, current: str, level_prompts: dict[str, str], level_prompt: LevelPrompt
) -> None:
    prompt = level_prompt(level_prompts[level], current=current)
    assert prompt.startswith("/no_think\nCurrent implementation:\n```python\n")
    assert detect_level(prompt) == level


@pytest.mark.parametrize("prompt", ["", "hi", "/no_think\nWrite a haiku about queues."])
def test_unknown_prompts(prompt: str) -> None:
    assert detect_level(prompt) is None


def test_level_answers_pick_by_level(
    level_prompts: dict[str, str], level_prompt: LevelPrompt
) -> None:
    source = LevelAnswers({lv: f"answer {lv}" for lv in LEVELS}, reasoning="thinking")
    for level in LEVELS:
        got = source.answer(level_prompt(level_prompts[level]), {})
        assert got == FakeAnswer(f"answer {level}", "thinking")
    embedded = level_prompt(level_prompts["L3"], current=TRICKY_CODE)
    assert source.answer(embedded, {}).content == "answer L3"
    assert source.answer("hello", {}) == FakeAnswer(UNKNOWN_ANSWER)


def test_level_answers_missing_level_is_unknown(
    level_prompts: dict[str, str], level_prompt: LevelPrompt
) -> None:
    source = LevelAnswers({"L1": "one"})
    assert source.answer(level_prompt(level_prompts["L4"]), {}) == FakeAnswer(UNKNOWN_ANSWER)


def test_level_answers_reject_bad_level_names() -> None:
    with pytest.raises(ValueError, match="L6"):
        LevelAnswers({"L6": "x"})


def test_last_user_text_handles_parts_and_roles() -> None:
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "reply"},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "system", "content": "late system"},
    ]
    assert last_user_text(messages) == "ab"
    assert last_user_text([]) == ""


def test_canned_answers_are_challenges_per_level(
    level_prompts: dict[str, str], level_prompt: LevelPrompt
) -> None:
    for flavour in FLAVOURS:
        source = canned_answers(flavour, reasoning="hmm")
        for level in LEVELS:
            got = source.answer(level_prompt(level_prompts[level]), {})
            assert got == FakeAnswer(canned_answer(Level(level), flavour), "hmm")
            assert got.content and got.content != UNKNOWN_ANSWER
    with pytest.raises(ValueError, match="reference"):
        canned_answers("brilliant")


def test_empty_answers_hold_no_code_for_any_level(
    level_prompts: dict[str, str], level_prompt: LevelPrompt
) -> None:
    from challenge.extraction import legacy_candidate_files
    from challenge.extraction_strict import strict_candidate_files

    source = canned_answers("empty")
    for level in LEVELS:
        got = source.answer(level_prompt(level_prompts[level]), {}).content
        assert got == ""
        assert not legacy_candidate_files(got, Level(level))
        assert not strict_candidate_files(got, Level(level))


def test_vary_text_puts_a_comment_in_the_code() -> None:
    fenced = "Here it is:\n```python\nx = 1\n```\n"
    assert vary_text(fenced, 7) == "Here it is:\n```python\n# fake variant 7\nx = 1\n```\n"
    assert vary_text("# queue/core.py\nx = 1", 2) == "# fake variant 2\n# queue/core.py\nx = 1"


def test_varying_answers_are_all_different(
    level_prompts: dict[str, str], level_prompt: LevelPrompt
) -> None:
    source = VaryingAnswers(LevelAnswers({"L1": "```python\nx = 1\n```"}, reasoning="r"))
    prompt = level_prompt(level_prompts["L1"])
    first, second = source.answer(prompt, {}), source.answer(prompt, {})
    assert first.content == "```python\n# fake variant 1\nx = 1\n```"
    assert second.content == "```python\n# fake variant 2\nx = 1\n```"
    assert first.reasoning_content == "r"
    assert source.answer("hello", {}) == FakeAnswer(UNKNOWN_ANSWER)


def test_varied_canned_answers_extract_to_the_same_working_code(
    level_prompts: dict[str, str], level_prompt: LevelPrompt
) -> None:
    """With the real answers and extraction: a variant only adds a comment to the code."""
    for flavour in FLAVOURS:
        source = VaryingAnswers(canned_answers(flavour))
        plain = canned_answers(flavour)
        for level in ("L1", "L2", "L3", "L4"):
            prompt = level_prompt(level_prompts[level])
            varied = extract_code_legacy(source.answer(prompt, {}).content)
            original = extract_code_legacy(plain.answer(prompt, {}).content)
            assert varied != original
            assert "# fake variant " in varied
            compile(varied, f"{flavour}-{level}", "exec")
        l5 = level_prompt(level_prompts["L5"])
        assert extract_l5_files_legacy(source.answer(l5, {}).content) == extract_l5_files_legacy(
            plain.answer(l5, {}).content
        )


def test_mixed_answers_follow_their_seed_and_weights(level_prompts: dict[str, str]) -> None:
    from fakellm.answers import MixedAnswers, parse_mix

    def draws(seed: int) -> list[bool]:
        mixed = MixedAnswers(parse_mix("reference=0.5, empty=0.5"), seed=seed)
        return [bool(mixed.answer(level_prompts["L1"], {}).content) for _ in range(40)]

    assert draws(3) == draws(3)  # the same seed, the same answers in the same order
    assert draws(3) != draws(4)
    assert 5 < sum(draws(3)) < 35  # both flavours are drawn
    always = MixedAnswers(parse_mix("flawed=1,empty=0"), seed=9)
    assert always.answer(level_prompts["L5"], {}).content == canned_answer(Level.L5, "flawed")


@pytest.mark.parametrize("bad", ["reference", "nope=1", "reference=x", "reference=0", ""])
def test_a_bad_mix_is_refused(bad: str) -> None:
    from fakellm.answers import MixedAnswers, parse_mix

    with pytest.raises(ValueError):
        MixedAnswers(parse_mix(bad))
