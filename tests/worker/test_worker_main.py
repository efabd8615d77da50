"""`python -m worker --server NAME`: the queues of a shared GPU server's worker, and clear
errors for a server it cannot serve."""

from pathlib import Path

import pytest
import yaml

from worker.__main__ import main, server_queues

CONFIG = {
    "servers": {"gpu": {"kind": "router", "base_url": "http://g:8080/v1", "slots": 2},
                "plain": {"base_url": "http://p:8080/v1"}},
    "models": {"b": {"server": "gpu"}, "a": {"server": "gpu"}, "c": {"server": "plain"},
               "d": {"base_url": "http://d/v1"}},
}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    return path


def test_a_shared_servers_worker_reads_its_driver_queue_and_its_models(config: Path) -> None:
    assert server_queues("gpu", config) == ["gpu.gpu", "llm.a", "llm.b"]


@pytest.mark.parametrize(("server", "said"), [
    ("nope", "no model has server: nope"),
    ("plain", "servers.plain is kind single: start its worker with --model c"),
])
def test_a_server_it_cannot_drive_is_a_usage_error(config: Path, server: str, said: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--server", server, "--config", str(config)])
    assert stopped.value.code == 2
    assert said in capsys.readouterr().err


def test_a_broken_models_file_is_a_usage_error(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--server", "gpu", "--config", str(tmp_path / "missing.yaml")])
    assert stopped.value.code == 2
    assert "missing.yaml" in capsys.readouterr().err
