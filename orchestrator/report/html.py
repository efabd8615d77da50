"""report.html: one self-contained page (no network, inline SVG) of a `Report`.

Model answers are hostile text. Every text and attribute value that reaches the page goes
through `esc` (html.escape with quote=True); the page's only script is the constant
`SCRIPT` (it reads the DOM, no data is ever put into it), and the Content-Security-Policy
meta tag allows exactly it and the constant `STYLE` by their sha256 hashes, and nothing from
the network (`default-src 'none'`). So an answer holding `</script><script>...` or
`<img onerror=...>` shows as text, and would stay inert even if escaping were ever missed.

Long texts (prompt, answer, reasoning, code) are folded in <details>; each is inline up to
`TEXT_CAP` characters, the page's inline texts add up to at most `PAGE_TEXT_BUDGET`, and
beyond either the attempt's file beside the page (`AttemptRow.attempt_file`) has the rest.
Charts: `plots.py` (hand-made SVG, `svg.py`).
"""

import base64
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from challenge.levels import Profile
from orchestrator.levelstats import CAUSE_LABELS, FailureCause
from orchestrator.report.model import ModelReport, Report
from orchestrator.report.plots import charts
from orchestrator.report.rows import AttemptRow
from orchestrator.report.svg import PALETTE_SIZE, esc, fmt
from worker.records import Attempt

AttemptKey = tuple[str, str, int, str]
"""(run_id, model, iteration, level name) of an attempt, as in its row."""

TEXT_CAP = 12_000
"""Characters of one long text (prompt, answer, reasoning, a code file) shown inline."""
PAGE_TEXT_BUDGET = 1_000_000
"""Characters of long texts inline on the whole page; later attempts link their file only."""
MESSAGE_CAP = 400
"""Characters of one test's failure message."""

COLOURS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442",
           "#000000", "#999999", "#882255")
"""Okabe-Ito (colour-blind safe) plus two; model i gets COLOURS[i % 10]."""
assert len(COLOURS) == PALETTE_SIZE

STYLE = (
    "body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1240px;padding:0 16px 40px;"
    "color:#1b1b1b;background:#fff}"
    "h1{font-size:22px;margin:18px 0 4px}h2{font-size:18px;margin:28px 0 8px;"
    "border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}"
    ".meta{color:#555;margin:0 0 10px}"
    ".warn{border:2px solid #b00020;background:#fff1f1;padding:8px 14px;margin:12px 0}"
    ".warn h2{border:0;margin:4px 0;color:#b00020;font-size:16px}"
    ".note{border-left:4px solid #0072b2;background:#f2f7fb;padding:6px 12px;margin:10px 0}"
    ".charts{display:flex;flex-wrap:wrap;gap:18px}"
    "figure{margin:0;border:1px solid #e3e3e3;padding:8px;background:#fff}"
    "figcaption{font-weight:600;margin-bottom:4px}figure p{margin:4px 0 0;color:#555;"
    "font-size:12px;max-width:540px}"
    ".legend{margin:8px 0}.legend span{display:inline-block;margin-right:14px}"
    ".sw{display:inline-block;width:11px;height:11px;margin-right:5px;vertical-align:-1px;"
    "border-radius:2px}"
    "svg text{font:12px system-ui,sans-serif;fill:#222}svg .tick{font-size:11px;fill:#555}"
    "svg .bandt{font-size:10px;fill:#666}"
    "svg .axt{font-size:12px;fill:#333}svg .axis{stroke:#444}"
    "svg .grid{stroke:#e8e8e8}svg .band.b0{fill:#f6f6f6}svg .band.b1{fill:#ececec}"
    "svg .ci{stroke:#333;stroke-width:1.5}"
    "svg .meanmark{stroke:#111;stroke-width:2;stroke-opacity:.75}"
    "svg .dot{stroke:#fff;stroke-width:1;fill-opacity:.9}svg .ring{fill:#fff;stroke-width:2.2}"
    "svg .diag{stroke:#888;stroke-dasharray:4 3}svg .pt{fill:#fff;stroke:#222;stroke-width:1.2}"
    "svg .nodata{fill:#ddd}svg .cellt.dark{fill:#111}svg .cellt.light{fill:#fff}"
    + "".join(f".c{i}{{fill:{c};stroke:{c}}}.sw.c{i}{{background:{c}}}"
              for i, c in enumerate(COLOURS))
    + "svg .dot.c0,svg .dot.c1,svg .dot.c2,svg .dot.c3,svg .dot.c4,svg .dot.c5,svg .dot.c6,"
    "svg .dot.c7,svg .dot.c8,svg .dot.c9{stroke:#fff}"
    "svg .ring.c0,svg .ring.c1,svg .ring.c2,svg .ring.c3,svg .ring.c4,svg .ring.c5,"
    "svg .ring.c6,svg .ring.c7,svg .ring.c8,svg .ring.c9{fill:#fff}"
    "table{border-collapse:collapse;margin:6px 0 14px;font-size:13px}"
    "caption{text-align:left;font-weight:600;padding:2px 0}"
    "th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}thead th{background:#f3f3f3}"
    "th button{font:inherit;font-weight:600;border:0;background:none;padding:0;cursor:pointer}"
    "th[aria-sort=ascending] button::after{content:' \\25B2'}"
    "th[aria-sort=descending] button::after{content:' \\25BC'}"
    ".wrap{overflow-x:auto}"
    "details{margin:4px 0}details>summary{cursor:pointer}"
    "details.attempt{border:1px solid #e3e3e3;padding:4px 8px}"
    "details.attempt[open]{background:#fcfcfc}"
    "pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:8px;"
    "max-height:480px;overflow:auto;font-size:12px;margin:4px 0}"
    ".ok{color:#116611}.bad{color:#b00020}.muted{color:#666}"
    ":target{outline:2px solid #e69f00}"
)

