"""The JSON bodies llama-server (b4748) sends, key for key and in its key order.

Clients are tested against these shapes, so they follow docs/llama-server.md (recorded
from a real server) rather than OpenAI's documentation.
"""

from __future__ import annotations

import json
import secrets
import string
from dataclasses import dataclass
from typing import Any

from fakellm.generation import Generation

_ID_ALPHABET = string.ascii_letters + string.digits

#: A ChatML template, as a Qwen GGUF would carry it (only shown in /props, never applied).
CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
BOS_TOKEN = "<|endoftext|>"
EOS_TOKEN = "<|im_end|>"

#: /v1/models `meta` of a small model; the numbers are plausible, not meaningful.
MODEL_META: dict[str, int] = {
    "vocab_type": 2,
    "n_vocab": 151936,
    "n_ctx_train": 32768,
    "n_embd": 1024,
    "n_params": 596049920,
    "size": 484219968,
}


def completion_id() -> str:
    """A fresh "chatcmpl-…" id."""
    return "chatcmpl-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(32))


def health_body() -> dict[str, Any]:
    """GET /health once the model is loaded."""
    return {"status": "ok"}


def models_body(alias: str, created: int) -> dict[str, Any]:
    """GET /v1/models (and /models)."""
    return {
        "object": "list",
        "data": [
            {
                "id": alias,
                "object": "model",
                "created": created,
                "owned_by": "llamacpp",
                "meta": dict(MODEL_META),
            }
        ],
    }


def router_models_body(statuses: dict[str, str], created: int) -> dict[str, Any]:
    """GET /models (and /v1/models) of a router: every model it knows, with its status."""
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": created, "owned_by": "llamacpp",
             "status": {"value": status}}
            for name, status in statuses.items()
        ],
    }


def router_props_body(build_info: str) -> dict[str, Any]:
    """GET /props of a router: it describes the router itself, no model (no slots)."""
    return {"default_generation_settings": {"n_ctx": 0}, "model_path": "none",
            "build_info": build_info}


def props_body(*, alias: str, total_slots: int, n_ctx: int, build_info: str) -> dict[str, Any]:
    """GET /props: there is no top-level n_ctx in b4748, only the per-slot one."""
    return {
        "default_generation_settings": {
            "id": 0,
            "id_task": -1,
            "n_ctx": n_ctx,
            "speculative": False,
            "is_processing": False,
            "params": {
                "n_predict": -1,
                "seed": 4294967295,
                "temperature": 0.8,
                "top_k": 40,
                "top_p": 0.95,
                "min_p": 0.05,
                "stream": False,
            },
            "prompt": "",
            "next_token": {
                "has_next_token": True,
                "has_new_line": False,
                "n_remain": -1,
                "n_decoded": 0,
                "stopping_word": "",
            },
        },
        "total_slots": total_slots,
        "model_path": f"/models/{alias}.gguf",
        "chat_template": CHAT_TEMPLATE,
        "bos_token": BOS_TOKEN,
        "eos_token": EOS_TOKEN,
        "build_info": build_info,
    }


@dataclass(frozen=True)
class Timings:
    """Measured duration of the two phases of a request, in milliseconds."""

    prompt_n: int
    prompt_ms: float
    predicted_n: int
    predicted_ms: float

    def as_dict(self) -> dict[str, Any]:
        """The eight `timings` fields, in b4748's order; rates never divide by zero."""
        prompt_ms = max(self.prompt_ms, 1e-3)
        predicted_ms = max(self.predicted_ms, 1e-3)
        return {
            "prompt_n": self.prompt_n,
            "prompt_ms": prompt_ms,
            "prompt_per_token_ms": prompt_ms / self.prompt_n if self.prompt_n else 0.0,
            "prompt_per_second": 1000.0 * self.prompt_n / prompt_ms,
            "predicted_n": self.predicted_n,
            "predicted_ms": predicted_ms,
            "predicted_per_token_ms": predicted_ms / self.predicted_n if self.predicted_n else 0.0,
            "predicted_per_second": 1000.0 * self.predicted_n / predicted_ms,
        }


def usage_body(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    """`usage`, in b4748's key order."""
    return {
        "completion_tokens": completion_tokens,
        "prompt_tokens": prompt_tokens,
        "total_tokens": completion_tokens + prompt_tokens,
    }


@dataclass(frozen=True)
class Envelope:
    """The fields every answer to one request shares (also every chunk of a stream)."""

    id: str
    created: int
    model: Any
    system_fingerprint: str


def completion_body(
    env: Envelope, gen: Generation, prompt_tokens: int, timings: Timings
) -> dict[str, Any]:
    """Non-streaming chat completion."""
    message: dict[str, Any] = {"role": "assistant"}
    if gen.reasoning_content is not None:
        message["reasoning_content"] = gen.reasoning_content
    message["content"] = gen.content
    return {
        "choices": [{"finish_reason": gen.finish_reason, "index": 0, "message": message}],
        "created": env.created,
        "model": env.model,
        "system_fingerprint": env.system_fingerprint,
        "object": "chat.completion",
        "usage": usage_body(prompt_tokens, gen.completion_tokens),
        "id": env.id,
        "timings": timings.as_dict(),
    }


def chunk_body(env: Envelope, text: str) -> dict[str, Any]:
    """One streamed piece of content (b4748 sends no initial role chunk)."""
    return {
        "choices": [{"finish_reason": None, "index": 0, "delta": {"content": text}}],
        "created": env.created,
        "id": env.id,
        "model": env.model,
        "system_fingerprint": env.system_fingerprint,
        "object": "chat.completion.chunk",
    }


def final_chunk_body(
    env: Envelope, gen: Generation, prompt_tokens: int, timings: Timings
) -> dict[str, Any]:
    """Last streamed chunk: empty delta, finish reason, usage and timings."""
    return {
        "choices": [{"finish_reason": gen.finish_reason, "index": 0, "delta": {}}],
        "created": env.created,
        "id": env.id,
        "model": env.model,
        "system_fingerprint": env.system_fingerprint,
        "object": "chat.completion.chunk",
        "usage": usage_body(prompt_tokens, gen.completion_tokens),
        "timings": timings.as_dict(),
    }


def json_text(body: Any) -> str:
    """Compact JSON as llama-server writes it: UTF-8 text as is; a lone surrogate (which
    UTF-8 cannot carry) leaves the whole body \\u-escaped, as a JSON escape would send it."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(body, separators=(",", ":"), default=str)
    return text
