"""models.yaml: which llama-servers to benchmark and how to ask them.

See docs/architecture.md, Configuration.
"""

import re
import shlex
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from worker.errors import ConfigError

_Config = TypeVar("_Config", bound=BaseModel)

MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
"""Model names become queue names, Redis keys and file names: no ':', no '/', no leading dot."""


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value.rstrip("/")


HttpUrlText = Annotated[str, AfterValidator(_http_url)]
"""An http(s) URL, without a trailing slash."""

ServerKind = Literal["single", "router", "llama-swap", "commands"]
"""single: one model per llama-server; router: llama.cpp's router mode (models loaded and
unloaded through its API); llama-swap: the proxy of that name (it loads on the first request
for a model); commands: a plain llama-server per model, started and stopped by the GPU
host's worker with the commands of that host's own models file. Models on a server of any
kind but single run model by model (`worker.driver`)."""

LOCAL_MODELS_FILE_ENV = "JQ_LOCAL_MODELS_FILE"
"""Set by `python -m worker --server NAME --config FILE` to FILE: where its drivers read the
start commands of a kind-commands server (`server_commands`)."""

Command = list[str] | str
"""A command as argv, or as one string split like a shell would (no shell runs it)."""


class ServerConfig(BaseModel):
    """One GPU server behind one endpoint (`servers:` in models.yaml)."""

    model_config = ConfigDict(extra="forbid")

    kind: ServerKind = "single"
    base_url: HttpUrlText
    """OpenAI base URL of the endpoint, e.g. http://gpu1:8080/v1."""
    slots: int = Field(1, ge=1)
    """Requests it takes at once (a router's /props cannot say: this is authoritative)."""
    models_max: int = Field(1, ge=1)
    """Models it holds at once (llama-server --models-max; llama-swap: a group's size)."""
    commands: dict[str, Command] = Field(default_factory=dict)
    """kind commands: model name -> the command that starts its llama-server at base_url.
    Read only by the worker of the GPU host from its own file (`server_commands`), never
    stored with a run: whoever can write Redis must not run commands on GPU hosts."""


class ModelConfig(BaseModel):
    """One model served by one llama-server; defaults are the original benchmark's."""

    model_config = ConfigDict(extra="forbid")

    base_url: HttpUrlText
    """OpenAI base URL, e.g. http://gpu1:7093/v1; /health and /props are at its root."""
    model: str | None = None
    """The "model" field sent; defaults to our name for it."""
    slots: int = Field(1, ge=1)
    """Concurrent requests the server takes (llama-server --parallel)."""
    temperature: float = 0.1
    max_tokens: int = Field(8192, ge=1)
    no_think: bool = True
    """Prepend "/no_think\\n" to the prompt, as the original."""
    timeout_s: float = Field(600.0, gt=0)
    api_key_env: str | None = None
    """Name of the environment variable holding the API key; the key itself is never stored."""
    extra: dict[str, Any] = Field(default_factory=dict)
    """Further request fields, sent as given and recorded."""
    server: str | None = None
    """The `servers:` entry this model is served by (its base_url and slots come from it)."""
    server_kind: ServerKind = "single"
    """Filled in from the server: how its models are loaded (see SERVER_KINDS)."""

    @property
    def shares_a_server(self) -> bool:
        """Its server loads models on demand: it runs model by model (`worker.driver`)."""
        return self.server is not None and self.server_kind != "single"

    @property
    def root_url(self) -> str:
        """Server root, where /health and /props live."""
        url = self.base_url
        return url[: -len("/v1")] if url.endswith("/v1") else url

    def model_id(self, name: str) -> str:
        return self.model or name


def validate_model_name(name: str) -> str:
    if not MODEL_NAME_PATTERN.match(name):
        raise ConfigError(f"model name {name!r} may only use letters, digits, '.', '_' and '-', "
                          "and must start with a letter or digit")
    return name


