"""Strict extraction reads what the model meant, in every format models use (docs/scoring.md §3).

Each golden answer is written the way a model would send it; the expected code or files are
exact. Legacy extraction is the yardstick only where an answer is clean (one ```python block).
"""

import ast
import random

import pytest

from challenge._markdown import drop_reasoning, label_name, split_segments
from challenge.answers import FLAVOURS, canned_answer
from challenge.bundle import is_safe_l5_name
from challenge.extraction import extract_code_legacy, legacy_candidate_files
from challenge.extraction_strict import (
    extract_code_strict,
    extract_l5_files_strict,
    strict_candidate_files,
)
from challenge.levels import Level

L1_TO_L4 = (Level.L1, Level.L2, Level.L3, Level.L4)

# --- L1-L4 material -------------------------------------------------------------------------

JQ = '''import threading
import uuid
from collections import deque


class JobQueue:
    """Runs submitted jobs on one background worker thread."""

    def __init__(self):
        self._jobs = deque()
        self._results = {}
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        threading.Thread(target=self._worker, daemon=True).start()

    def add_job(self, fn, *args, **kwargs):
        job_id = str(uuid.uuid4())
        with self._ready:
            self._jobs.append((job_id, fn, args, kwargs))
            self._ready.notify()
        return job_id

    def get_result(self, job_id):
        with self._lock:
            return self._results.get(job_id)

    def _worker(self):
        while True:
            with self._ready:
                while not self._jobs:
                    self._ready.wait()
                job_id, fn, args, kwargs = self._jobs.popleft()
            result = fn(*args, **kwargs)
            with self._lock:
                self._results[job_id] = result
'''

#: The same class before the model fixed it (results written outside the lock).
BUGGY_JQ = JQ.replace(
    "            with self._lock:\n                self._results[job_id] = result\n",
    "            self._results[job_id] = result\n",
)

#: A draft a reasoning model writes while thinking: complete, but not its answer.
DRAFT_JQ = """class JobQueue:
    def add_job(self, fn, *args, **kwargs):
        return fn(*args, **kwargs)

    def get_result(self, job_id):
        return None
"""

USAGE = """import time

q = JobQueue()
job_id = q.add_job(pow, 2, 10)
time.sleep(0.1)
print(q.get_result(job_id))  # 1024
"""

JOB_RECORD = """from dataclasses import dataclass
from typing import Any, Callable


@dataclass
class Job:
    job_id: str
    fn: Callable
    args: tuple
    kwargs: dict
    result: Any = None
"""

#: A JobQueue that needs `Job` from another block.
JQ_USING_JOB = (
    JQ.replace(
        "self._jobs.append((job_id, fn, args, kwargs))",
        "self._jobs.append(Job(job_id, fn, args, kwargs))",
    )
    .replace(
        "job_id, fn, args, kwargs = self._jobs.popleft()",
        "job = self._jobs.popleft()",
    )
    .replace("result = fn(*args, **kwargs)", "result = job.fn(*job.args, **job.kwargs)")
    .replace("self._results[job_id] = result", "self._results[job.job_id] = result")
)

FRAGMENT = """class JobQueue:
    def get_result(self, job_id):
        with self._lock:
            return self._results.get(job_id)
"""


def _indent(code: str, prefix: str) -> str:
    return "".join(prefix + line if line else line for line in code.splitlines(True))


