"""Prompts ship byte for byte and are built into messages exactly as the original.

See docs/challenge.md §1.
"""

import hashlib
import re
from importlib.resources import files

import pytest

from challenge.fingerprint import challenge_fingerprint, fingerprint_files
from challenge.levels import Level
from challenge.prompts import build_messages, build_prompt, prompt_text

PROMPTS = files("challenge") / "prompts"


def _sha256sums() -> dict[str, str]:
    lines = (PROMPTS / "SHA256SUMS").read_bytes().decode().splitlines()
    return {name: digest for digest, name in (line.split() for line in lines if line.strip())}


def test_installed_prompts_match_sha256sums():
    sums = _sha256sums()
    assert sorted(sums) == [f"L{n}.txt" for n in range(1, 6)]
    for name, digest in sums.items():
        assert hashlib.sha256((PROMPTS / name).read_bytes()).hexdigest() == digest, name


def test_notice_ships_with_the_prompts():
    notice = (PROMPTS / "NOTICE").read_bytes().decode()
    assert "Apache License, Version 2.0" in notice
    assert "gpumod" in notice


@pytest.mark.parametrize("level", list(Level))
def test_prompt_text_is_the_file_byte_for_byte(level):
    assert prompt_text(level).encode() == (PROMPTS / f"{level.value}.txt").read_bytes()


def test_l1_never_embeds_code():
    expected = "/no_think\n" + prompt_text(Level.L1)
    assert build_prompt(Level.L1, None) == expected
    assert build_prompt(Level.L1, "x = 1") == expected


def test_l2_embeds_the_l1_code_exactly():
    code = "class JobQueue:\n    pass\n"  # unstripped, as extraction returns it
    assert build_prompt(Level.L2, code) == (
        "/no_think\nCurrent implementation:\n```python\n"
        "class JobQueue:\n    pass\n"
        "\n```\n\n" + prompt_text(Level.L2)
    )


def test_l3_embeds_code_and_keeps_crlf():
    code = "a = 1\r\nb = 2"
    prompt = build_prompt(Level.L3, code)
    assert prompt == (
        "/no_think\nCurrent implementation:\n```python\na = 1\r\nb = 2\n```\n\n"
        + prompt_text(Level.L3)
    )


@pytest.mark.parametrize("code", [None, ""])
def test_l2_and_l3_without_code_send_the_bare_prompt(code):
    for level in (Level.L2, Level.L3):
        assert build_prompt(level, code) == "/no_think\n" + prompt_text(level)


@pytest.mark.parametrize("level", [Level.L4, Level.L5])
def test_l4_and_l5_never_embed(level):
    assert build_prompt(level, "x = 1") == "/no_think\n" + prompt_text(level)


def test_no_think_false_sends_the_body_only():
    assert build_prompt(Level.L1, None, no_think=False) == prompt_text(Level.L1)
    assert build_prompt(Level.L2, "x", no_think=False).startswith("Current implementation:\n")


def test_build_messages_is_one_user_message():
    assert build_messages(Level.L2, "x = 1") == [
        {"role": "user", "content": build_prompt(Level.L2, "x = 1")}
    ]


def test_level_accepts_plain_strings():
    assert build_prompt("L4", None) == build_prompt(Level.L4, None)  # type: ignore[arg-type]


def test_fingerprint_covers_prompts_and_suites():
    covered = fingerprint_files()
    assert [f"prompts/L{n}.txt" for n in range(1, 6)] == [p for p in covered if "prompts/" in p]
    assert {f"suites/legacy_l{n}.py" for n in range(1, 6)} <= set(covered)
    assert re.fullmatch(r"[0-9a-f]{64}", challenge_fingerprint())
    assert challenge_fingerprint() == challenge_fingerprint()
