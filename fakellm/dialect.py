"""Which llama-server build the fake imitates where builds differ (docs/llama-server.md).

b4748 (Feb 2025), and a late-2025 build as far as the context goes. What a build does
differently is a field of `Dialect`, read where the difference shows (request checks in
`protocol.py`, bodies in `payloads.py`, chat flow in `chat.py`, slot count in `model.py`).
Not imitated yet for the late-2025 build: an automatic slot count, the top-level `models`
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
    leaves_refused_body_unread: bool = False
    """A request refused while loading leaves its body unread, so on a kept-alive connection
    that body is parsed as the next request: every later request on that connection gets
    an empty 400 (b4748, observed; docs/llama-server.md)."""
    context_shift: bool = True
    """The default for a prompt as long as the slot's context or longer: on, it is cut
    silently (b4748); off, it is refused with a 400 (`--no-context-shift`, or newer builds)."""
    context_error_type: str = "invalid_request_error"
    """The refusal's error type; newer builds say `exceed_context_size_error` and add
    `n_prompt_tokens` and `n_ctx` to the error."""
    models_need_key: bool = False
    """With `--api-key`, `/models` and `/v1/models` need the key too (newer builds; b4748
    leaves them open, like `/health`)."""


B4748 = Dialect(name="b4748", build_info="b4748-fake", leaves_refused_body_unread=True)
LATE_2025 = Dialect(name="late-2025", build_info="late-2025-fake", context_shift=False,
                    context_error_type="exceed_context_size_error", models_need_key=True)

#: The dialects by name (`--dialect`).
DIALECTS: dict[str, Dialect] = {dialect.name: dialect for dialect in (B4748, LATE_2025)}


def get_dialect(name: str) -> Dialect:
    """The dialect called `name`; ValueError naming the choices if there is none."""
    try:
        return DIALECTS[name]
    except KeyError:
        raise ValueError(f"unknown dialect {name!r}: choose from {', '.join(DIALECTS)}") from None