GOLDEN_CODE: dict[str, tuple[str, str]] = {
    "python fence, prose before and after": (
        "Here's a thread-safe implementation:\n\n"
        f"```python\n{JQ}```\n\n"
        "The worker thread pulls jobs from the deque and stores each result under the lock.\n",
        JQ,
    ),
    "py fence": (f"Sure! Here it is:\n\n```py\n{JQ}```\n", JQ),
    "python3 fence": (f"```python3\n{JQ}```\n\nLet me know if you need changes.", JQ),
    "Python fence": (f"**Implementation**\n\n```Python\n{JQ}```", JQ),
    "bare fence": (f"The code:\n\n```\n{JQ}```\n", JQ),
    "tilde fence": (f"~~~python\n{JQ}~~~\n", JQ),
    "four backticks": (f"````python\n{JQ}````\n", JQ),
    "CRLF answer": (
        f"Here's the implementation:\r\n\r\n```python\r\n{JQ.replace(chr(10), chr(13) + chr(10))}"
        "```\r\n\r\nIt uses a Condition to wake the worker.\r\n",
        JQ,
    ),
    "fences with trailing spaces": (f"```python   \n{JQ}```   \n\nDone.", JQ),
    "unclosed last fence (answer cut off)": (f"Here you go:\n\n```python\n{JQ}", JQ),
    "fence indented in a list item": (
        f"1. Save this as `job_queue.py`:\n\n   ```python\n{_indent(JQ, '   ')}   ```\n\n"
        "2. Import it with `from job_queue import JobQueue`.\n",
        JQ,
    ),
    "other languages' fences are ignored": (
        f"No dependencies needed:\n\n```bash\npip list\n```\n\n```python\n{JQ}```\n",
        JQ,
    ),
    "think pair with a fenced draft, then the code unfenced": (
        "<think>\nThe user wants add_job and get_result. A first try:\n"
        f"```python\n{DRAFT_JQ}```\nBut that runs jobs synchronously; use a worker.\n</think>\n\n"
        f"{JQ}",
        JQ,
    ),
    "closing think only (opened by the chat template)": (
        f"Okay, a deque and a lock. Draft:\n```python\n{DRAFT_JQ}```\nNo: needs a thread.\n"
        f"</think>\n\n{JQ}",
        JQ,
    ),
    "unclosed think, then a fence": (
        "<think>\nThe worker must not lose results, so write them under the lock.\n\n"
        f"```python\n{JQ}```\n",
        JQ,
    ),
    "usage example in its own block": (
        f"```python\n{JQ}```\n\nExample usage:\n\n```python\n{USAGE}```\n",
        JQ,
    ),
    "corrected version repeated": (
        f"```python\n{BUGGY_JQ}```\n\nWait, the results write is outside the lock. "
        f"Corrected version:\n\n```python\n{JQ}```\n",
        JQ,
    ),
    "complete class, then only the changed method": (
        f"```python\n{JQ}```\n\nThe key change is in `get_result`:\n\n```python\n{FRAGMENT}```\n",
        JQ,
    ),
    "complete class that parses beats a later one that does not": (
        f"```python\n{JQ}```\n\nOr shorter:\n\n```python\nclass JobQueue:\n    def add_job(\n```\n",
        JQ,
    ),
    "only a fragment is still taken": (
        f"Only `get_result` needs the lock:\n\n```python\n{FRAGMENT}```\n",
        FRAGMENT,
    ),
    "helper block the class needs, and a usage block": (
        f"First a record per job:\n\n```python\n{JOB_RECORD}```\n\n"
        f"Then the queue:\n\n```python\n{JQ_USING_JOB}```\n\nUsage:\n\n```python\n{USAGE}```\n",
        f"{JOB_RECORD}\n\n{JQ_USING_JOB}",
    ),
    "no fences: the whole answer is code (L4 'only output code')": (JQ, JQ),
    "no fences: prose before and after": (
        f"Here is the fixed code:\n\n{JQ}\nThe results dict is now written under the lock.\n",
        JQ,
    ),
    "no fences: stray one-word heading and a note that parse as Python": (
        f"Solution\n\n{JQ}\nComplexity: O(1)\n",
        JQ,
    ),
    "no fences: two parts with prose between, class and the helper it needs": (
        f"{JOB_RECORD}\nNow the queue itself, which stores Job records:\n\n{JQ_USING_JOB}",
        f"{JOB_RECORD.rstrip()}\n\n{JQ_USING_JOB}",
    ),
    "no block defines JobQueue: all Python blocks joined, as legacy does": (
        "```python\ndef double(x):\n    return 2 * x\n```\n\n```\nprint(double(2))\n```\n",
        "def double(x):\n    return 2 * x\n\n\nprint(double(2))\n",
    ),
}


@pytest.mark.parametrize(("answer", "expected"), GOLDEN_CODE.values(), ids=GOLDEN_CODE.keys())
def test_golden_code(answer, expected):
    assert extract_code_strict(answer) == expected
    for level in L1_TO_L4:
        assert strict_candidate_files(answer, level) == {"job_queue.py": expected}


def test_all_blocks_joined_equals_legacy_when_none_defines_job_queue():
    answer, _ = GOLDEN_CODE["no block defines JobQueue: all Python blocks joined, as legacy does"]
    assert extract_code_strict(answer) == extract_code_legacy(answer)


@pytest.mark.parametrize(
    "answer",
    [
        "",
        "  \n\n",
        "I'm sorry, I can't help with that.",
        "Thanks\n",
        "```python\n\n```",
        "```bash\nls\n```",
        "<think>\nclass JobQueue:\n    pass\n",  # never left its reasoning: no answer
        "<think>\n```python\nclass JobQueue:\n    pass\n```\n</think>\nI could not finish.",
    ],
)
def test_no_code(answer):
    assert not extract_code_strict(answer).strip()
    for level in L1_TO_L4:
        assert strict_candidate_files(answer, level) == {}


