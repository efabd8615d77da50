"""report.html without a browser: escaping of hostile model text, the Content-Security-Policy
and its hashes, the size caps, and that each chart has marks (the browser check in
tests/browser/ then shows the same page inert and working in Chromium)."""

import base64
import hashlib
import re
from html.parser import HTMLParser

import pytest

from orchestrator.report import html as page_module
from orchestrator.report.html import CSP, PAGE_TEXT_BUDGET, SCRIPT, STYLE, TEXT_CAP, render_html
from orchestrator.report.svg import DotRow, Point, dot_rows, scatter
from tests.browser.synthetic import (
    HOSTILE,
    IMG_ONERROR,
    SCRIPT_BREAKOUT,
    hostile_report,
    hostile_sources,
)


class Page(HTMLParser):
    """Every element with its attributes, the raw content of <script> and <style>, and the
    text a reader sees."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.raw: dict[str, list[str]] = {"script": [], "style": []}
        self.text: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag in self.raw:
            self._open = tag
            self.raw[tag].append("")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open:
            self.raw[self._open][-1] += data
        else:
            self.text.append(data)


def parse(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    parser.close()
    return parser


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@pytest.fixture(scope="module")
def hostile_page() -> str:
    report, attempts = hostile_report()
    return render_html(report, attempts)


def csp_of(parsed: Page) -> dict[str, list[str]]:
    metas = [a for t, a in parsed.elements
             if t == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy"]
    assert len(metas) == 1
    policy = metas[0]["content"] or ""
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in policy.split(";")) if d}


def test_the_policy_allows_exactly_the_inline_script_and_style_by_their_hashes(
        hostile_page: str) -> None:
    parsed = parse(hostile_page)
    directives = csp_of(parsed)
    assert parsed.raw["script"] == [SCRIPT]
    assert parsed.raw["style"] == [STYLE]
    # recomputed here, independently of the module's own helper
    assert directives["script-src"] == [sha256_source(parsed.raw["script"][0])]
    assert directives["style-src"] == [sha256_source(parsed.raw["style"][0])]
    assert directives["default-src"] == ["'none'"]
    for name in ("img-src", "connect-src", "font-src", "object-src", "base-uri", "form-action"):
        assert directives[name] == ["'none'"], name
    assert "unsafe" not in CSP and "http" not in CSP


def test_the_policy_comes_before_any_style_or_script() -> None:
    report, attempts = hostile_report()
    page = render_html(report, attempts)
    head = page.split("</head>")[0]
    assert head.index("Content-Security-Policy") < head.index("<style>")
    assert page.index("Content-Security-Policy") < page.index("<script>")


def test_hostile_text_is_escaped_everywhere_and_shown_as_text(hostile_page: str) -> None:
    parsed = parse(hostile_page)
    assert SCRIPT_BREAKOUT not in hostile_page
    assert IMG_ONERROR not in hostile_page
    assert "<marquee>" not in hostile_page
    tags = [t for t, _ in parsed.elements]
    assert tags.count("script") == 1
    assert "img" not in tags and "marquee" not in tags
    # what a reader sees holds the hostile text verbatim: the warning, prompts, answers,
    # code, test messages
    visible = "".join(parsed.text)
    assert visible.count(HOSTILE) >= 10
    assert f"warning {HOSTILE}" in visible


def test_no_attribute_can_run_code_or_reach_the_network(hostile_page: str) -> None:
    for tag, attrs in parse(hostile_page).elements:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert name not in ("style", "src", "srcset", "action"), (tag, name)
            if name == "href":
                assert value is not None
                assert not re.match(r"^[a-z][a-z0-9+.-]*:", value, re.I), value
                assert value.startswith(("#", "attempts/", "../")), value


def test_svg_labels_and_tooltips_are_escaped() -> None:
    row = DotRow(label=HOSTILE, colour=0, values=[50.0], tips=[HOSTILE], mean=50.0,
                 interval=None)
    for svg in (dot_rows([row], 100, [(100.0, HOSTILE)], HOSTILE),
                scatter([Point(1, 2, 0, HOSTILE)], 10, 10, HOSTILE, HOSTILE, HOSTILE)):
        assert "<script" not in svg and "<img" not in svg and "<marquee" not in svg
        assert "&lt;/script&gt;" in svg
        assert 'aria-label="&lt;/script&gt;' in svg


def test_every_chart_has_marks_and_there_are_all_five_kinds(hostile_page: str) -> None:
    svgs = re.findall(r'<svg class="plot".*?</svg>', hostile_page, re.S)
    ids = re.findall(r'<figure id="chart-([a-z-]+)"', hostile_page)
    assert ids == ["scores-legacy", "scores-strict", "heatmap-legacy", "heatmap-strict",
                   "legacy-strict", "speed", "time"]
    assert len(svgs) == len(ids)
    for key, svg in zip(ids, svgs, strict=True):
        assert svg.count('class="mark') > 0, key
    # 2 models x 3 iterations each a dot; 2 models x 5 levels a cell; 5 levels x 2 models a
    # bar plus 30 attempts' dots
    assert [svg.count('class="mark') for svg in svgs] == [6, 6, 10, 10, 6, 12, 40]


def test_long_texts_are_capped_and_link_the_attempt_file() -> None:
    long_answer = "A" * (TEXT_CAP + 5_000)
    report, attempts = hostile_report(hostile_sources(iterations=1, answer=long_answer))
    page = render_html(report, attempts)
    assert "A" * TEXT_CAP in page and "A" * (TEXT_CAP + 1) not in page
    assert "5,000 more characters not shown" in page
    assert 'href="attempts/alpha/iter1/L1.json"' in page


def test_the_page_stays_small_whatever_the_answers_weigh() -> None:
    huge = "x" * 200_000
    report, attempts = hostile_report(hostile_sources(iterations=5, answer=huge, code=huge))
    page = render_html(report, attempts)
    # 50 attempts x 3 texts x 200 kB would be 30 MB; the caps keep the page near the budget
    assert len(page.encode()) < PAGE_TEXT_BUDGET + 700_000
    assert page.count("Not inline (the page holds at most") > 0
    # every attempt is still reachable: its anchor, with its file linked
    assert all(f'id="a{i}"' in page for i in range(50))


def test_links_to_attempt_files_are_percent_encoded() -> None:
    assert page_module.href('attempts/m"x/iter1/L1.json') == "attempts/m%22x/iter1/L1.json"
    assert page_module.href("javascript:alert(1)") == "javascript%3Aalert%281%29"


def test_an_infra_error_and_a_legacy_only_run_still_render() -> None:
    from worker.records import AttemptStatus, InfraStage

    [source] = hostile_sources(iterations=2)
    attempts = dict(source.attempts)
    broken = next(u for u in attempts if u.model == "beta" and u.iteration == 2
                  and u.level.value == "L3")
    attempts[broken] = attempts[broken].model_copy(update={
        "status": AttemptStatus.INFRA_ERROR, "infra_stage": InfraStage.SCORE, "report": None,
        "error": f"sandbox down {HOSTILE}"})
    # one record without strict points: the report shows legacy only
    first = next(iter(attempts))
    legacy_only = attempts[first].report.model_copy(update={"scores": {"legacy": 25.0}})
    attempts[first] = attempts[first].model_copy(update={"report": legacy_only})
    report, by_key = hostile_report([type(source)(run=source.run, attempts=attempts)])
    page = render_html(report, by_key)
    parsed = parse(page)
    visible = "".join(parsed.text)
    assert "beta: iteration(s) 2 incomplete" in visible
    assert f"Error: sandbox down {HOSTILE}" in visible
    assert "infra error" in visible  # its failure cause, in the levels and attempts tables
    ids = re.findall(r'<figure id="chart-([a-z-]+)"', page)
    assert ids == ["scores-legacy", "heatmap-legacy", "speed", "time"]
    assert "img" not in [t for t, _ in parsed.elements]
