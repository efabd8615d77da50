"""Read the package's data files (prompts, suites, canned answers) exactly as stored.

Everything goes through importlib.resources so that an installed wheel and a source checkout
behave the same, and through bytes so that no newline translation can alter benchmark data.
"""

import re
from collections.abc import Iterator
from importlib.resources import files
from importlib.resources.abc import Traversable

_PACKAGE = "challenge"
_SAFE_PATH = re.compile(r"[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*")


def resource(path: str) -> Traversable:
    """The data file `path` (posix, relative to the package); refuse anything that could escape."""
    if not _SAFE_PATH.fullmatch(path) or ".." in path.split("/"):
        raise ValueError(f"not a package data path: {path!r}")
    node = files(_PACKAGE)
    for part in path.split("/"):
        node = node / part
    return node


def read_bytes(path: str) -> bytes:
    """The raw bytes of a data file."""
    return resource(path).read_bytes()


def read_text(path: str) -> str:
    """A UTF-8 data file as text, byte for byte (CRLF stays CRLF)."""
    return read_bytes(path).decode("utf-8")


def walk(folder: str, suffix: str) -> Iterator[str]:
    """Paths (relative to the package) of the files ending in `suffix` under `folder`, sorted."""
    found: list[str] = []

    def visit(node: Traversable, prefix: str) -> None:
        for child in node.iterdir():
            if child.name == "__pycache__":
                continue
            rel = f"{prefix}/{child.name}"
            if child.is_dir():
                visit(child, rel)
            elif child.name.endswith(suffix):
                found.append(rel)

    visit(resource(folder), folder)
    yield from sorted(found)
