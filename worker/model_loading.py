"""Loading and unloading one model on a server that holds only some of its models at once.

- `router` (llama.cpp's router mode): `POST /models/load {"model"}`, then `GET /models` until
  that model's status is "loaded"; `POST /models/unload` when the driver is done with it.
- `llama-swap`: it starts a model's server on the first request for it, so a one-token
  warm-up request loads it; its load time is that request's wall time (the one token's
  generation included: milliseconds beside a load). `POST /unload` stops what runs.
- `single`: one model, always loaded: nothing to do.

`server_slots` asks a router how many slots a loaded model has (`GET /slots?model=`), to
check the `slots:` of models.yaml, which is authoritative for routers and llama-swap.
"""

import time
from typing import Any

import httpx2

from worker.config import ModelConfig

#: How often a router's model list is asked while a load goes on.
POLL_S = 0.5


class ModelLoadFailed(Exception):
    """The server did not load the model (an error, or not within the model's timeout)."""


def load_model(config: ModelConfig, name: str, api_key: str | None) -> float:
    """Load `name` on its server; returns the seconds it took."""
    started = time.monotonic()
    model_id = config.model_id(name)
    with _client(api_key) as http:
        if config.server_kind == "router":
            _post(http, f"{config.root_url}/models/load", {"model": model_id}, config)
            while _router_status(http, config, model_id) != "loaded":
                if time.monotonic() - started > config.timeout_s:
                    raise ModelLoadFailed(f"{model_id} not loaded within {config.timeout_s:g} s")
                time.sleep(POLL_S)
        elif config.server_kind == "llama-swap":
            _post(http, f"{config.base_url}/chat/completions",
                  {"model": model_id, "max_tokens": 1,
                   "messages": [{"role": "user", "content": "hi"}]}, config)
    return time.monotonic() - started


def unload_model(config: ModelConfig, name: str, api_key: str | None) -> None:
    with _client(api_key) as http:
        if config.server_kind == "router":
            _post(http, f"{config.root_url}/models/unload", {"model": config.model_id(name)},
                  config)
        elif config.server_kind == "llama-swap":
            _post(http, f"{config.root_url}/unload", {}, config)


def server_slots(config: ModelConfig, name: str, api_key: str | None) -> int | None:
    """The slot count a router reports for loaded `name`; None where it does not say
    (llama-swap, /slots disabled, an error)."""
    if config.server_kind != "router":
        return None
    with _client(api_key) as http:
        try:
            answer = http.get(f"{config.root_url}/slots",
                              params={"model": config.model_id(name)}, timeout=30)
            slots = answer.json() if answer.status_code == 200 else None
        except (httpx2.HTTPError, ValueError):
            return None
    return len(slots) if isinstance(slots, list) else None


def _client(api_key: str | None) -> httpx2.Client:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return httpx2.Client(headers=headers)


def _post(http: httpx2.Client, url: str, body: dict[str, Any], config: ModelConfig) -> Any:
    try:
        answer = http.post(url, json=body, timeout=config.timeout_s)
    except httpx2.HTTPError as exc:
        raise ModelLoadFailed(f"POST {url}: {exc}") from None
    if answer.status_code != 200:
        raise ModelLoadFailed(f"POST {url}: {answer.status_code} {answer.text[:300]}")
    return answer


def _router_status(http: httpx2.Client, config: ModelConfig, model_id: str) -> str | None:
    try:
        listed = http.get(f"{config.root_url}/models", timeout=30).json().get("data", [])
    except (httpx2.HTTPError, ValueError, AttributeError):
        return None
    for entry in listed if isinstance(listed, list) else []:
        if isinstance(entry, dict) and entry.get("id") == model_id:
            status = entry.get("status")
            return status.get("value") if isinstance(status, dict) else status
    return None