def parse_models(data: Any, source: str) -> dict[str, ModelConfig]:
    """Validate the parsed YAML of a models file; errors name the file and the field."""
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict) or not data["models"]:
        raise ConfigError(
            f"{source}: expected a top-level 'models:' mapping with at least one model"
        )
    servers = _parse_servers(data.get("servers"), source)
    models: dict[str, ModelConfig] = {}
    for name, fields in data["models"].items():
        validate_model_name(str(name))
        if isinstance(fields, dict) and "api_key" in fields:
            raise ConfigError(
                f"{source}: models.{name}.api_key: keys stay out of this file; put the key in "
                "an environment variable and name that variable with api_key_env "
                "(e.g. api_key_env: LLAMA_KEY)"
            )
        fields = _with_server(dict(fields or {}), servers, f"{source}: models.{name}")
        models[str(name)] = _validated(ModelConfig, fields, f"{source}: models.{name}")
    for server_name, server in servers.items():
        served = [m for m, config in models.items() if config.server == server_name]
        if server.kind == "single" and len(served) > 1:
            raise ConfigError(f"{source}: servers.{server_name} is kind single but serves "
                              f"{', '.join(served)}: one model each (or kind router / "
                              "llama-swap)")
    return models


def _parse_servers(data: Any, source: str) -> dict[str, ServerConfig]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: servers: expected a mapping of server names")
    servers = {validate_model_name(str(name)): _validated(ServerConfig, fields or {},
                                                          f"{source}: servers.{name}")
               for name, fields in data.items()}
    for name, server in servers.items():
        if server.commands and server.kind != "commands":
            raise ConfigError(f"{source}: servers.{name}.commands: only for kind commands")
    return servers


def server_commands(path: Path, server: str) -> dict[str, list[str]]:
    """The start command of each model on `server` (kind commands), from the models file
    at `path` on this host, as argv.

    Raises:
        ConfigError: the file is broken, or a model of `server` has no command.
    """
    data = _read_yaml(path)
    models = parse_models(data, str(path))
    entry = _parse_servers(data.get("servers"), str(path)).get(server)
    if entry is None or entry.kind != "commands":
        raise ConfigError(f"{path}: servers.{server} is not of kind commands")
    served = sorted(name for name, config in models.items() if config.server == server)
    missing = [name for name in served if name not in entry.commands]
    if missing:
        raise ConfigError(f"{path}: servers.{server}.commands: no command for "
                          f"{', '.join(missing)}")
    commands = {}
    for name in served:
        command = entry.commands[name]
        commands[name] = shlex.split(command) if isinstance(command, str) else list(command)
        if not commands[name]:
            raise ConfigError(f"{path}: servers.{server}.commands.{name}: empty")
    return commands


def _with_server(fields: dict[str, Any], servers: dict[str, ServerConfig], where: str
                 ) -> dict[str, Any]:
    """A model's fields with its server's endpoint, slots and kind filled in."""
    name = fields.get("server")
    if name is None:
        return fields
    server = servers.get(str(name))
    if server is None:
        known = ", ".join(servers) or "none"
        raise ConfigError(f"{where}.server: no server {name!r} under servers: (known: {known})")
    for field in ("base_url", "slots"):
        if field in fields:
            raise ConfigError(f"{where}.{field}: comes from servers.{name}; remove it here")
    return {**fields, "base_url": server.base_url, "slots": server.slots,
            "server_kind": server.kind}


def _validated(kind: type[_Config], fields: Any, where: str) -> _Config:
    try:
        return kind.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(entry)"
        raise ConfigError(f"{where}.{field}: {first['msg']}") from None


def load_models(path: Path) -> dict[str, ModelConfig]:
    """Read and validate a models.yaml file."""
    return parse_models(_read_yaml(path), str(path))


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"models file {path} not found (pass --config or set JQ_MODELS_FILE)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read models file {path}: {exc.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
