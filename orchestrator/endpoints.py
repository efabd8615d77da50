"""Checking a model's llama-server before a run: /health, /v1/models, /props."""

import time
from collections.abc import Callable
from typing import Any

import httpx2

from worker.config import ModelConfig
from worker.errors import EndpointUnavailable
from worker.records import EndpointFacts


def _get_json(client: httpx2.Client, url: str) -> tuple[int, Any]:
    response = client.get(url)
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, None


def check_endpoint(
    name: str,
    config: ModelConfig,
    *,
    api_key: str | None = None,
    loading_wait_s: float = 60.0,
    on_loading: Callable[[str], None] | None = None,
    transport: httpx2.BaseTransport | None = None,
) -> EndpointFacts:
    """Ask the server about itself; wait while it loads; raise EndpointUnavailable otherwise."""
    root = config.root_url
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    deadline = time.monotonic() + loading_wait_s
    with httpx2.Client(timeout=10.0, headers=headers, transport=transport) as client:
        while True:
            try:
                status, body = _get_json(client, f"{root}/health")
            except httpx2.HTTPError as exc:
                raise EndpointUnavailable(
                    f"model {name}: {root} does not answer ({type(exc).__name__}: {exc}); "
                    "is llama-server running there?"
                ) from None
            if status == 503 and time.monotonic() < deadline:
                if on_loading:
                    on_loading(f"model {name}: {root} is loading the model, waiting")
                time.sleep(2.0)
                continue
            if status != 200:
                raise EndpointUnavailable(
                    f"model {name}: {root}/health answered {status} {_message(body)}"
                )
            break
        try:
            _, models = _get_json(client, f"{config.base_url}/models")
            _, props = _get_json(client, f"{root}/props")
        except httpx2.HTTPError as exc:
            raise EndpointUnavailable(f"model {name}: {root}: {exc}") from None
    ids = [m.get("id") for m in (models or {}).get("data", []) if isinstance(m, dict)]
    props = props if isinstance(props, dict) else {}
    settings = props.get("default_generation_settings") or {}
    return EndpointFacts(
        root_url=root,
        model_ids=[str(i) for i in ids if i],
        total_slots=props.get("total_slots"),
        n_ctx=props.get("n_ctx") or settings.get("n_ctx"),
        build_info=props.get("build_info"),
        model_path=props.get("model_path"),
    )


def _message(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("message", ""))
    return ""
