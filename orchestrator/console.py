"""The CLI's two consoles: results on stdout, diagnostics and progress on stderr."""

from rich.console import Console

out = Console()
err = Console(stderr=True)
