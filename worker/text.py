"""Text that can always be stored: lone surrogates replaced at the boundaries.

A model answer, a test's failure message or a sandbox's output can carry a lone surrogate
(`"\\udcff"`, from a JSON escape or from bytes decoded with `surrogateescape`). Such a str
cannot be encoded as UTF-8, so pydantic refuses to serialise a record holding it and a tar
cannot hold it. Every text that enters a record or an archive passes through `safe_text`.
"""

import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def safe_text(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD (the text itself when it has none)."""
    if text.isascii():
        return text
    return _SURROGATE.sub(REPLACEMENT, text)


def safe_data(value: Any) -> Any:
    """`value` with `safe_text` applied to every str inside dicts, lists and tuples (keys too)."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {safe_data(k): safe_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(safe_data(v) for v in value)
    return value
