"""Errors of jqbench, each with a message written for the user.

    JqbenchError
    ├── ConfigError            bad models.yaml, unknown model, bad argument (exit 2)
    └── ServiceUnavailable     something we need does not answer (exit 3)
        ├── RedisUnavailable
        │   └── StoreUnavailable    (worker.store) Redis failed mid-read or mid-write
        ├── EndpointUnavailable     a model server
        └── SandboxUnavailable      (worker.sandbox) Docker, or the sandbox image
"""


class JqbenchError(Exception):
    """Base of the errors the CLI turns into one line on stderr."""

    exit_code = 1


class ConfigError(JqbenchError):
    exit_code = 2


class ServiceUnavailable(JqbenchError):
    exit_code = 3


class RedisUnavailable(ServiceUnavailable):
    pass


class EndpointUnavailable(ServiceUnavailable):
    pass
