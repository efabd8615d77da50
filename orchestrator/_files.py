"""Atomic text writes, so a reader (or a crash) never sees half a result file."""

import contextlib
import os
import tempfile
from pathlib import Path

FILE_MODE = 0o644
"""mkstemp creates 0600 files; result files are meant to be read by others (reports, a web
server), and they never hold secrets."""


def write_text_atomic(path: Path, text: str) -> bool:
    """Write `text` (UTF-8, newlines untouched) to `path` via a temporary file and os.replace.

    Returns False, writing nothing, when the file already holds exactly `text`: results are
    rewritten often mid-run, and most files do not change between two writes.
    """
    data = text.encode("utf-8")
    with contextlib.suppress(OSError):
        if path.read_bytes() == data:
            return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return True
