"""The request side of llama-server's chat API: what it accepts and how it refuses.

Validation follows build b4748, which answers 500 (not 400) for a body it cannot use: JSON
that does not parse, an empty body, no `messages`, `n` other than 1. The messages imitate
the wording of its JSON library; clients should rely on the status and shape, not the words.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fakellm.prompts import last_user_text


class ApiError(Exception):
    """An error answer: HTTP status plus llama.cpp's `{"error": {...}}` body."""

    def __init__(self, status: int, message: str, type_: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_

    def body(self) -> dict[str, Any]:
        """The JSON body llama-server sends."""
        return error_body(self.status, self.message, self.type)


def error_body(status: int, message: str, type_: str) -> dict[str, Any]:
    """`{"error": {"code", "message", "type"}}`, the one error shape of llama-server."""
    return {"error": {"code": status, "message": message, "type": type_}}


def loading_error() -> ApiError:
    """What every endpoint answers while the model loads."""
    return ApiError(503, "Loading model", "unavailable_error")


def unknown_model_error(name: str | None) -> ApiError:
    """A router asked for a model it does not serve."""
    return ApiError(400, f"model '{name}' not found", "invalid_request_error")


def invalid_api_key_error() -> ApiError:
    """A request without the server's `--api-key` (b4748's body)."""
    return ApiError(401, "Invalid API Key", "authentication_error")


def not_found_error() -> ApiError:
    """Unknown path (or a known path with the wrong method)."""
    return ApiError(404, "File Not Found", "not_found_error")


def not_supported_error(endpoint: str, flag: str) -> ApiError:
    """An endpoint the server was not started with (e.g. /slots without --slots)."""
    return ApiError(
        501,
        f"This server does not support {endpoint} endpoint. Start it with `{flag}`",
        "not_supported_error",
    )


@dataclass(frozen=True)
class ChatRequest:
    """A chat-completion request the server accepted."""

    body: dict[str, Any]
    messages: list[Any]
    prompt: str
    """Text of the last user message."""
    model: Any
    """The request's `model` field, echoed back as is (None when absent)."""
    max_tokens: int | None
    stream: bool


def _server_error(message: str) -> ApiError:
    return ApiError(500, message, "server_error")


def parse_chat_request(raw: bytes) -> ChatRequest:
    """Parse and check a chat-completion body as b4748 does; raise `ApiError` if unusable."""
    if not raw.strip():
        raise _server_error(
            "[json.exception.parse_error.101] parse error at line 1, column 1: attempting to "
            "parse an empty input; check that your input string or stream contains the "
            "expected JSON"
        )
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _server_error(
            f"[json.exception.parse_error.101] parse error: syntax error while parsing value "
            f"- {exc}"
        ) from None
    if not isinstance(body, dict):
        raise _server_error(
            "[json.exception.type_error.305] cannot use operator[] with a string argument "
            f"with {type(body).__name__}"
        )
    if "messages" not in body:
        raise _server_error("[json.exception.out_of_range.403] key 'messages' not found")
    messages = body["messages"]
    if not isinstance(messages, list):
        raise _server_error("Expected 'messages' to be an array")
    n = body.get("n", 1)
    if n != 1:
        raise _server_error("Only one completion choice is allowed")
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    if max_tokens is not None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int | float):
            raise _server_error("[json.exception.type_error.302] type must be number")
        max_tokens = int(max_tokens)
    return ChatRequest(
        body=body,
        messages=messages,
        prompt=last_user_text(messages),
        model=body.get("model"),
        max_tokens=max_tokens,
        stream=bool(body.get("stream", False)),
    )
