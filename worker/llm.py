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
    system_fingerprint: str | None = None
    """The server's build stamp (llama.cpp: the build, e.g. "b4748-c392e5094")."""


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
    """One model's client. `transport` replaces the network (tests)."""

    def __init__(
        self,
        config: ModelConfig,
        name: str,
        api_key: str | None,
        transport: httpx2.BaseTransport | None = None,
    ) -> None:
        self._config = config
        self._name = name
        self._api_key = api_key
        self._transport = transport
        self._http = self._new_http()
        self._client = openai.OpenAI(
            base_url=config.base_url,
            api_key=api_key or "no-key",
            timeout=config.timeout_s,
            max_retries=0,  # retries are ours: they depend on what failed (worker.retry)
            http_client=self._http,
        )

    def _new_http(self) -> httpx2.Client:
        return httpx2.Client(transport=self._transport)

    def _drop_connections(self) -> None:
        """Make the next request open a fresh connection. After refusing a request (503 while
        loading, 401), llama.cpp b4748 leaves its body unread and parses it as the next
        request on that connection, answering an empty 400 for as long as the connection is
        reused (docs/llama-server.md)."""
        old = self._http
        self._http = self._new_http()
        self._client = self._client.with_options(http_client=self._http)
        old.close()

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

    def count_prompt_tokens(self, prompt: str) -> int | None:
        """The tokens `prompt`'s request fills in the context, counted by the server's own
        chat template and tokenizer (`/apply-template`, then `/tokenize`); None where the
        server cannot say (an older build, a proxy without them, an error)."""
        messages = request_body(self._config, self._name, prompt)["messages"]
        model = self._config.model_id(self._name)
        templated = self._post_native("/apply-template", {"model": model, "messages": messages})
        text = templated.get("prompt") if templated else None
        if not isinstance(text, str):
            return None
        tokens = self._post_native("/tokenize", {"model": model, "content": text,
                                                 "add_special": True})
        listed = tokens.get("tokens") if tokens else None
        return len(listed) if isinstance(listed, list) else None

    def _post_native(self, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """A llama-server endpoint beside the OpenAI ones: its JSON object, or None."""
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        try:
            answer = self._http.post(f"{self._config.root_url}{path}", json=body,
                                     headers=headers, timeout=HEALTH_PROBE_S * 6)
        except httpx2.HTTPError:
            return None
        if answer.status_code != 200:
            self._drop_connections()  # b4748 leaves a refused body unread (see above)
            return None
        try:
            data = answer.json()
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

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
            self._drop_connections()
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
            system_fingerprint=_text_or_none(data.get("system_fingerprint")),
        )


def _text_or_none(value: Any) -> str | None:
    return None if value is None else safe_text(str(value))


def _classify_status(exc: openai.APIStatusError) -> CallFailure:
    status = exc.status_code
    text = _error_message(exc)
    if status == 503 and "loading" in text.lower():
        return CallFailure(FailureKind.LOADING, f"503 {text}", status)
    if status in (400, 500) and any(marker in text for marker in _CONTEXT_MARKERS):
        return CallFailure(FailureKind.CONTEXT, f"{status} {text}", status)
    if status in (401, 403):
        return CallFailure(FailureKind.INFRA, safe_text(
            f"{status} {text}: the server wants an API key (set api_key_env) or refused "
            "the one given"), status)
    return CallFailure(FailureKind.INFRA, safe_text(f"{status} {text}"), status)


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if body.get("message"):
            return str(body["message"])
    return str(exc.message)