SCRIPT = """\
(function () {
  "use strict";
  function key(cell) {
    var v = cell.getAttribute("data-v");
    if (v !== null) { return v === "" ? null : parseFloat(v); }
    return cell.textContent.trim().toLowerCase();
  }
  function compare(a, b, dir) {
    if (a === null && b === null) { return 0; }
    if (a === null) { return 1; }
    if (b === null) { return -1; }
    if (typeof a === "number" && typeof b === "number") { return (a - b) * dir; }
    return String(a).localeCompare(String(b), undefined, {numeric: true}) * dir;
  }
  function sortBy(table, th) {
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    Array.prototype.forEach.call(th.parentNode.children, function (other) {
      other.setAttribute("aria-sort", "none");
    });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r1, r2) {
      return compare(key(r1.cells[index]), key(r2.cells[index]), dir);
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("thead th").forEach(function (th) {
      var button = th.querySelector("button");
      if (button) { button.addEventListener("click", function () { sortBy(table, th); }); }
    });
  });
  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id ? document.getElementById(id) : null;
    var target = el;
    while (el) {
      if (el.tagName === "DETAILS") { el.open = true; }
      el = el.parentElement;
    }
    if (target) { target.scrollIntoView(); }
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
})();
"""


def csp_hash(text: str) -> str:
    """The CSP source expression allowing an inline element whose content is `text`."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


CSP = ("default-src 'none'; "
       f"script-src {csp_hash(SCRIPT)}; "
       f"style-src {csp_hash(STYLE)}; "
       "img-src 'none'; connect-src 'none'; font-src 'none'; object-src 'none'; "
       "frame-src 'none'; base-uri 'none'; form-action 'none'")
"""No network at all; the page's own script and style only, by hash. (frame-ancestors and
report-uri are not allowed in a meta tag, so they are not here.)"""


# --- small helpers --------------------------------------------------------------------------

@dataclass(frozen=True)
class TD:
    """A table cell: its text, and the value it sorts by (None: sorts by text; NaN: empty,
    last)."""

    text: str
    sort: float | None = None
    cls: str = ""
    html: str | None = None
    """Markup already escaped (a link); `text` is then ignored."""

    def render(self) -> str:
        attrs = ""
        if self.sort is not None:
            attrs += ' data-v=""' if math.isnan(self.sort) else f' data-v="{self.sort!r}"'
        if self.cls:
            attrs += f' class="{esc(self.cls)}"'
        body = self.html if self.html is not None else esc(self.text)
        return f"<td{attrs}>{body}</td>"


def num(value: float | None, digits: int = 1, suffix: str = "") -> TD:
    if value is None:
        return TD("–", math.nan, "n")
    return TD(fmt(float(value), digits) + suffix, float(value), "n")


def pct(value: float | None) -> TD:
    if value is None:
        return TD("–", math.nan, "n")
    return TD(f"{value:.0%}", float(value), "n")


def table(headers: Sequence[str], rows: Sequence[Sequence[TD]], caption: str = "",
          sortable: bool = True, table_id: str = "") -> str:
    head = "".join(
        f'<th scope="col" aria-sort="none"><button type="button">{esc(h)}</button></th>'
        if sortable else f'<th scope="col">{esc(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(cell.render() for cell in row) + "</tr>" for row in rows)
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    ident = f' id="{esc(table_id)}"' if table_id else ""
    cls = ' class="sortable"' if sortable else ""
    return (f'<div class="wrap"><table{cls}{ident}>{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def duration(ms: int) -> str:
    if ms <= 0:
        return "–"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def href(path: str) -> str:
    """A relative file link, percent-encoded (so no scheme or quote can sneak in), escaped."""
    return esc(quote(path, safe="/."))


# --- sections -------------------------------------------------------------------------------

NAV = ('<nav class="meta"><a href="#charts">Charts</a> · <a href="#tables">Tables</a> · '
       '<a href="#attempts-h">Attempts</a></nav>')


def _header(report: Report) -> str:
    profiles = ", ".join(p.value for p in report.profiles)
    return (f"<h1>{esc(report.title)}</h1>"
            f'<p class="meta">Runs {esc(", ".join(report.run_ids))} · '
            f"{len(report.models)} model(s) · profiles {esc(profiles)} · generated "
            f"{esc(report.generated_at.strftime('%Y-%m-%d %H:%M:%S %Z').strip())}</p>")


def _warnings(report: Report) -> str:
    notes = list(report.warnings)
    for model in report.models:
        for profile, pr in model.profiles.items():
            if pr.statistics.incomplete and profile is report.profiles[0]:
                its = ", ".join(str(i.iteration) for i in pr.statistics.incomplete)
                notes.append(f"{model.model}: iteration(s) {its} incomplete (not scored at "
                             "every level); the statistics leave them out")
    if not notes:
        return ""
    items = "".join(f"<li>{esc(n)}</li>" for n in notes)
    return (f'<section class="warn" role="alert" id="warnings"><h2>Warnings '
            f"({len(notes)})</h2><ul>{items}</ul></section>")


def _notes(report: Report) -> str:
    return (
        '<div class="note"><p><b>How to read these numbers.</b> Totals are over complete '
        "iterations only. Std dev is the sample standard deviation; the mean's interval is a "
        "95 % Student t interval. A level passes in an iteration when it gets its full "
        "points; its pass rate has a 95 % Wilson interval, and pass@k is the unbiased "
        "estimate that at least one of k attempts passes. <b>L2 and L3 depend on the same "
        "iteration's earlier code</b> (their prompts embed it), so their pass rates are "
        "conditional on that code, not independent draws. Score bands are the original's: "
        "Weak under 25, Average 25–50, Good 50–75, Excellent 75–90, Expert 90 and above "
        "(a shared edge belongs to the upper band).</p></div>")


def _legend(report: Report) -> str:
    items = "".join(f'<span><i class="sw c{i % PALETTE_SIZE}"></i>{esc(m.model)}</span>'
                    for i, m in enumerate(report.models))
    return f'<div class="legend">{items}</div>'


def _charts(report: Report) -> str:
    figures = "".join(
        f'<figure id="chart-{esc(c.key)}"><figcaption>{esc(c.title)}</figcaption>{c.svg}'
        f"<p>{esc(c.note)}</p></figure>" for c in charts(report))
    return f'<h2 id="charts">Charts</h2>{_legend(report)}<div class="charts">{figures}</div>'


def _summary(report: Report, profile: Profile) -> str:
    headers = ["Model", "Best", "Avg", "Std dev", "Mean 95% CI", "Min", "Max", "Spread",
               *[lv.value for lv in report.levels], "Scores (band)", "Iterations", "Time",
               "Tokens/s"]
    rows = []
    for model in report.models:
        s = model.profiles[profile].statistics
        best = {b.level: b for b in s.best_levels}
        spread = (float(s.max_score) - float(s.min_score)
                  if s.max_score is not None and s.min_score is not None else None)
        ci = s.mean_ci95
        bands = s.score_bands or [""] * len(s.all_scores)
        scores = ", ".join(fmt(float(v)) + (f" ({b})" if b else "")
                           for v, b in zip(s.all_scores, bands, strict=True))
        rows.append([
            TD(model.model), num(s.best_score), num(s.avg_score), num(s.std_dev),
            TD(f"[{fmt(ci[0])}, {fmt(ci[1])}]", ci[0], "n") if ci else TD("–", math.nan, "n"),
            num(s.min_score), num(s.max_score), num(spread),
            *[num(best[lv].points) if lv in best else num(None) for lv in report.levels],
            TD(scores or "–"),
            TD(f"{len(s.complete_iterations)}/{s.iterations}", len(s.complete_iterations), "n"),
            TD(duration(s.total_duration_ms), s.total_duration_ms / 1000 or math.nan, "n"),
            num(model.mean_tokens_per_s, 0),
        ])
    return table(headers, rows, f"Summary and variance, {profile.value} (L1..L5: the best "
                 f"iteration's points, out of {max_points_text(report, profile)})")


def max_points_text(report: Report, profile: Profile) -> str:
    for model in report.models:
        return str(model.profiles[profile].statistics.max_points)
    return "100"


def _levels(report: Report, profile: Profile) -> str:
    k_max = max((ls.scored for m in report.models for ls in m.profiles[profile].levels),
                default=0)
    headers = ["Model", "Level", "Pass rate", "95% Wilson", "Full/scored",
               *[f"pass@{k}" for k in range(1, k_max + 1)], "Mean points",
               "Completion tokens", "Tokens/s", "Model time (s)", "Failure causes"]
    rows = []
    for model in report.models:
        for ls in model.profiles[profile].levels:
            ci = ls.pass_rate_ci95
            causes = ", ".join(f"{CAUSE_LABELS[c]} ×{n}" for c, n in ls.causes.items())
            rows.append([
                TD(model.model), TD(ls.level.value), pct(ls.pass_rate),
                TD(f"[{ci[0]:.0%}, {ci[1]:.0%}]", ci[0], "n") if ci else TD("–", math.nan,
                                                                              "n"),
                TD(f"{ls.full_points}/{ls.scored}", ls.full_points, "n"),
                *[pct(ls.pass_at_k.get(k)) for k in range(1, k_max + 1)],
                num(ls.mean_points), num(ls.completion_tokens, 0), num(ls.tokens_per_s, 0),
                num(ls.model_time_s, 2), TD(causes or "–"),
            ])
    return table(headers, rows, f"Levels, {profile.value}: pass rate = iterations with the "
                 "level's full points (L2 and L3 conditional on the iteration's earlier code)")


def _causes(report: Report, profile: Profile) -> str:
    present = [c for c in FailureCause
               if any(c in ls.causes for m in report.models for ls in m.profiles[profile].levels)]
    if not present:
        return f"<p>No failures under {esc(profile.value)}: every attempt got full points.</p>"
    rows = []
    for model in report.models:
        for ls in model.profiles[profile].levels:
            if ls.causes:
                rows.append([TD(model.model), TD(ls.level.value),
                             *[num(ls.causes.get(c, 0), 0) for c in present]])
    return table(["Model", "Level", *[CAUSE_LABELS[c] for c in present]], rows,
                 f"Failure causes, {profile.value} (attempts without full points, by first "
                 "cause)")


def _anchor(index: int) -> str:
    return f"a{index}"


def _attempts_table(report: Report) -> str:
    headers = ["#", "Model", "Iter", "Level", "Status", "Legacy", "Strict", "Cause",
               "Finish", "Tokens", "Tokens/s", "Model s", "Score s", "Details"]
    rows = []
    for index, row in enumerate(report.rows):
        cause = row.strict_cause or row.legacy_cause
        link = (f'<a href="#{_anchor(index)}">open</a> · '
                f'<a href="{href(row.attempt_file)}">file</a>')
        rows.append([
            num(index + 1, 0), TD(row.model), num(row.iteration, 0), TD(row.level),
            TD(row.status), num(row.legacy_points), num(row.strict_points),
            TD(CAUSE_LABELS[FailureCause(cause)] if cause else "–"), TD(row.finish_reason or "–"),
            num(row.completion_tokens, 0), num(row.tokens_per_s, 0), num(row.model_time_s, 2),
            num(row.score_time_s, 1), TD("", html=link),
        ])
    return table(headers, rows, "Every attempt (open: its prompt, answer, code and tests "
                 "below; file: the full record beside this page)", table_id="attempts")


class _Budget:
    """What is left of PAGE_TEXT_BUDGET."""

    def __init__(self, total: int) -> None:
        self.left = total

    def take(self, size: int) -> int:
        granted = min(size, self.left)
        self.left -= granted
        return granted


def _text_block(name: str, text: str, row: AttemptRow, budget: _Budget) -> str:
    """A folded long text: inline up to the caps, the attempt file beyond them."""
    if not text:
        return ""
    shown = budget.take(min(len(text), TEXT_CAP))
    more = ""
    if shown < len(text):
        more = (f'<p class="muted">{len(text) - shown:,} more characters not shown: the whole '
                f'text is in <a href="{href(row.attempt_file)}">the attempt file</a>.</p>')
    pre = f"<pre>{esc(text[:shown])}</pre>" if shown else ""
    return (f"<details><summary>{esc(name)} ({len(text):,} characters)</summary>"
            f"{pre}{more}</details>")


def _tests(attempt: Attempt, failed_only: bool = False) -> str:
    """The attempt's test outcomes, folded (`failed_only`: the others only counted)."""
    tests = attempt.tests
    if not tests:
        return '<p class="muted">No tests ran.</p>'
    rows = []
    for t in tests:
        if failed_only and t.outcome == "passed":
            continue
        message = t.message if len(t.message) <= MESSAGE_CAP else t.message[:MESSAGE_CAP] + "…"
        rows.append([TD(t.profile.value), TD(t.id),
                     TD(t.outcome, cls="ok" if t.outcome == "passed" else "bad"),
                     TD(t.cause or ""), TD(message)])
    failed = sum(t.outcome != "passed" for t in tests)
    shown = " (the failed ones below)" if failed_only else ""
    return (f"<details><summary>Tests: {len(tests) - failed} of {len(tests)} passed "
            f"(both profiles){shown}</summary>"
            + table(["Profile", "Test", "Outcome", "Cause", "Message"], rows, sortable=False)
            + "</details>")


