"""Answer -> code, by the original benchmark's rules (docs/challenge.md §2), quirks included.

The legacy profile must reproduce the published numbers, so nothing here is "fixed": no
newline normalisation, ```py / ```python3 / CRLF fences do not match, and the L5 splitter keeps
fence text in bodies when a model fences each file. The `strict` profile's extractor,
`challenge.extraction_strict` (docs/scoring.md §3), reads the same answers as the model meant
them.
"""

import re

from challenge.levels import Level

_FENCED_BLOCK = re.compile(r"```(?:python)?\n(.*?)```", re.DOTALL)
_DROPPED_LINE_PREFIXES = ("#", "Here", "This", "The", "I ", "Note")
_KEPT_COMMENT_PREFIX = "# "

#: The three L5 file patterns, tried in this order; the first that matches anything is used.
L5_FILE_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"#\s*(queue/\w+\.py)\n(.*?)(?=#\s*queue/|\Z)", re.DOTALL),
    re.compile(r"```python\n#\s*(queue/\w+\.py)\n(.*?)```", re.DOTALL),
    re.compile(r"(queue/\w+\.py)[:\n]+(.*?)(?=queue/\w+\.py|\Z)", re.DOTALL),
)

#: The file an L1-L4 candidate is saved as (the suites import `job_queue`).
JOB_QUEUE_FILE = "job_queue.py"


def extract_code_legacy(answer: str) -> str:
    """The code of an L1-L4 answer; this text is also what L2/L3 embed as "Current implementation".

    All ```` ```python ```` / bare ```` ``` ```` blocks (unstripped) joined by a blank line; with
    no block, the stripped answer minus prose-looking lines (see `_filter_lines`).
    """
    blocks = _FENCED_BLOCK.findall(answer)
    if blocks:
        return "\n\n".join(blocks)
    return _filter_lines(answer)


def _filter_lines(answer: str) -> str:
    """Drop lines starting (no left-strip) with #, Here, This, The, "I ", Note, but keep "# "."""
    kept = [
        line
        for line in answer.strip().split("\n")
        if line.startswith(_KEPT_COMMENT_PREFIX) or not line.startswith(_DROPPED_LINE_PREFIXES)
    ]
    return "\n".join(kept)


def extract_l5_files_legacy(answer: str) -> dict[str, str]:
    """The files of an L5 answer, e.g. {"queue/core.py": "..."}.

    The first of `L5_FILE_PATTERNS` that matches anything splits the raw answer; bodies are
    stripped, empty ones dropped, and a later file of the same name replaces an earlier one.
    """
    for pattern in L5_FILE_PATTERNS:
        matches = pattern.findall(answer)
        if matches:
            break
    else:
        return {}
    files: dict[str, str] = {}
    for name, body in matches:
        body = body.strip()
        if body:
            files[name] = body
    return files


def legacy_candidate_files(answer: str, level: Level) -> dict[str, str]:
    """What the legacy profile scores: {"job_queue.py": code} (L1-L4) or the L5 package files.

    Empty when the answer has no code (whitespace-only code counts as none): such a level
    scores 0 without running any test.
    """
    if Level(level) is Level.L5:
        return extract_l5_files_legacy(answer)
    code = extract_code_legacy(answer)
    return {JOB_QUEUE_FILE: code} if code.strip() else {}
