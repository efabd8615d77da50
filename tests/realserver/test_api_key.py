"""A real llama-server started with --api-key: submit's endpoint check says what is wrong
before any run is stored (orchestrator/endpoints.py)."""

from pathlib import Path

import pytest

from orchestrator.endpoints import check_endpoint
from tests.realserver.harness import jqbench, worker_env, write_models
from tests.realserver.server import llama_server
from worker.config import ModelConfig
from worker.errors import EndpointUnavailable
from worker.store import RecordStore

pytestmark = [pytest.mark.realserver, pytest.mark.redis, pytest.mark.timeout(120)]

KEY = "the-right-key"


def test_a_missing_or_wrong_key_fails_submit_with_what_to_fix(
    llama_server_bin: Path, tiny_model: Path, tmp_path: Path, redis_url: str
) -> None:
    args = ["-m", str(tiny_model), "-c", "1024", "--api-key", KEY]
    headers = {"Authorization": f"Bearer {KEY}"}
    with llama_server(llama_server_bin, args, tmp_path / "server.log", headers) as server:
        env = worker_env(redis_url)
        no_key = write_models(tmp_path / "no-key.yaml", {"tiny": {"base_url": server.base_url}})
        refused = jqbench("submit", "--models", "tiny", "--config", str(no_key),
                          "--run-id", "no-key", env=env)
        assert refused.returncode == 3, refused.stderr
        assert "the server wants an API key" in refused.stderr
        assert "set api_key_env" in refused.stderr
        assert " 401 " in refused.stderr  # the status the real server answered

        wrong_key = write_models(tmp_path / "wrong-key.yaml", {
            "tiny": {"base_url": server.base_url, "api_key_env": "TINY_KEY"}})
        wrong = jqbench("submit", "--models", "tiny", "--config", str(wrong_key),
                        "--run-id", "wrong-key", env={**env, "TINY_KEY": "not-the-key"})
        assert wrong.returncode == 3, wrong.stderr
        assert "refused the API key in $TINY_KEY" in wrong.stderr

        store = RecordStore.from_url(redis_url)
        assert store.get_run("no-key") is None and store.get_run("wrong-key") is None

        config = ModelConfig(base_url=server.base_url)
        facts = check_endpoint("tiny", config, api_key=KEY, loading_wait_s=10)
        assert facts.total_slots and facts.total_slots >= 1
        assert facts.n_ctx and facts.n_ctx <= 1024
        with pytest.raises(EndpointUnavailable, match="wants an API key"):
            check_endpoint("tiny", config, api_key=None, loading_wait_s=10)
