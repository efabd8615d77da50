"""Router mode and llama-swap's flavour of it, over real HTTP: models load on demand, at most
`models_max` at once (least recently used out first), explicit load and unload, an unknown
model refused, and every load recorded."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from fakellm import FakeLlamaServer, ModelSpec, RouterSpec, canned_answers

NAMES = ("alpha", "beta", "gamma")


def router(models_max: int = 1, flavour: str = "router", load_s: float = 0.0
           ) -> FakeLlamaServer:
    spec = RouterSpec({name: ModelSpec(canned_answers("reference"), alias=name, load_s=load_s)
                       for name in NAMES}, models_max=models_max, flavour=flavour)
    return FakeLlamaServer(canned_answers("reference"), router=spec)


def chat(server: FakeLlamaServer, model: str) -> httpx2.Response:
    return httpx2.post(f"{server.base_url}/chat/completions", timeout=10, json={
        "model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20})


def post(server: FakeLlamaServer, path: str, body: dict[str, Any]) -> httpx2.Response:
    return httpx2.post(server.url + path, json=body, timeout=10)


def statuses(server: FakeLlamaServer) -> dict[str, str]:
    listed = httpx2.get(server.url + "/models", timeout=5).json()["data"]
    return {entry["id"]: entry["status"]["value"] for entry in listed}


def test_models_load_on_demand_and_the_least_recently_used_goes_first() -> None:
    with router(models_max=2) as server:
        assert statuses(server) == dict.fromkeys(NAMES, "unloaded")
        assert chat(server, "alpha").status_code == 200
        assert chat(server, "beta").status_code == 200
        assert chat(server, "alpha").status_code == 200  # alpha is now the most recent
        assert chat(server, "gamma").status_code == 200  # beta goes
        assert statuses(server) == {"alpha": "loaded", "beta": "unloaded", "gamma": "loaded"}
        assert server.router is not None
        assert [load.model for load in server.router.loads] == ["alpha", "beta", "gamma"]
        assert server.router.loads[1].unloaded_at is not None


def test_explicit_load_and_unload_and_an_unknown_model() -> None:
    with router(models_max=1, load_s=0.2) as server:
        assert post(server, "/models/load", {"model": "beta"}).json() == {"success": True}
        assert statuses(server)["beta"] == "loaded"
        assert server.router is not None
        load = server.router.loads[0]
        assert load.ready_at is not None and load.ready_at - load.started_at >= 0.19
        assert post(server, "/models/unload", {"model": "beta"}).json() == {"success": True}
        assert statuses(server)["beta"] == "unloaded"
        refused = chat(server, "delta")
        assert refused.status_code == 400
        assert refused.json()["error"]["message"] == "model 'delta' not found"
        props = httpx2.get(server.url + "/props", timeout=5).json()
        assert "total_slots" not in props and props["default_generation_settings"]["n_ctx"] == 0


@pytest.mark.parametrize("path", ["/tokenize", "/apply-template"])
def test_native_endpoints_are_routed_by_model_and_load_it(path: str) -> None:
    with router() as server:
        body = {"model": "gamma", "content": "x",
                "messages": [{"role": "user", "content": "x"}]}
        assert post(server, path, body).status_code == 200
        assert statuses(server)["gamma"] == "loaded"


def test_llama_swap_loads_on_first_request_lists_running_and_unloads_all() -> None:
    with router(models_max=1, flavour="llama-swap") as server:
        assert chat(server, "alpha").status_code == 200
        assert chat(server, "beta").status_code == 200
        running = httpx2.get(server.url + "/running", timeout=5).json()["running"]
        assert running == [{"model": "beta", "state": "ready"}]
        assert post(server, "/models/load", {"model": "alpha"}).status_code == 404
        assert post(server, "/unload", {}).status_code == 200
        assert httpx2.get(server.url + "/running", timeout=5).json()["running"] == []


def test_slots_of_a_loaded_model_and_none_of_one_not_loaded() -> None:
    with router(models_max=1) as server:
        slots = f"{server.url}/slots"
        assert httpx2.get(slots, params={"model": "alpha"}, timeout=5).status_code == 400
        assert chat(server, "alpha").status_code == 200
        answer = httpx2.get(slots, params={"model": "alpha"}, timeout=5)
        assert answer.status_code == 200 and [s["id"] for s in answer.json()] == [0]
        assert httpx2.get(slots, params={"model": "beta"}, timeout=5).status_code == 400
