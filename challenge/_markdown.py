"""The markdown side of strict extraction: normalising an answer, fences, file-name labels.

Kept apart from `challenge.extraction_strict` (which judges Python with `ast`) because these
are facts about how models format answers, not about code. Everything here is linear in the
answer's length and never raises: models send anything.
"""

import re
from dataclasses import dataclass

# --- normalising ----------------------------------------------------------------------------

_THINK_OPEN = re.compile(r"<think(?:ing)?>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think(?:ing)?>", re.IGNORECASE)
_FENCE_START = re.compile(r"^[ \t]*(?:`{3,}|~{3,})", re.MULTILINE)


def normalise(answer: str) -> str:
    """The answer with \\n newlines, no byte-order mark and no reasoning (see `drop_reasoning`).

    Models served from Windows or through some proxies send CRLF; the fence and header rules
    below are written for \\n only.
    """
    text = answer.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    return drop_reasoning(text)


def drop_reasoning(text: str) -> str:
    """Remove a reasoning model's <think>...</think> text, which often holds draft code.

    - A `</think>` before any `<think>`: the chat template opened the tag in the prompt, so
      everything up to it is reasoning.
    - Each `<think>...</think>` pair is removed.
    - An unclosed `<think>` (the model never left its reasoning, or forgot the closing tag):
      removed up to the first fence after it, which is taken as the start of the answer; with
      no fence after it, the rest of the answer is reasoning and goes too.
    """
    first_close = _THINK_CLOSE.search(text)
    first_open = _THINK_OPEN.search(text)
    if first_close and (first_open is None or first_close.start() < first_open.start()):
        text = text[first_close.end() :]
    kept: list[str] = []
    position = 0
    while (opening := _THINK_OPEN.search(text, position)) is not None:
        kept.append(text[position : opening.start()])
        closing = _THINK_CLOSE.search(text, opening.end())
        if closing is None:
            fence = _FENCE_START.search(text, opening.end())
            position = fence.start() if fence else len(text)
            break
        position = closing.end()
    kept.append(text[position:])
    return "".join(kept)


# --- fences ---------------------------------------------------------------------------------

_FENCE_OPEN = re.compile(r"(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)")
_FENCE_CLOSE = re.compile(r"[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*")
_LANGUAGE = re.compile(r"[{.\s]*(?P<lang>[A-Za-z0-9_+-]*)")

#: Info-string languages read as Python ("" is a bare fence).
PYTHON_LANGUAGES = frozenset({"", "python", "py", "python3", "py3"})


@dataclass(frozen=True)
class Segment:
    """A run of the answer: prose lines, or the content lines of one fenced block.

    A fenced segment holds neither its opening nor its closing fence line, which is how no
    fence text can reach a candidate file.
    """

    lines: tuple[str, ...]
    fenced: bool = False
    info: str = ""

    @property
    def code(self) -> str:
        """The content, each line ending in \\n (what the legacy regex captures)."""
        return "".join(line + "\n" for line in self.lines)

    @property
    def is_python(self) -> bool:
        """A ```python / ```py / ```python3 / bare fence, or one whose info names a .py file."""
        if not self.fenced:
            return False
        match = _LANGUAGE.match(self.info)
        language = match["lang"].lower() if match else ""
        return language in PYTHON_LANGUAGES or info_file_name(self.info) is not None


def split_segments(text: str) -> list[Segment]:
    """Split normalised text into prose and fenced segments, CommonMark style.

    A fence is 3+ backticks or tildes, indented by anything (models indent fences inside list
    items; that indent is removed from the content lines); a backtick fence's info string has
    no backtick (otherwise the line is inline code). It closes at a line of only the same
    character, at least as many, spaces allowed; an unclosed last fence runs to the end.
    """
    segments: list[Segment] = []
    prose: list[str] = []
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        opening = _FENCE_OPEN.fullmatch(lines[index])
        if opening is None or (opening["fence"][0] == "`" and "`" in opening["info"]):
            prose.append(lines[index])
            index += 1
            continue
        if prose:
            segments.append(Segment(tuple(prose)))
            prose = []
        content, index = _fence_content(lines, index + 1, opening["fence"], len(opening["indent"]))
        segments.append(Segment(tuple(content), fenced=True, info=opening["info"].strip()))
    if prose:
        segments.append(Segment(tuple(prose)))
    return segments


