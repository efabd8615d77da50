"""How long the fake model takes, so that time grows with prompt and answer length."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LatencyModel:
    """Simulated processing speed of one slot. A speed of 0 means "instantaneous".

    A request holding a slot takes `base_s` (fixed overhead, not in `timings`), then
    `prompt_tokens / prompt_tokens_per_s` (reported as `timings.prompt_ms`), then
    `completion_tokens / tokens_per_s` (reported as `timings.predicted_ms`). Time spent
    waiting for a slot comes on top, and is not in `timings` (as with llama-server).
    The default is no delay at all, which keeps tests fast.
    """

    prompt_tokens_per_s: float = 0.0
    tokens_per_s: float = 0.0
    base_s: float = 0.0

    def __post_init__(self) -> None:
        for name in ("prompt_tokens_per_s", "tokens_per_s", "base_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")

    def prompt_s(self, tokens: int) -> float:
        """Seconds to process a prompt of `tokens` tokens."""
        return tokens / self.prompt_tokens_per_s if self.prompt_tokens_per_s > 0 else 0.0

    def token_s(self) -> float:
        """Seconds to generate one token."""
        return 1.0 / self.tokens_per_s if self.tokens_per_s > 0 else 0.0

    def generation_s(self, tokens: int) -> float:
        """Seconds to generate `tokens` tokens."""
        return tokens * self.token_s()
