"""A fingerprint of the benchmark's data, stored with every run so results stay comparable."""

import hashlib

from challenge._resources import read_bytes, walk


def fingerprint_files() -> list[str]:
    """The data files the fingerprint covers: prompts and test suites (all profiles), sorted."""
    return sorted([*walk("prompts", ".txt"), *walk("suites", ".py")])


def challenge_fingerprint() -> str:
    """sha256 (hex) over each covered file's name, length and bytes, in sorted order.

    Names and lengths are hashed too, so renaming, moving or splitting a file changes it.
    """
    digest = hashlib.sha256()
    for path in fingerprint_files():
        data = read_bytes(path)
        digest.update(f"{path}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()
