import json
from pathlib import Path

import pytest
import yaml

from worker.config import load_models, parse_models, server_commands
from worker.errors import ConfigError


def test_defaults_are_the_original_benchmarks() -> None:
    models = parse_models({"models": {"m1": {"base_url": "http://h:1/v1/"}}}, "x")
    cfg = models["m1"]
    assert (cfg.temperature, cfg.max_tokens, cfg.no_think, cfg.timeout_s, cfg.slots) == (
        0.1, 8192, True, 600.0, 1)
    assert cfg.base_url == "http://h:1/v1"
    assert cfg.root_url == "http://h:1"
    assert cfg.model_id("m1") == "m1"


def test_model_field_and_extra() -> None:
    cfg = parse_models({"models": {"a": {"base_url": "http://h/v1", "model": "real-id",
                                          "extra": {"top_p": 0.95}}}}, "x")["a"]
    assert cfg.model_id("a") == "real-id"
    assert cfg.extra == {"top_p": 0.95}


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({}, "top-level 'models:'"),
        ({"models": {"bad name": {"base_url": "http://h"}}}, "may only use"),
        ({"models": {"..": {"base_url": "http://h"}}}, "start with a letter or digit"),
        ({"models": {"a:b": {"base_url": "http://h"}}}, "may only use"),
        ({"models": {"a": {"base_url": "ftp://h"}}}, "models.a.base_url"),
        ({"models": {"a": {"base_url": "http://h", "slots": 0}}}, "models.a.slots"),
        ({"models": {"a": {"base_url": "http://h", "tempurature": 1}}}, "models.a.tempurature"),
    ],
)
def test_bad_config_names_the_field(data: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(")):
        parse_models(data, "models.yaml")


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_models(tmp_path / "none.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("models: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_models(broken)


def test_the_shipped_example_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "models.example.yaml"
    models = load_models(example)
    assert models["qwen35-27b-q4"].slots == 2 and models["qwen35-27b-q3"].max_tokens == 8192


def test_an_inline_api_key_says_where_keys_go_without_repeating_it() -> None:
    data = {"models": {"a": {"base_url": "http://h/v1", "api_key": "sk-secret-123"}}}
    with pytest.raises(ConfigError, match=r"environment variable.*api_key_env") as refused:
        parse_models(data, "models.yaml")
    assert "models.a.api_key" in str(refused.value)
    assert "sk-secret-123" not in str(refused.value)


def test_models_on_a_server_take_its_endpoint_slots_and_kind() -> None:
    models = parse_models({
        "servers": {"gpu1": {"kind": "router", "base_url": "http://gpu1:8080/v1/", "slots": 2,
                             "models_max": 1}},
        "models": {"a": {"server": "gpu1", "model": "a.gguf"}, "b": {"server": "gpu1"},
                   "c": {"base_url": "http://gpu2:7093/v1"}},
    }, "models.yaml")
    assert models["a"].base_url == "http://gpu1:8080/v1" == models["b"].base_url
    assert (models["a"].slots, models["a"].server_kind) == (2, "router")
    assert models["a"].shares_a_server and models["b"].shares_a_server
    assert not models["c"].shares_a_server and models["c"].server is None


@pytest.mark.parametrize(("data", "message"), [
    ({"servers": {"g": {"base_url": "http://g/v1"}}, "models": {"a": {"server": "h"}}},
     "models.a.server: no server 'h' under servers: (known: g)"),
    ({"servers": {"g": {"base_url": "http://g/v1"}},
      "models": {"a": {"server": "g", "slots": 3}}},
     "models.a.slots: comes from servers.g; remove it here"),
    ({"servers": {"g": {"base_url": "http://g/v1"}},
      "models": {"a": {"server": "g"}, "b": {"server": "g"}}},
     "servers.g is kind single but serves a, b"),
    ({"servers": {"g": {"kind": "remote", "base_url": "http://g/v1"}},
      "models": {"a": {"server": "g"}}},
     "servers.g.kind: Input should be 'single', 'router', 'llama-swap' or 'commands'"),
    ({"servers": {"g": {"kind": "router", "base_url": "http://g/v1", "commands": {"a": "x"}}},
      "models": {"a": {"server": "g"}}},
     "servers.g.commands: only for kind commands"),
    ({"servers": ["g"], "models": {"a": {"base_url": "http://g/v1"}}},
     "servers: expected a mapping"),
])
def test_bad_servers_are_named(data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_models(data, "models.yaml")
    assert message in str(caught.value)


COMMANDS_FILE = {
    "servers": {"gpu": {"kind": "commands", "base_url": "http://127.0.0.1:8080/v1",
                        "commands": {"a": "llama-server -m '/models/a b.gguf' --port 8080",
                                     "b": ["llama-server", "-m", "/models/b.gguf"]}}},
    "models": {"a": {"server": "gpu"}, "b": {"server": "gpu"}},
}


def test_start_commands_are_read_from_the_hosts_file_only(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(COMMANDS_FILE))
    assert server_commands(path, "gpu") == {
        "a": ["llama-server", "-m", "/models/a b.gguf", "--port", "8080"],
        "b": ["llama-server", "-m", "/models/b.gguf"]}
    models = load_models(path)
    assert models["a"].shares_a_server and models["a"].server_kind == "commands"
    # what a run stores of its models never holds a command
    assert "llama-server" not in json.dumps([m.model_dump(mode="json") for m in models.values()])


def test_a_model_without_its_start_command_is_named(tmp_path: Path) -> None:
    data = {**COMMANDS_FILE, "models": {**COMMANDS_FILE["models"], "c": {"server": "gpu"}}}
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"servers.gpu.commands: no command for c"):
        server_commands(path, "gpu")
