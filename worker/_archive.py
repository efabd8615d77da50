"""Files -> an in-memory tar that `tar -x --no-same-owner` unpacks under /work.

Why in memory and on stdin: a container with a read-only root and a tmpfs /work cannot
receive files through put_archive before it starts, and bind mounts do not work when the
worker itself runs in a container. Why no directory entries: a "." entry makes GNU tar fail
on the tmpfs root, and tar creates parent directories as needed anyway.
"""

import io
import tarfile
import time
from collections.abc import Mapping
from pathlib import PurePosixPath

from worker.text import safe_text

#: Mode of a file written into the sandbox unless the caller names another (tar runs as the
#: container's root, so files are root's: readable by every uid there, writable by none).
FILE_MODE = 0o644


def check_path(path: str) -> str:
    """Return `path` if it is a plain relative posix path inside /work, else raise ValueError."""
    if (
        path.startswith("/")
        or "\\" in path
        or "\x00" in path
        or any(part in ("", ".", "..") for part in path.split("/"))
    ):
        raise ValueError(f"not a relative path inside the sandbox: {path!r}")
    return path


def build_archive(files: Mapping[str, bytes | str], *, mtime: float | None = None,
                  modes: Mapping[str, int] | None = None) -> bytes:
    """A tar of `files` (str contents as UTF-8, lone surrogates replaced), regular files only,
    mode 0644 unless `modes` names another for a path, sorted.

    Raises:
        ValueError: a path is unsafe, or a file would also have to be a directory.
    """
    names = sorted(check_path(name) for name in files)
    if any(safe_text(name) != name for name in names):
        raise ValueError("a file name holds a lone surrogate")
    as_dirs = {str(parent) for name in names for parent in PurePosixPath(name).parents}
    clash = sorted(set(names) & as_dirs)
    if clash:
        raise ValueError(f"path is both a file and a directory: {clash[0]!r}")
    stamp = int(time.time() if mtime is None else mtime)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in names:
            content = files[name]
            data = (safe_text(content).encode("utf-8") if isinstance(content, str)
                    else bytes(content))
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = (modes or {}).get(name, FILE_MODE)
            info.mtime = stamp
            info.type = tarfile.REGTYPE
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
