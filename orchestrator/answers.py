"""Reading an answer to score from a file, as `jqbench score FILE` does."""

from pathlib import Path

from challenge.levels import Level
from worker.errors import ConfigError


def answer_from_file(path: Path, level: Level) -> str:
    """A .py file is code: hand it over fenced, as a model would; anything else is the answer.

    Raises:
        ConfigError: the file is missing, unreadable or not UTF-8.
    """
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    if path.suffix == ".py" and level is not Level.L5:
        return f"```python\n{text}\n```"
    return text
