"""Legacy extraction reproduces docs/challenge.md §2 to the letter, quirks included."""

import pytest

from challenge.extraction import (
    L5_FILE_PATTERNS,
    extract_code_legacy,
    extract_l5_files_legacy,
    legacy_candidate_files,
)
from challenge.levels import Level

# --- L1-L4: fenced blocks -------------------------------------------------------------------


def test_python_block_is_extracted_unstripped():
    answer = "Sure:\n```python\n\nimport os\nx = 1\n\n```\nDone."
    assert extract_code_legacy(answer) == "\nimport os\nx = 1\n\n"


def test_bare_fence_matches():
    assert extract_code_legacy("```\nx = 1\n```") == "x = 1\n"


def test_multiple_blocks_are_joined_with_a_blank_line():
    answer = "```python\na = 1\n```\nand then\n```\nb = 2\n```\n"
    assert extract_code_legacy(answer) == "a = 1\n\n\nb = 2\n"


def test_prose_inside_a_block_is_kept():
    assert extract_code_legacy("```python\nHere = 1\n# x\n```") == "Here = 1\n# x\n"


@pytest.mark.parametrize("fence", ["```py", "```python3", "```Python"])
def test_other_fence_tags_do_not_match_so_the_fallback_keeps_the_fences(fence):
    answer = f"{fence}\nx = 1\n```"
    assert extract_code_legacy(answer) == answer


def test_crlf_fences_do_not_match_and_cr_stays():
    answer = "```python\r\nx = 1\r\n```"
    assert extract_code_legacy(answer) == answer


def test_py_fences_pair_closing_and_opening_fences():
    # The closing fence of one ```py block and the opening of the next form a bare block.
    answer = "```py\na = 1\n```\nbetween\n```py\nb = 2\n```"
    assert extract_code_legacy(answer) == "between\n"


def test_unclosed_block_falls_back():
    assert extract_code_legacy("```python\nx = 1\n") == "```python\nx = 1"


# --- L1-L4: fallback line filter ------------------------------------------------------------


def test_fallback_line_filter():
    answer = "\n".join(
        [
            "Here is the code:",
            "import os",
            "# kept comment",
            "#x dropped",
            "#!/usr/bin/env python3",
            "#",
            "This is prose.",
            "The end.",
            "Then = 1",
            "I think so.",
            "If = 2",
            "Note: dropped",
            "Notes = 3",
            "Hereafter = 4",
            "    # indented comment kept",
            "  Here indented kept",
            "x = 1",
        ]
    )
    assert extract_code_legacy(answer) == "\n".join(
        [
            "import os",
            "# kept comment",
            "If = 2",
            "    # indented comment kept",
            "  Here indented kept",
            "x = 1",
        ]
    )


def test_fallback_strips_the_answer_first():
    assert extract_code_legacy("\n\n   x = 1\n  y = 2  \n\n") == "x = 1\n  y = 2"


def test_fallback_keeps_carriage_returns():
    assert extract_code_legacy("x = 1\r\ny = 2\r\n") == "x = 1\r\ny = 2"


@pytest.mark.parametrize("answer", ["", "   \n", "Here you go.", "The answer\nNote: none"])
def test_no_code(answer):
    assert extract_code_legacy(answer) == ""
    assert legacy_candidate_files(answer, Level.L1) == {}


def test_whitespace_only_code_counts_as_none():
    assert extract_code_legacy("```python\n\n```") == "\n"
    assert legacy_candidate_files("```python\n\n```", Level.L2) == {}


def test_candidate_file_for_l1_to_l4():
    answer = "```python\nx = 1\n```"
    for level in (Level.L1, Level.L2, Level.L3, Level.L4):
        assert legacy_candidate_files(answer, level) == {"job_queue.py": "x = 1\n"}


# --- L5 -------------------------------------------------------------------------------------


def test_l5_rule_a_unfenced_headers_give_clean_files():
    answer = (
        "Package:\n# queue/__init__.py\nfrom .core import JobQueue\n\n"
        "#queue/core.py\nclass JobQueue:\n    pass\n"
    )
    assert extract_l5_files_legacy(answer) == {
        "queue/__init__.py": "from .core import JobQueue",
        "queue/core.py": "class JobQueue:\n    pass",
    }


def test_l5_rule_a_keeps_fence_text_when_each_file_is_fenced():
    answer = (
        "```python\n# queue/__init__.py\nfrom .core import JobQueue\n```\n\n"
        "```python\n# queue/core.py\nclass JobQueue:\n    pass\n```\n"
    )
    assert extract_l5_files_legacy(answer) == {
        "queue/__init__.py": "from .core import JobQueue\n```\n\n```python",
        "queue/core.py": "class JobQueue:\n    pass\n```",
    }


def test_l5_prompt_format_leaves_the_closing_fence_in_the_last_file():
    answer = "```python\n# queue/__init__.py\nA = 1\n\n# queue/priority.py\nB = 2\n```"
    assert extract_l5_files_legacy(answer) == {
        "queue/__init__.py": "A = 1",
        "queue/priority.py": "B = 2\n```",
    }


def test_l5_rule_b_pattern_and_why_it_never_decides():
    answer = "```python\n# queue/core.py\nA = 1\n```\n"
    assert L5_FILE_PATTERNS[1].findall(answer) == [("queue/core.py", "A = 1\n")]
    # Whatever rule (b) matches, rule (a) matches first (same header), so (a) decides.
    assert extract_l5_files_legacy(answer) == {"queue/core.py": "A = 1\n```"}


def test_l5_rule_c_bare_names():
    answer = "queue/__init__.py:\nfrom .core import X\nqueue/core.py\n\nX = 1\n"
    assert extract_l5_files_legacy(answer) == {
        "queue/__init__.py": "from .core import X",
        "queue/core.py": "X = 1",
    }


def test_l5_rule_c_keeps_fences():
    answer = "File queue/core.py:\n```python\nX = 1\n```\n"
    assert extract_l5_files_legacy(answer) == {"queue/core.py": "```python\nX = 1\n```"}


def test_l5_rule_c_needs_a_colon_or_newline_right_after_the_name():
    assert extract_l5_files_legacy("**queue/core.py**:\nX = 1\n") == {}


def test_l5_later_file_of_the_same_name_wins():
    answer = "# queue/core.py\nA = 1\n# queue/retry.py\nR = 1\n# queue/core.py\nA = 2\n"
    assert extract_l5_files_legacy(answer) == {"queue/core.py": "A = 2", "queue/retry.py": "R = 1"}


def test_l5_empty_bodies_are_dropped_and_never_replace_a_file():
    answer = "# queue/core.py\nA = 1\n# queue/retry.py\n\n# queue/core.py\n   \n"
    assert extract_l5_files_legacy(answer) == {"queue/core.py": "A = 1"}


@pytest.mark.parametrize(
    "answer",
    [
        "",
        "no files here",
        "# queue/core.py\r\nA = 1\r\n",  # CRLF: neither header pattern sees "\n" after ".py"
        "# queue/core.txt\nA = 1\n",
    ],
)
def test_l5_nothing_found(answer):
    assert extract_l5_files_legacy(answer) == {}
    assert legacy_candidate_files(answer, Level.L5) == {}
