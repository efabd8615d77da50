"""Answer -> code as the model meant it: the `strict` profile's extraction (docs/scoring.md §3).

Legacy extraction (`challenge.extraction`) reproduces the original's regexes, quirks
included; this reads the same answers but tolerates how models really format them:
```` ```py ````, ```` ```python3 ````, ```` ```Python ````, bare and ``~~~`` fences, CRLF,
<think> reasoning, prose around the code, an unclosed last fence, usage examples in their own
blocks, and every common way of naming the L5 files, with no fence text in any file.

L1-L4 (`extract_code_strict`):
1. The answer is normalised first (CRLF -> LF, <think> reasoning dropped: see
   `challenge._markdown.normalise`); then its Python fences are read (```` ```python ````,
   ```` ```py ````, ```` ```python3 ````, any case, bare, ``~~~``; see `Segment.is_python`).
2. Blocks containing `class JobQueue`: the best one wins: one that parses beats one that
   does not, then one whose JobQueue defines add_job and get_result (a complete class beats a
   fragment such as "the fixed method"), then the later one (models repeat a corrected
   version). Blocks that only define names it uses but does not define (imports, classes,
   functions, constants; never a block that mentions JobQueue, i.e. usage) are put before it.
3. No block defines JobQueue: all Python blocks joined by a blank line, as legacy does.
4. No Python fence: the answer's longest run of lines that parses as Python (preferring runs
   that define JobQueue), without stray prose at its edges such as "Usage" or "Note: this";
   it then ends with a newline, as fenced code does.

L5 (`extract_l5_files_strict`), read two ways; the reading with more files wins (the fenced
one on a tie, so an unfenced package followed by a fenced usage example still works):
- Fenced: each Python fence is a file named, by priority, by a header comment inside it
  (`# queue/x.py`; every such line starts a new file, so the prompt's one-block format
  splits), by its info string (```` ```python:queue/x.py ````), by the nearest label line in
  the prose before it (`**queue/x.py**`, `### queue/x.py`, `` `queue/x.py` ``,
  `queue/x.py:`), or by the one `queue/x.py` the line right before it mentions ("Here is
  queue/x.py:"; such a weak name never replaces a file already found). Without the `queue/`
  prefix (`### core.py`) a name counts only as such a label or on a fence's first line.
- Unfenced: the text outside Python fences, split at label lines with the `queue/` prefix;
  text before the first is dropped, and a body that does not parse (trailing prose) is
  reduced to its best parsing run (as in L1-L4 rule 4).
Names are normalised to "queue/x.py" (from `./queue/x.py`, `queue\\x.py`); bodies are
stripped; empty bodies, unnamed blocks and names the bundle cannot store are dropped; a later
file of the same name wins.

Nothing here raises, whatever the answer.
"""

import ast
import builtins
import re
import warnings
from collections.abc import Iterable, Iterator

from challenge._markdown import (
    Segment,
    info_file_name,
    label_name,
    mentioned_name,
    normalise,
    split_segments,
)
from challenge.extraction import JOB_QUEUE_FILE
from challenge.levels import Level

#: The class every L1-L4 answer must define.
CLASS_NAME = "JobQueue"
#: Methods a complete JobQueue has (the prompts' API).
_API_METHODS = frozenset({"add_job", "get_result"})
#: Most `ast.parse` calls one unfenced search may make (bounds the time on odd answers).
_PARSE_BUDGET = 400
_BUILTIN_NAMES = frozenset(dir(builtins))
_CLASS_LINE = re.compile(rf"^[ \t]*class[ \t]+{CLASS_NAME}\b", re.MULTILINE)
_DEFINITIONS = (
    ast.Import,
    ast.ImportFrom,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Assign,
    ast.AnnAssign,
)

# --- public API -----------------------------------------------------------------------------