# --- normalising and fences -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a<think>x</think>b<think>y</think>c", "abc"),
        ("a<THINK>x</Think>b", "ab"),
        ("a<thinking>x</thinking>b", "ab"),
        ("reasoning\n</think>\nanswer", "\nanswer"),
        ("keep\n<think>\nthoughts\n```python\nx = 1\n```\n", "keep\n```python\nx = 1\n```\n"),
        ("keep\n<think>\nthoughts only", "keep\n"),
        ("<think>a ```python on the same line\nno fence", ""),
        ("no tags at all", "no tags at all"),
    ],
)
def test_drop_reasoning(text, expected):
    assert drop_reasoning(text) == expected


def test_fence_segments_hold_no_fence_lines():
    segments = split_segments("intro\n```python\nx = 1\n```\nmiddle\n~~~\ny = 2\n~~~\n")
    assert [(s.fenced, s.info, s.lines) for s in segments] == [
        (False, "", ("intro",)),
        (True, "python", ("x = 1",)),
        (False, "", ("middle",)),
        (True, "", ("y = 2",)),
        (False, "", ("",)),
    ]


def test_fence_closes_only_on_the_same_character_and_length():
    segments = split_segments("````python\n```\ninner\n```\n~~~\n````\nafter")
    assert segments[0].lines == ("```", "inner", "```", "~~~")
    assert segments[1].lines == ("after",)


def test_inline_triple_backticks_are_not_a_fence():
    assert not any(s.fenced for s in split_segments("Use ```x = 1``` inline.\n"))


@pytest.mark.parametrize(
    ("info", "is_python"),
    [
        ("", True),
        ("python", True),
        ("Python", True),
        ("py", True),
        ("python3", True),
        ("{.python}", True),
        ("python title=job_queue.py", True),
        ("queue/core.py", True),
        ("bash", False),
        ("text", False),
        ("pycon", False),
    ],
)
def test_python_fences(info, is_python):
    assert split_segments(f"```{info}\nx = 1\n```")[0].is_python is is_python


# --- L5 material ----------------------------------------------------------------------------

INIT = '''"""The job queue package."""

from .core import BaseJobQueue
from .priority import PriorityMixin
from .retry import RetryMixin


class JobQueue(PriorityMixin, RetryMixin, BaseJobQueue):
    """A job queue with priorities and retries."""


__all__ = ["JobQueue"]'''

CORE = '''import threading
import uuid


class BaseJobQueue:
    """One worker thread running jobs in order."""

    def __init__(self):
        self._lock = threading.Lock()
        self._results = {}

    def add_job(self, fn, *args, **kwargs):
        return str(uuid.uuid4())'''

RETRY = '''class RetryMixin:
    """Retry a failed job up to max_retries times with exponential backoff."""

    max_retries = 3
    base_delay = 1.0'''

PRIORITY = '''class PriorityMixin:
    """Higher priority runs first; default 5."""

    default_priority = 5'''

FILES = {
    "queue/__init__.py": INIT,
    "queue/core.py": CORE,
    "queue/retry.py": RETRY,
    "queue/priority.py": PRIORITY,
}

L5_USAGE = "from queue import JobQueue\n\nq = JobQueue()\nq.add_job(print, 'hi', priority=9)\n"
TREE = "queue/\n  __init__.py\n  core.py\n  retry.py\n  priority.py\n"


def _each_file(template: str, files: dict[str, str] = FILES) -> str:
    """`template` filled in for every file, with {name}, {stem} and {body}."""
    return "".join(
        template.format(name=name, stem=name.removeprefix("queue/"), body=body)
        for name, body in files.items()
    )