def _attempt(index: int, row: AttemptRow, attempt: Attempt | None, budget: _Budget) -> str:
    points = " / ".join(f"{p} {fmt(v)}" for p, v in (("legacy", row.legacy_points),
                                                     ("strict", row.strict_points))
                        if v is not None)
    title = (f"#{index + 1} {row.model} · iteration {row.iteration} · {row.level} · "
             f"{row.status}" + (f" · {points}" if points else ""))
    parts = [f'<p><a href="{href(row.attempt_file)}">Attempt file</a> (the full record: '
             "request, timings, outputs)</p>"]
    if row.error:
        parts.append(f'<p class="bad">Error: {esc(row.error)}</p>')
    if attempt is None:
        parts.append('<p class="muted">The record was not loaded with this report.</p>')
    elif budget.left <= 0:
        parts.append('<p class="muted">Not inline (the page holds at most '
                     f"{PAGE_TEXT_BUDGET:,} characters of texts): see the attempt file.</p>")
        parts.append(_tests(attempt, failed_only=True))
    else:
        parts.append(_text_block("Prompt", attempt.prompt, row, budget))
        if attempt.reasoning_content:
            parts.append(_text_block("Reasoning", attempt.reasoning_content, row, budget))
        parts.append(_text_block("Answer", attempt.answer, row, budget))
        seen: dict[str, str] = {}
        for profile, files in attempt.extracted.items():
            for path, code in files.items():
                if seen.get(path) == code:
                    parts.append(f'<p class="muted">Code {esc(path)} ({esc(profile)}): the '
                                 "same as above.</p>")
                    continue
                seen[path] = code
                parts.append(_text_block(f"Code {path} ({profile})", code, row, budget))
        parts.append(_tests(attempt))
    return (f'<details class="attempt" id="{_anchor(index)}"><summary>{esc(title)}</summary>'
            + "".join(parts) + "</details>")


