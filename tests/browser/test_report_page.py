"""report.html in a real browser (headless Debian Chromium through Playwright, marker
browser): the demo run's page renders with no console error and no request besides its own
file, every chart has visible marks, a table sorts on a click, and an attempt opens from its
link; a synthetic page whose model answers are hostile markup stays inert (no script runs,
nothing loads) and shows that markup as text."""

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.report.html import render_html
from tests.browser.chromium import Visit, browser, chromium_path, visit
from tests.browser.synthetic import IMG_ONERROR, SCRIPT_BREAKOUT, hostile_report
from tests.required import missing

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
DEMO_TIMEOUT_S = 170
PAGE_LIMIT_BYTES = 2_000_000


@pytest.fixture(scope="module")
def context() -> Iterator[Any]:
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing('playwright is not installed (pip install -e ".[dev]" -c constraints.txt)')
    executable = chromium_path()
    if executable is None:
        missing("chromium is not installed (scripts/setup.sh installs it: apt-get install "
                "chromium)")
    with browser(executable) as ctx:
        yield ctx


@pytest.fixture(scope="module")
def demo_report(sandbox_image: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real demo (its own Redis, fake servers, Celery workers, Docker scoring), two
    iterations; its report.html, written by the run or, if it did not, from its files."""
    if shutil.which("redis-server") is None:
        missing("redis-server is not installed")
    out = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("JQ_") and k != "REDIS_URL"}
    env["JQ_SANDBOX_IMAGE"] = sandbox_image
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "demo", "--iterations", "2",
         "--output", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=DEMO_TIMEOUT_S, check=False)
    print(f"demo: {time.monotonic() - started:.0f} s, exit {result.returncode}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    runs = [p.parent for p in out.glob("*/run.json")]
    assert len(runs) == 1, runs
    page = runs[0] / "report.html"
    if not page.exists():
        from orchestrator.report.loading import records_from_files
        from orchestrator.report.writing import write_report

        print("demo: the run wrote no report.html; writing it from its result files")
        write_report([records_from_files(out, runs[0].name)], out)
    assert page.exists()
    return page


def assert_clean(seen: Visit) -> None:
    assert seen.console_errors == []
    assert seen.refused == []
    assert seen.requests == [seen.url]


def column(seen: Visit, table: str, index: int) -> list[str]:
    return list(seen.page.eval_on_selector_all(
        f"{table} tbody tr", f"rows => rows.map(r => r.cells[{index}].textContent)"))


@pytest.mark.docker
@pytest.mark.redis
@pytest.mark.timeout(DEMO_TIMEOUT_S + 60)
def test_the_demo_report_renders_offline_with_marks_and_sorts(context: Any,
                                                               demo_report: Path) -> None:
    assert demo_report.stat().st_size < PAGE_LIMIT_BYTES
    seen = visit(context, demo_report)
    page = seen.page

    plots = page.eval_on_selector_all("svg.plot", """svgs => svgs.map(svg => {
        const marks = Array.from(svg.querySelectorAll('.mark'));
        return {label: svg.getAttribute('aria-label'), marks: marks.length,
                drawn: marks.filter(m => { const b = m.getBBox();
                                           return b.width > 0 && b.height > 0; }).length,
                shown: svg.getBoundingClientRect().width > 0};
    })""")
    assert len(plots) >= 7, plots  # scores x2, heatmaps x2, legacy/strict, speed, time
    assert page.locator("svg").count() == len(plots)  # no svg without its marks
    for plot in plots:
        assert plot["marks"] > 0 and plot["drawn"] > 0 and plot["shown"], plot

    # the attempts table: "Strict" (column 6) sorts up, then down
    headers = page.eval_on_selector_all("#attempts thead th", "ths => ths.map(t => t.innerText)")
    strict = headers.index("Strict")
    before = column(seen, "#attempts", strict)
    numbers = [float(v) for v in before]
    page.click(f"#attempts thead th:nth-child({strict + 1}) button")
    after = [float(v) for v in column(seen, "#attempts", strict)]
    assert after == sorted(numbers) and after != numbers
    assert page.get_attribute(f"#attempts thead th:nth-child({strict + 1})",
                              "aria-sort") == "ascending"
    page.click(f"#attempts thead th:nth-child({strict + 1}) button")
    assert [float(v) for v in column(seen, "#attempts", strict)] == sorted(numbers,
                                                                           reverse=True)

    # an attempt opens from its link, its answer and tests inside
    page.click('#attempts a[href="#a0"]')
    assert page.eval_on_selector("#a0", "d => d.open") is True
    assert "Tests:" in page.inner_text("#a0")
    assert_clean(seen)
    page.close()


def test_hostile_answers_stay_inert_and_show_as_text(context: Any, tmp_path: Path) -> None:
    report, attempts = hostile_report()
    path = tmp_path / "report.html"
    path.write_text(render_html(report, attempts), encoding="utf-8")
    seen = visit(context, path)
    page = seen.page
    page.wait_for_timeout(300)  # an onerror or a late script would have run by now

    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.locator("img").count() == 0
    assert page.locator("marquee").count() == 0
    assert page.locator("script").count() == 1
    # shown as text: in the warnings (always open) and in an attempt's answer once opened
    assert SCRIPT_BREAKOUT in page.inner_text("#warnings")
    page.click('#attempts a[href="#a3"]')
    page.click("#a3 > details:nth-of-type(3) > summary")  # prompt, reasoning, answer
    answer = page.locator("#a3 > details:nth-of-type(3) pre")
    assert answer.is_visible()
    assert SCRIPT_BREAKOUT in answer.inner_text() and IMG_ONERROR in answer.inner_text()
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert_clean(seen)
    page.close()
