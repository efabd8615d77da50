"""models.yaml: which llama-servers to benchmark and how to ask them.

See docs/architecture.md, Configuration.
"""

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from worker.errors import ConfigError

MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
"""Model names become queue names, Redis keys and file names: no ':', no '/', no leading dot."""


class ModelConfig(BaseModel):
    """One model served by one llama-server; defaults are the original benchmark's."""

    model_config = ConfigDict(extra="forbid")

    base_url: str
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

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

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
    models: dict[str, ModelConfig] = {}
    for name, fields in data["models"].items():
        validate_model_name(str(name))
        if isinstance(fields, dict) and "api_key" in fields:
            raise ConfigError(
                f"{source}: models.{name}.api_key: keys stay out of this file; put the key in "
                "an environment variable and name that variable with api_key_env "
                "(e.g. api_key_env: LLAMA_KEY)"
            )
        try:
            models[str(name)] = ModelConfig.model_validate(fields or {})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(model)"
            raise ConfigError(f"{source}: models.{name}.{where}: {first['msg']}") from None
    return models


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