GOLDEN_FILES: dict[str, tuple[str, dict[str, str]]] = {
    "header comment inside each fence (the published answers)": (
        "Here's the refactored package:\n\n"
        + _each_file("```python\n# {name}\n{body}\n```\n\n")
        + "`JobQueue` in `__init__.py` combines the mixins.\n",
        FILES,
    ),
    "bold name before each fence": (
        "I split the module into four files.\n\n"
        + _each_file("**{name}**\n```python\n{body}\n```\n\n---\n\n"),
        FILES,
    ),
    "heading before each fence, with an explanation between": (
        _each_file("### {name}\n\nThis module has one job.\n\n```python\n{body}\n```\n\n"),
        FILES,
    ),
    "numbered heading with backticks and a description": (
        _each_file("### 1. `{name}` — {stem}\n\n```python\n{body}\n```\n\n"),
        FILES,
    ),
    "backticked name on the line before": (_each_file("`{name}`\n```python\n{body}\n```\n"), FILES),
    "name with a colon on the line before": (
        _each_file("{name}:\n```py\n{body}\n```\n\n"),
        FILES,
    ),
    "File: prefix in bold": (_each_file("**File: {name}**\n\n```python\n{body}\n```\n\n"), FILES),
    "a sentence naming the file right before the fence": (
        _each_file("Here is {name}:\n\n```python\n{body}\n```\n\n"),
        FILES,
    ),
    "name in the fence's info string": (
        _each_file("```python:{name}\n{body}\n```\n\n"),
        FILES,
    ),
    "bare names, without queue/": (
        _each_file("#### `{stem}`\n\n```python\n{body}\n```\n\n"),
        FILES,
    ),
    "bare name as the fence's first line": (
        _each_file("```python\n# {stem}\n{body}\n```\n"),
        FILES,
    ),
    "markdown-escaped underscores": (
        _each_file("### {name}\n\n```python\n{body}\n```\n\n").replace(
            "### queue/__init__.py", "### queue/\\_\\_init\\_\\_.py"
        ),
        FILES,
    ),
    "one block with header comments (the prompt's own format)": (
        "```python\n" + _each_file("# {name}\n{body}\n\n") + "```\n",
        FILES,
    ),
    "no fences, header comments, prose around": (
        "Here is the package.\n\n"
        + _each_file("# {name}\n{body}\n\n")
        + "Each module now has a single responsibility.\n",
        FILES,
    ),
    "no fences, bold labels": (_each_file("**{name}**\n\n{body}\n\n"), FILES),
    "CRLF, header inside each fence": (
        _each_file("```python\n# {name}\n{body}\n```\n\n").replace("\n", "\r\n"),
        FILES,
    ),
    "backslash and ./ names": (
        _each_file("```python\n# {name}\n{body}\n```\n\n")
        .replace("# queue/core.py", "# queue\\core.py")
        .replace("# queue/retry.py", "# ./queue/retry.py"),
        FILES,
    ),
    "tree and usage blocks are not files": (
        f"Structure:\n\n```\n{TREE}```\n\n"
        + _each_file("```python\n# {name}\n{body}\n```\n\n")
        + f"Now that queue/priority.py is done, here's how to use it:\n\n"
        f"```python\n{L5_USAGE}```\n",
        FILES,
    ),
    "unfenced package, then a fenced usage example": (
        _each_file("# {name}\n{body}\n\n") + f"Usage:\n\n```python\n{L5_USAGE}```\n",
        FILES,
    ),
    "a later file of the same name wins": (
        _each_file("```python\n# {name}\n{body}\n```\n\n")
        + "Actually, core.py should use a Condition:\n\n"
        + "```python\n# queue/core.py\nimport threading\n```\n",
        {**FILES, "queue/core.py": "import threading"},
    ),
    "empty bodies are dropped and never replace a file": (
        _each_file("```python\n# {name}\n{body}\n```\n\n") + "```python\n# queue/core.py\n\n```\n",
        FILES,
    ),
    "names the bundle cannot store are dropped": (
        _each_file("```python\n# {name}\n{body}\n```\n\n")
        + f"```python\n# queue/{'x' * 101}.py\nX = 1\n```\n\n"
        + "```python\n# queue/utils-v2.py\nY = 2\n```\n",
        FILES,
    ),
    "think pair before the answer": (
        "<think>\nFour files. Draft:\n```python\n# queue/core.py\nclass Draft: ...\n```\n</think>\n"
        + _each_file("```python\n# {name}\n{body}\n```\n\n"),
        FILES,
    ),
}


@pytest.mark.parametrize(("answer", "expected"), GOLDEN_FILES.values(), ids=GOLDEN_FILES.keys())
def test_golden_l5_files(answer, expected):
    files = extract_l5_files_strict(answer)
    assert files == expected
    assert strict_candidate_files(answer, Level.L5) == expected
    assert not any("```" in body or "~~~" in body for body in files.values())


def test_l5_published_form_breaks_legacy_but_not_strict():
    answer, expected = GOLDEN_FILES["header comment inside each fence (the published answers)"]
    assert any("```" in body for body in legacy_candidate_files(answer, Level.L5).values())
    assert strict_candidate_files(answer, Level.L5) == expected


