"""Which llama-server build the fake imitates where builds differ (docs/llama-server.md).

Only b4748 (Feb 2025) for now. What a newer build does differently becomes a field of
`Dialect`, read where the difference shows (request checks in `protocol.py`, bodies in
`payloads.py`, chat flow in `chat.py`, slot count in `model.py`), plus a new entry in
`DIALECTS`: e.g. a too-long prompt refused with `exceed_context_size_error` (400, with
n_prompt_tokens and n_ctx), context shift off, an automatic slot count, a top-level `models`
list in /v1/models, a role chunk first in streams.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    """The HTTP dialect of one llama-server build."""

    name: str
    build_info: str
    """`/props.build_info`, also every answer's `system_fingerprint`."""


B4748 = Dialect(name="b4748", build_info="b4748-fake")

#: The dialects by name (`--dialect`).
DIALECTS: dict[str, Dialect] = {dialect.name: dialect for dialect in (B4748,)}


def get_dialect(name: str) -> Dialect:
    """The dialect called `name`; ValueError naming the choices if there is none."""
    try:
        return DIALECTS[name]
    except KeyError:
        raise ValueError(f"unknown dialect {name!r}: choose from {', '.join(DIALECTS)}") from None