def strict_candidate_files(answer: str, level: Level) -> dict[str, str]:
    """What the strict profile scores: {"job_queue.py": code} (L1-L4) or the L5 package files.

    Same contract as `legacy_candidate_files`: empty when the answer has no code.
    """
    if Level(level) is Level.L5:
        return extract_l5_files_strict(answer)
    code = extract_code_strict(answer)
    return {JOB_QUEUE_FILE: code} if code.strip() else {}


def extract_code_strict(answer: str) -> str:
    """The L1-L4 code the answer means (module docstring, rules 1-4); "" when there is none."""
    segments = split_segments(normalise(answer))
    blocks = [segment.code for segment in segments if segment.is_python]
    if blocks:
        chosen = _job_queue_code(blocks)
        return chosen if chosen is not None else "\n\n".join(blocks)
    code = _code_from_unfenced(_lines_outside_python_fences(segments))
    return code + "\n" if code else ""


def extract_l5_files_strict(answer: str) -> dict[str, str]:
    """The L5 package files the answer means, e.g. {"queue/core.py": "..."} (docstring above)."""
    segments = split_segments(normalise(answer))
    fenced = _files_from_fences(segments)
    unfenced = _files_from_labels(_lines_outside_python_fences(segments))
    return unfenced if len(unfenced) > len(fenced) else fenced


# --- parsing helpers ------------------------------------------------------------------------


def _try_parse(source: str) -> ast.Module | int:
    """The module's AST, or the 1-based line the parser blamed (1 when unknown)."""
    try:
        with warnings.catch_warnings():
            # An invalid escape warns; under a "warnings are errors" filter it would not parse.
            warnings.simplefilter("ignore")
            return ast.parse(source)
    except SyntaxError as error:
        return error.lineno or 1
    except Exception:
        # ValueError, MemoryError or RecursionError (deep nesting): not Python either.
        return 1


def _parse(source: str) -> ast.Module | None:
    """The module's AST, or None when `source` is not Python."""
    result = _try_parse(source)
    return result if isinstance(result, ast.Module) else None


def _lines_outside_python_fences(segments: Iterable[Segment]) -> list[str]:
    """Prose lines and the content of other fences (```text ...), without any fence line.

    What an answer is read as when its code is not in Python fences; the content of those
    fences (usage examples, a directory tree) has been judged already and is left out.
    """
    return [line for segment in segments if not segment.is_python for line in segment.lines]


def _tidy(lines: Iterable[str]) -> str:
    """The lines joined without leading blank lines or trailing whitespace.

    Like legacy's strip() of L5 bodies, except that the first line keeps its indentation.
    """
    text = "\n".join(lines).rstrip()
    kept = text.split("\n")
    while kept and not kept[0].strip():
        kept.pop(0)
    return "\n".join(kept)


# --- L1-L4: choosing among blocks -----------------------------------------------------------


def _defines_job_queue(module: ast.Module | None, source: str) -> bool:
    """True if the code has a `class JobQueue` (found by text when it does not parse)."""
    if module is None:
        return _CLASS_LINE.search(source) is not None
    return any(_job_queue_classes(module))


def _job_queue_classes(module: ast.Module) -> Iterator[ast.ClassDef]:
    return (
        node
        for node in ast.walk(module)
        if isinstance(node, ast.ClassDef) and node.name == CLASS_NAME
    )


