"""Headless Chromium from Debian's `chromium` package, driven by Playwright (no browser
download): a fresh profile per launch, nothing that phones home, and every request a page
makes recorded (and refused unless it is the page's own file).

Also a command: `python -m tests.browser.chromium REPORT.html OUT.png` takes the README's
screenshot of a report (its top, 1280 x 1000).
"""

import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Route

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    """Debian's chromium, or None when it is not installed."""
    return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")


@contextmanager
def browser(executable: str) -> Iterator["BrowserContext"]:
    """A headless Chromium context with a fresh user-data-dir, closed (and removed) after."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="jq-chromium-") as profile, \
            sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=executable, headless=True, args=ARGS,
            viewport={"width": 1280, "height": 1000})
        try:
            yield context
        finally:
            context.close()


@dataclass
class Visit:
    """A page opened from a file, with what it did while loading and after."""

    page: "Page"
    url: str
    requests: list[str] = field(default_factory=list)
    """Every request the page made (the file itself included)."""
    refused: list[str] = field(default_factory=list)
    """Requests other than the file itself, aborted."""
    console_errors: list[str] = field(default_factory=list)
    """Console messages of type error, and uncaught exceptions."""


def visit(context: "BrowserContext", path: Path) -> Visit:
    """Open `path` in a new page; only the file itself may load, anything else is aborted."""
    page = context.new_page()
    url = path.resolve().as_uri()
    seen = Visit(page=page, url=url)

    def route(r: "Route") -> None:
        if r.request.url == url:
            r.continue_()
        else:
            seen.refused.append(r.request.url)
            r.abort()

    def console(message: "ConsoleMessage") -> None:
        if message.type == "error":
            seen.console_errors.append(message.text)

    page.route("**/*", route)
    page.on("request", lambda request: seen.requests.append(request.url))
    page.on("console", console)
    page.on("pageerror", lambda error: seen.console_errors.append(f"uncaught: {error}"))
    page.goto(url, wait_until="load")
    return seen


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m tests.browser.chromium REPORT.html OUT.png", file=sys.stderr)
        return 2
    executable = chromium_path()
    if executable is None:
        print("chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 1
    with browser(executable) as context:
        seen = visit(context, Path(argv[0]))
        seen.page.screenshot(path=argv[1], type="png")
    print(argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
