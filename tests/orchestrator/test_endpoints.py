"""Checking a model's server before a run, against a MockTransport: every branch."""

import httpx2
import pytest

from orchestrator.endpoints import check_endpoint
from worker.config import ModelConfig
from worker.errors import EndpointUnavailable

CONFIG = ModelConfig(base_url="http://gpu1:7093/v1")
PROPS = {"total_slots": 2, "build_info": "b4748-c392e5094", "model_path": "/m.gguf",
         "default_generation_settings": {"n_ctx": 4096}}
MODELS = {"object": "list", "data": [{"id": "qwen", "object": "model"}]}
LOADING = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}


def transport(health: list[tuple[int, object]], **answers: tuple[int, object]
              ) -> httpx2.MockTransport:
    """/health answers the given (status, body) in turn, then 200; the rest answer as b4748,
    or as `answers` says by path without its slashes (`props=(401, ...)`)."""

    def handle(request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        if path.strip("/").replace("/", "_") in answers:
            status, body = answers[path.strip("/").replace("/", "_")]
            return httpx2.Response(status, json=body)
        if path == "/health":
            status, body = health.pop(0) if health else (200, {"status": "ok"})
            return httpx2.Response(status, json=body)
        if path == "/v1/models":
            return httpx2.Response(200, json=MODELS)
        if path == "/props":
            return httpx2.Response(200, json=PROPS)
        return httpx2.Response(404, json={"error": {"message": "File Not Found"}})

    return httpx2.MockTransport(handle)


def test_facts_of_a_ready_server() -> None:
    facts = check_endpoint("m", CONFIG, transport=transport([]))
    assert facts.root_url == "http://gpu1:7093" and facts.model_ids == ["qwen"]
    assert (facts.total_slots, facts.n_ctx, facts.build_info) == (2, 4096, "b4748-c392e5094")


def test_waits_while_loading_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("orchestrator.endpoints.time.sleep", lambda s: None)
    said: list[str] = []
    facts = check_endpoint("m", CONFIG, transport=transport([(503, LOADING)] * 3),
                           loading_wait_s=60, on_loading=said.append)
    assert facts.total_slots == 2 and len(said) == 3 and "loading" in said[0]


def test_gives_up_on_loading_after_the_configured_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    monkeypatch.setattr("orchestrator.endpoints.time.monotonic", lambda: now[0])
    monkeypatch.setattr("orchestrator.endpoints.time.sleep",
                        lambda s: now.__setitem__(0, now[0] + s))
    with pytest.raises(EndpointUnavailable, match="503 Loading model"):
        check_endpoint("m", CONFIG, transport=transport([(503, LOADING)] * 100),
                       loading_wait_s=10)
    assert now[0] >= 10


def test_an_unhealthy_server_is_named() -> None:
    with pytest.raises(EndpointUnavailable, match="/health answered 500 boom"):
        check_endpoint("m", CONFIG, transport=transport(
            [(500, {"error": {"message": "boom"}})]))


def test_an_unreachable_server_is_named() -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused")

    with pytest.raises(EndpointUnavailable, match=r"does not answer.*is llama-server running"):
        check_endpoint("m", CONFIG, transport=httpx2.MockTransport(refuse))


UNAUTHORIZED = (401, {"error": {"code": 401, "message": "Invalid API Key",
                                "type": "authentication_error"}})


def test_a_missing_api_key_is_named_with_the_fix() -> None:
    """b4748 guards /props but not /health or /v1/models: the 401 shows there first."""
    with pytest.raises(EndpointUnavailable, match=r"/props answered 401 Invalid API Key: the "
                       r"server wants an API key: set api_key_env"):
        check_endpoint("m", CONFIG, transport=transport([], props=UNAUTHORIZED))


def test_a_wrong_api_key_names_its_variable() -> None:
    config = ModelConfig(base_url="http://gpu1:7093/v1", api_key_env="GPU1_KEY")
    with pytest.raises(EndpointUnavailable, match=r"refused the API key in \$GPU1_KEY"):
        check_endpoint("m", config, api_key="wrong", transport=transport([], props=UNAUTHORIZED))


@pytest.mark.parametrize("path", ["v1_models", "props"])
def test_every_status_is_checked(path: str) -> None:
    refused = (400, {"error": {"code": 400, "message": "model 'router' not found"}})
    with pytest.raises(EndpointUnavailable, match=r"answered 400 model 'router' not found"):
        check_endpoint("m", CONFIG, transport=transport([], **{path: refused}))


def test_a_server_without_props_gives_no_slot_count() -> None:
    facts = check_endpoint("m", CONFIG, transport=transport([], props=(404, {})))
    assert facts.total_slots is None and facts.model_ids == ["qwen"]


def test_an_explicit_model_the_server_does_not_serve_is_an_error() -> None:
    config = ModelConfig(base_url="http://gpu1:7093/v1", model="qwen-14b")
    with pytest.raises(EndpointUnavailable, match=r"serves 'qwen', not 'qwen-14b': set `model:` "
                       r"of m in the models file to it"):
        check_endpoint("m", config, transport=transport([]))
    served = check_endpoint("m", ModelConfig(base_url=CONFIG.base_url, model="qwen"),
                            transport=transport([]))
    assert served.model_ids == ["qwen"]


def test_our_name_is_fine_for_one_model_but_not_among_several() -> None:
    """A server of one model answers any name; a router answers only the names it lists."""
    assert check_endpoint("m", CONFIG, transport=transport([])).model_ids == ["qwen"]
    several = (200, {"object": "list", "data": [{"id": "a"}, {"id": "b"}]})
    with pytest.raises(EndpointUnavailable, match=r"serves 'a', 'b', not 'm'.*one of them"):
        check_endpoint("m", CONFIG, transport=transport([], v1_models=several))


@pytest.mark.parametrize("dialect", ["b4748", "late-2025"])
def test_against_the_fake_server_with_an_api_key(dialect: str) -> None:
    """Real HTTP: the fake guards paths as each build does (b4748 leaves /models open, the
    late-2025 build only /health)."""
    from fakellm import FakeLlamaServer, canned_answers

    with FakeLlamaServer(canned_answers("reference"), api_key="sesame",
                         dialect=dialect) as server:
        models = httpx2.get(f"{server.url}/v1/models", timeout=5).status_code
        assert models == (200 if dialect == "b4748" else 401)
        config = ModelConfig(base_url=server.base_url, api_key_env="FAKE_KEY")
        with pytest.raises(EndpointUnavailable, match="wants an API key"):
            check_endpoint("m", ModelConfig(base_url=server.base_url))
        with pytest.raises(EndpointUnavailable, match=r"refused the API key in \$FAKE_KEY"):
            check_endpoint("m", config, api_key="wrong")
        facts = check_endpoint("m", config, api_key="sesame")
    assert facts.total_slots == 1 and facts.model_ids == ["fake-model"]