def _fence_content(lines: list[str], start: int, fence: str, indent: int) -> tuple[list[str], int]:
    """The content lines of a fence opened before `start`, and the index after its closing."""
    content: list[str] = []
    for index in range(start, len(lines)):
        closing = _FENCE_CLOSE.fullmatch(lines[index])
        if closing and closing["fence"][0] == fence[0] and len(closing["fence"]) >= len(fence):
            return content, index + 1
        content.append(_dedent(lines[index], indent))
    while content and not content[-1].strip():
        content.pop()
    return content, len(lines)


def _dedent(line: str, indent: int) -> str:
    """Remove up to `indent` leading blanks (the fence's own indentation)."""
    blanks = len(line) - len(line.lstrip(" \t"))
    return line[min(blanks, indent) :]


# --- L5 file names --------------------------------------------------------------------------

#: Longer lines are prose or code, never a file label (also bounds the work per line).
_MAX_LABEL_CHARS = 200
#: Marks around a label: headings, quotes, emphasis, code ticks, bullets, rules.
_DECORATION = "#>*`~-+= \t"
#: What may follow a label's file name: a description after one of these.
_SEPARATORS = (":", "-", "–", "—", "(", "|")
_NUMBERING = re.compile(r"\d{1,3}[.)]\s")
_KEYWORD = re.compile(r"(?i:file(?:name)?|path|module)(?::\s*|\s+)")
_PATH = re.compile(r"(?:\.[/\\])?(?P<prefix>queue[/\\])?(?P<stem>[A-Za-z0-9_]+)\.py")
_MENTION = re.compile(r"(?<![A-Za-z0-9_])queue[/\\](?P<stem>[A-Za-z0-9_]+)\.py(?![A-Za-z0-9_])")
_ESCAPED_UNDERSCORE = re.compile(r"(?<!queue)\\_")
_SAFE_STEM = re.compile(r"[A-Za-z0-9_]{1,100}")


def label_name(line: str, *, bare_ok: bool) -> str | None:
    """The file a label line names, as "queue/x.py", else None.

    A label is a line holding only a file name and decoration, e.g. `# queue/core.py`,
    `### 2. queue/core.py`, `**queue/core.py**`, `` `queue/core.py`: ``, `File: queue/core.py`,
    `# ---- queue/core.py ----`, optionally followed by a description after ":", "-", "—",
    "(" or "|". `./queue/x.py` and `queue\\x.py` are accepted. Without the `queue/` prefix
    (`### core.py`) only when `bare_ok`, because "# core.py" can also be a plain comment.
    """
    if len(line) > _MAX_LABEL_CHARS:
        return None
    text = _ESCAPED_UNDERSCORE.sub("_", line).strip().lstrip(_DECORATION)
    for prefix in (_NUMBERING, _KEYWORD):
        found = prefix.match(text)
        if found:
            text = text[found.end() :].lstrip(_DECORATION)
    path = _PATH.match(text)
    if path is None or (path["prefix"] is None and not bare_ok):
        return None
    rest = text[path.end() :].lstrip("*` \t")
    if rest.strip(_DECORATION) and not rest.startswith(_SEPARATORS):
        return None
    return _file_name(path["stem"])


def mentioned_name(line: str) -> str | None:
    """The one `queue/x.py` a prose line mentions ("Here is `queue/core.py`:"), else None."""
    stems = {match["stem"] for match in _MENTION.finditer(_ESCAPED_UNDERSCORE.sub("_", line))}
    return _file_name(stems.pop()) if len(stems) == 1 else None


def info_file_name(info: str) -> str | None:
    """The file a fence's info string names (```python:queue/core.py, title="queue/core.py")."""
    return mentioned_name(info)


def _file_name(stem: str) -> str | None:
    """ "queue/<stem>.py" when the bundle can store it (ASCII word, 1-100 chars), else None."""
    return f"queue/{stem}.py" if _SAFE_STEM.fullmatch(stem) else None
