"""models.yaml: which llama-servers to benchmark and how to ask them.

See docs/architecture.md, Configuration.
"""

import re
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

SERVER_KINDS = ("single", "router", "llama-swap")
"""single: one model per llama-server; router: llama.cpp's router mode (models loaded and
unloaded through its API); llama-swap: the proxy of that name (it loads on the first request
for a model). Models on a router or llama-swap run model by model (`worker.driver`)."""


class ServerConfig(BaseModel):
    """One GPU server behind one endpoint (`servers:` in models.yaml)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["single", "router", "llama-swap"] = "single"
    base_url: HttpUrlText
    """OpenAI base URL of the endpoint, e.g. http://gpu1:8080/v1."""
    slots: int = Field(1, ge=1)
    """Requests it takes at once (a router's /props cannot say: this is authoritative)."""
    models_max: int = Field(1, ge=1)
    """Models it holds at once (llama-server --models-max; llama-swap: a group's size)."""


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
    server_kind: Literal["single", "router", "llama-swap"] = "single"
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
    return {validate_model_name(str(name)): _validated(ServerConfig, fields or {},
                                                       f"{source}: servers.{name}")
            for name, fields in data.items()}


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
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"models file {path} not found (pass --config or set JQ_MODELS_FILE)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read models file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_models(data, str(path))