def _attempt_details(report: Report, attempts: Mapping[AttemptKey, Attempt]) -> str:
    budget = _Budget(PAGE_TEXT_BUDGET)
    return "".join(
        _attempt(i, row, attempts.get((row.run_id, row.model, row.iteration, row.level)),
                 budget)
        for i, row in enumerate(report.rows))


def _model_rows(models: Sequence[ModelReport]) -> str:
    return "".join(f"<li>{esc(m.model)}: runs {esc(', '.join(m.run_ids))}</li>" for m in models)


def render_html(report: Report, attempts: Mapping[AttemptKey, Attempt]) -> str:
    """The whole page as one string."""
    sections = [_header(report), NAV, _warnings(report), _notes(report), _charts(report),
                '<h2 id="tables">Tables</h2>']
    for profile in report.profiles:
        sections += [f"<h3>{esc(profile.value.capitalize())}</h3>", _summary(report, profile),
                     _levels(report, profile), _causes(report, profile)]
    sections += ['<h2 id="attempts-h">Attempts</h2>', _attempts_table(report),
                 "<h3>Each attempt</h3>", _attempt_details(report, attempts),
                 f"<h2>Models</h2><ul>{_model_rows(report.models)}</ul>"]
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(report.title)}</title><style>{STYLE}</style></head><body>"
            + "".join(sections)
            + f"<script>{SCRIPT}</script></body></html>\n")