@pytest.mark.parametrize(
    "answer", ["", "No files.", "```python\nx = 1\n```", "See queue/core.py and queue/retry.py."]
)
def test_l5_nothing_found(answer):
    assert extract_l5_files_strict(answer) == {}


@pytest.mark.parametrize(
    ("line", "bare_ok", "expected"),
    [
        ("# queue/core.py", False, "queue/core.py"),
        ("#queue/core.py", False, "queue/core.py"),
        ("# queue/core.py - base class", False, "queue/core.py"),
        ("# ---- queue/core.py ----", False, "queue/core.py"),
        ("# queue/core.py imports this", False, None),
        ("# see queue/core.py", False, None),
        ("# core.py", False, None),
        ("# core.py", True, "queue/core.py"),
        ("### 2) **`queue/retry.py`** (RetryMixin)", False, "queue/retry.py"),
        ("Filename: queue\\priority.py", False, "queue/priority.py"),
        ("- `./queue/core.py`: the base class", False, "queue/core.py"),
        ("# queue/sub/core.py", False, None),
        ("# queue/core.pyc", False, None),
        ("# Queue/core.py", False, None),
        ("# module.py", True, "queue/module.py"),
        ("x" * 300 + " queue/core.py", False, None),
    ],
)
def test_label_names(line, bare_ok, expected):
    assert label_name(line, bare_ok=bare_ok) == expected


# --- the canned answers ---------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("level", L1_TO_L4)
def test_canned_l1_to_l4_answers_extract_to_parsing_code(level, flavour):
    files = strict_candidate_files(canned_answer(level, flavour), level)
    assert list(files) == ["job_queue.py"]
    ast.parse(files["job_queue.py"])


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_canned_l5_answers_extract_to_four_clean_files(flavour):
    files = strict_candidate_files(canned_answer(Level.L5, flavour), Level.L5)
    assert sorted(files) == sorted(FILES)
    for body in files.values():
        assert "```" not in body
        ast.parse(body)


def test_canned_l5_flavours_give_the_same_files():
    """Fenced per file (flawed) or unfenced (reference): the same package, as the model meant."""
    assert extract_l5_files_strict(canned_answer(Level.L5, "flawed")) == extract_l5_files_strict(
        canned_answer(Level.L5, "reference")
    )


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("level", L1_TO_L4)
def test_clean_single_block_answers_extract_as_legacy_does(level, flavour):
    """Both profiles score the same code when the answer is one ```python block."""
    answer = canned_answer(level, flavour)
    assert strict_candidate_files(answer, level) == legacy_candidate_files(answer, level)
    single_block = f"```python\n{extract_code_legacy(answer)}```"
    assert extract_code_strict(single_block) == extract_code_legacy(single_block)


# --- never raises ---------------------------------------------------------------------------

_FUZZ_PIECES = (
    "```",
    "```python",
    "```py\n",
    "~~~",
    "\n",
    "\r\n",
    "\r",
    " ",
    "    ",
    "<think>",
    "</think>",
    "# queue/core.py\n",
    "**queue/__init__.py**\n",
    "queue\\retry.py:",
    "### core.py\n",
    "class JobQueue:\n",
    "    def add_job(self, fn):\n",
    "        pass\n",
    "import threading\n",
    "(",
    ")",
    '"""',
    "'",
    "\\",
    "Here is the code:",
    "Note: x",
    "\x00",
    "é",
    "x = 1\n",
)


def _fuzz_answers(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    answers = ["".join(rng.choices(_FUZZ_PIECES, k=rng.randint(0, 60))) for _ in range(count)]
    answers += ["".join(chr(rng.randint(0, 0x2FF)) for _ in range(200)) for _ in range(count)]
    return answers


NASTY_ANSWERS = (
    "\x00",
    "(" * 10_000,
    "-" * 100_000 + "1",
    "<think>" * 2_000,
    "</think>" * 2_000,
    "```\n" * 2_000,
    "# queue/core.py\n" * 2_000,
    "\r" * 2_000,
    "Note: x\n" * 3_000,
    "    indented\n" * 3_000,
    "x" * 100_000,
    "# " + "queue/" * 10_000 + "core.py",
)


@pytest.mark.parametrize("level", list(Level))
def test_never_raises(level):
    for answer in [*_fuzz_answers(150, seed=level.number), *NASTY_ANSWERS]:
        files = strict_candidate_files(answer, level)
        assert isinstance(files, dict)
        assert all(isinstance(body, str) and body.strip() for body in files.values())
        if level is Level.L5:
            assert all(is_safe_l5_name(name) for name in files)
        else:
            assert set(files) <= {"job_queue.py"}
