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
    """Ask the server about itself; wait while it loads; raise EndpointUnavailable, saying
    what is wrong, when it does not answer, refuses (an API key), or does not serve the
    model."""
    root = config.root_url
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    deadline = time.monotonic() + loading_wait_s
    with httpx2.Client(timeout=10.0, headers=headers, transport=transport) as client:
        while True:
            status, body = _get(client, name, f"{root}/health", running_hint=True)
            if status == 503 and time.monotonic() < deadline:
                if on_loading:
                    on_loading(f"model {name}: {root} is loading the model, waiting")
                time.sleep(2.0)
                continue
            _require_ok(name, config, api_key, f"{root}/health", status, body)
            break
        url = f"{config.base_url}/models"
        status, models = _get(client, name, url)
        _require_ok(name, config, api_key, url, status, models)
        status, props = _get(client, name, f"{root}/props")
        if status == 404:  # not every server in front of llama.cpp has it (llama-swap)
            props = None
        else:
            _require_ok(name, config, api_key, f"{root}/props", status, props)
    listed = (models or {}).get("data", []) if isinstance(models, dict) else []
    ids = [str(m["id"]) for m in listed if isinstance(m, dict) and m.get("id")]
    _require_served(name, config, ids)
    props = props if isinstance(props, dict) else {}
    settings = props.get("default_generation_settings") or {}
    return EndpointFacts(
        root_url=root,
        model_ids=ids,
        total_slots=props.get("total_slots"),
        n_ctx=props.get("n_ctx") or settings.get("n_ctx"),
        build_info=props.get("build_info"),
        model_path=props.get("model_path"),
    )


def _get(client: httpx2.Client, name: str, url: str, *, running_hint: bool = False
         ) -> tuple[int, Any]:
    try:
        return _get_json(client, url)
    except httpx2.HTTPError as exc:
        hint = "; is llama-server running there?" if running_hint else ""
        raise EndpointUnavailable(
            f"model {name}: {url} does not answer ({type(exc).__name__}: {exc}){hint}"
        ) from None


def _require_ok(name: str, config: ModelConfig, api_key: str | None, url: str, status: int,
                body: Any) -> None:
    if status == 200:
        return
    said = f"model {name}: {url} answered {status} {_message(body)}".rstrip()
    if status in (401, 403):
        if api_key is None:
            raise EndpointUnavailable(
                f"{said}: the server wants an API key: set api_key_env in the models file to "
                "the name of an environment variable that holds it")
        raise EndpointUnavailable(
            f"{said}: the server refused the API key in ${config.api_key_env}: check its value")
    raise EndpointUnavailable(said)


def _require_served(name: str, config: ModelConfig, ids: list[str]) -> None:
    """The model id our requests name must be one the server serves; a server of one model
    answers any name, so there only an explicit `model:` that differs is an error."""
    wanted = config.model_id(name)
    if not ids or wanted in ids or (config.model is None and len(ids) == 1):
        return
    served = ", ".join(repr(i) for i in ids)
    which = "it" if len(ids) == 1 else "one of them"
    raise EndpointUnavailable(
        f"model {name}: {config.base_url} serves {served}, not {wanted!r}: set `model:` of "
        f"{name} in the models file to {which}, or point base_url at the server of {wanted!r}")


def _message(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("message", ""))
        if isinstance(error, str):
            return error
    return ""