def _has_api(module: ast.Module | None) -> bool:
    """True if some `class JobQueue` itself defines add_job and get_result: not a fragment."""
    if module is None:
        return False
    for node in _job_queue_classes(module):
        methods = {
            item.name
            for item in node.body
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        if methods >= _API_METHODS:
            return True
    return False


def _job_queue_code(blocks: list[str]) -> str | None:
    """The best block defining JobQueue, after the helper blocks it needs; None if none does.

    Helpers are only added when the result still parses (a `from __future__` import, say,
    must stay first), so they can never turn a parsing block into one that does not.
    """
    modules = [_parse(block) for block in blocks]
    defining = [i for i, block in enumerate(blocks) if _defines_job_queue(modules[i], block)]
    if not defining:
        return None
    main = max(defining, key=lambda i: (modules[i] is not None, _has_api(modules[i]), i))
    main_module = modules[main]
    if main_module is None:
        return blocks[main]
    libraries = {
        i: module
        for i, module in enumerate(modules)
        if module is not None and i not in defining and _is_library(module)
    }
    helpers = _needed_helpers(main_module, libraries)
    if not helpers:
        return blocks[main]
    combined = "\n\n".join([*(blocks[i] for i in helpers), blocks[main]])
    return combined if _parse(combined) is not None else blocks[main]


def _is_library(module: ast.Module) -> bool:
    """Only definitions (a docstring allowed) and no use of JobQueue: not a usage example."""
    for statement in module.body:
        is_docstring = isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
        if not (isinstance(statement, _DEFINITIONS) or is_docstring):
            return False
    return CLASS_NAME not in _names_used_or_imported(module)


def _names_used_or_imported(module: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add(node.name)
    return names


def _needed_helpers(main: ast.Module, libraries: dict[int, ast.Module]) -> list[int]:
    """Indexes of the library blocks that define a name the chosen code needs, transitively."""
    missing = _free_names(main)
    chosen: set[int] = set()
    changed = True
    while changed:
        changed = False
        for index, module in libraries.items():
            if index not in chosen and _top_level_names(module) & missing:
                chosen.add(index)
                missing |= _free_names(module)
                changed = True
    return sorted(chosen)


def _free_names(module: ast.Module) -> set[str]:
    """Names the code reads but never binds anywhere and that are not builtins (roughly)."""
    loaded: set[str] = set()
    bound: set[str] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return loaded - bound - _BUILTIN_NAMES


def _top_level_names(module: ast.Module) -> set[str]:
    """Names a module binds at its top level (what another block can use from it)."""
    names: set[str] = set()
    for statement in module.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(statement.name)
        elif isinstance(statement, ast.Import | ast.ImportFrom):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in statement.names}
        elif isinstance(statement, ast.Assign | ast.AnnAssign):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            names |= {
                node.id
                for target in targets
                for node in ast.walk(target)
                if isinstance(node, ast.Name)
            }
    return names


# --- unfenced code --------------------------------------------------------------------------


def _code_from_unfenced(lines: list[str]) -> str:
    """The code in text without fences: its best parsing run of lines, tidied ("" if none).

    A run defining JobQueue wins (with the runs it needs, as for fenced blocks); otherwise the
    longest run. Runs that are only expressions ("Thanks", "print(x)") are not code.
    """
    runs = [_tidy(lines[start:end]) for start, end in _parsing_runs(lines)]
    runs = [run for run in runs if _is_substantive(run)]
    if not runs:
        return ""
    chosen = _job_queue_code(runs)
    return chosen if chosen is not None else max(runs, key=lambda run: run.count("\n"))


def _parsing_runs(lines: list[str]) -> list[tuple[int, int]]:
    """Maximal-ish runs of lines that parse, found by following the parser's error lines.

    From each start, the longest prefix that parses is found by cutting before the line the
    parser blames; a blamed first line is prose and skipped. Stray prose at a run's edges that
    still parses ("Usage", "Note: this") is cut off. Bounded by `_PARSE_BUDGET` parses.
    """
    runs: list[tuple[int, int]] = []
    budget = _PARSE_BUDGET
    start = 0
    while start < len(lines) and budget > 0:
        if not lines[start].strip():
            start += 1
            continue
        end = len(lines)
        while end > start and budget > 0:
            budget -= 1
            result = _try_parse("\n".join(lines[start:end]))
            if isinstance(result, ast.Module):
                runs.append(_without_stray_edges(lines, start, end, result))
                break
            end = start + min(max(result, 1), end - start) - 1
        start = max(end, start + 1)
    return [(start, end) for start, end in runs if end > start]


def _without_stray_edges(
    lines: list[str], start: int, end: int, module: ast.Module
) -> tuple[int, int]:
    """The run minus leading/trailing statements that are prose parsing by accident."""
    if not module.body:
        return start, end
    body = module.body
    first = 0
    while first < len(body) and _is_stray(body[first]):
        first += 1
    last = len(body)
    while last > first and _is_stray(body[last - 1]):
        last -= 1
    new_start = start + (body[first - 1].end_lineno or 0) if first else start
    new_end = start + body[last].lineno - 1 if last < len(body) else end
    return new_start, max(new_start, new_end)


def _is_stray(statement: ast.stmt) -> bool:
    """A bare name ("Usage") or a bare annotation ("Note: important"): prose, not code."""
    if isinstance(statement, ast.Expr):
        return isinstance(statement.value, ast.Name)
    return isinstance(statement, ast.AnnAssign) and statement.value is None


def _is_substantive(source: str) -> bool:
    """True if the code parses and does more than evaluate expressions."""
    module = _parse(source)
    return module is not None and any(not isinstance(s, ast.Expr) for s in module.body)


# --- L5 -------------------------------------------------------------------------------------


class _Files:
    """The files found so far: a later file of the same name wins, except over a weak name."""

    def __init__(self) -> None:
        self.files: dict[str, str] = {}

    def put(self, name: str | None, lines: Iterable[str], *, weak: bool = False) -> None:
        body = _tidy(lines)
        if name is None or not body or (weak and name in self.files):
            return
        self.files[name] = body


def _files_from_fences(segments: list[Segment]) -> dict[str, str]:
    """Files from Python fences, each named as the module docstring describes."""
    found = _Files()
    prose: tuple[str, ...] = ()
    for segment in segments:
        if not segment.fenced:
            prose = segment.lines
            continue
        if segment.is_python:
            name, weak = _name_before_fence(segment, prose)
            for section_name, lines, section_weak in _sections(segment.lines, name, weak):
                found.put(section_name, lines, weak=section_weak)
        prose = ()
    return found.files


def _name_before_fence(segment: Segment, prose: tuple[str, ...]) -> tuple[str | None, bool]:
    """The fence's name from its info string or the prose before it, and whether it is weak."""
    from_info = info_file_name(segment.info)
    if from_info is not None:
        return from_info, False
    for line in reversed(prose):
        labelled = label_name(line, bare_ok=True)
        if labelled is not None:
            return labelled, False
    last = next((line for line in reversed(prose) if line.strip()), "")
    mentioned = mentioned_name(last)
    return mentioned, mentioned is not None


def _sections(
    lines: tuple[str, ...], name: str | None, weak: bool
) -> list[tuple[str | None, list[str], bool]]:
    """Split a fence's lines at header comments; what precedes the first one keeps `name`.

    A bare name ("# core.py") is a header only on the first non-blank line.
    """
    sections: list[tuple[str | None, list[str], bool]] = [(name, [], weak)]
    seen_code = False
    for line in lines:
        header = None
        if line.lstrip().startswith("#"):
            header = label_name(line, bare_ok=not seen_code)
        if header is not None:
            sections.append((header, [], False))
        else:
            sections[-1][1].append(line)
        seen_code = seen_code or bool(line.strip())
    return sections


def _files_from_labels(lines: list[str]) -> dict[str, str]:
    """Files from text without named fences, split at label lines with the `queue/` prefix.

    Text before the first label is dropped; a body that does not parse (trailing prose) is
    reduced to its best parsing run.
    """
    found = _Files()
    sections: list[tuple[str, list[str]]] = []
    for line in lines:
        header = label_name(line, bare_ok=False)
        if header is not None:
            sections.append((header, []))
        elif sections:
            sections[-1][1].append(line)
    for name, body in sections:
        found.put(name, _unfenced_body(body))
    return found.files


def _unfenced_body(lines: list[str]) -> list[str]:
    """The body as given if it parses, else its best parsing run."""
    text = _tidy(lines)
    if _parse(text) is not None:
        return [text]
    return [_code_from_unfenced(text.split("\n"))]
