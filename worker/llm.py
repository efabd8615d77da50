"""The LLM client: one chat completion against a llama-server through the openai SDK.

Sends exactly the original benchmark's request (docs/challenge.md §1) plus the model's
`extra` fields, and keeps what llama.cpp returns beyond the OpenAI schema (reasoning_content,
timings), with any lone surrogate made safe. Failures are classified so that the caller can
tell the model's outcomes from our infrastructure's.
"""

import time
from dataclasses import dataclass
from typing import Any

import httpx2
import openai

from worker.config import ModelConfig
from worker.retry import Failure, FailureKind
from worker.text import safe_data, safe_text


class CallFailure(Failure):
    """A model call that failed, classified by cause (`worker.retry.FailureKind`)."""


@dataclass(frozen=True)
class ChatReply:
    content: str
    reasoning_content: str | None
    finish_reason: str | None
    usage: dict[str, Any] | None
    timings: dict[str, Any] | None
    duration_s: float


HEALTH_PROBE_S = 5.0
"""How long the `/health` probe after a timed-out request waits."""

_CONTEXT_MARKERS = ("exceeds the available context", "context shift is disabled")


def request_body(config: ModelConfig, name: str, prompt: str) -> dict[str, Any]:
    """The JSON body sent for `prompt`, as recorded in the Attempt."""
    body: dict[str, Any] = {
        "model": config.model_id(name),
        "messages": [{"role": "user", "content": prompt}],
        "temperature": config.temperature,
        "max_tokens": config.max_tokens,
    }
    body.update(config.extra)
    return body


class LlmClient:
    def __init__(
        self,
        config: ModelConfig,
        name: str,
        api_key: str | None,
        http_client: httpx2.Client | None = None,
    ) -> None:
        self._config = config
        self._name = name
        self._http = http_client or httpx2.Client()
        self._client = openai.OpenAI(
            base_url=config.base_url,
            api_key=api_key or "no-key",
            timeout=config.timeout_s,
            max_retries=0,  # retries are ours: they depend on what failed (worker.retry)
            http_client=self._http,
        )

    def close(self) -> None:
        self._client.close()
        self._http.close()

    def server_answers(self) -> bool:
        """Whether the server answers `/health` at all (any status) within a few seconds."""
        try:
            self._http.get(f"{self._config.root_url}/health", timeout=HEALTH_PROBE_S)
        except httpx2.HTTPError:
            return False
        return True

    def chat(self, prompt: str) -> ChatReply:
        """One request; raises CallFailure classified by cause."""
        body = request_body(self._config, self._name, prompt)
        standard = {k: body[k] for k in ("model", "messages", "temperature", "max_tokens")}
        extra = {k: v for k, v in body.items() if k not in standard}
        started = time.monotonic()
        try:
            completion = self._client.chat.completions.create(
                **standard, extra_body=extra or None
            )
        except openai.APITimeoutError:
            # A server that still answers /health was busy with this request: the model's
            # timeout. One that answers nothing at all is down or cut off: ours.
            if not self.server_answers():
                raise CallFailure(
                    FailureKind.INFRA, f"no answer within {self._config.timeout_s:g} s, and "
                    "the server does not answer /health either") from None
            raise CallFailure(
                FailureKind.TIMEOUT, f"no answer within {self._config.timeout_s:g} s"
            ) from None
        except openai.APIConnectionError as exc:
            raise CallFailure(FailureKind.INFRA, f"connection failed: {exc}") from None
        except openai.APIStatusError as exc:
            raise _classify_status(exc) from None
        duration = time.monotonic() - started
        data = completion.to_dict()
        choices = data.get("choices") or []
        if not choices:
            raise CallFailure(FailureKind.INFRA, "the server answered without choices")
        message = choices[0].get("message") or {}
        reasoning = message.get("reasoning_content")
        return ChatReply(
            content=safe_text(message.get("content") or ""),
            reasoning_content=None if reasoning is None else safe_text(str(reasoning)),
            finish_reason=choices[0].get("finish_reason"),
            usage=safe_data(data.get("usage")),
            timings=safe_data(data.get("timings")),
            duration_s=duration,
        )


def _classify_status(exc: openai.APIStatusError) -> CallFailure:
    status = exc.status_code
    text = _error_message(exc)
    if status == 503 and "loading" in text.lower():
        return CallFailure(FailureKind.LOADING, f"503 {text}")
    if status in (400, 500) and any(marker in text for marker in _CONTEXT_MARKERS):
        return CallFailure(FailureKind.CONTEXT, f"{status} {text}")
    return CallFailure(FailureKind.INFRA, safe_text(f"{status} {text}"))


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if body.get("message"):
            return str(body["message"])
    return str(exc.message)
