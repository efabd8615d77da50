"""Hand-made inline SVG charts for report.html: strings only, no dependency, no script.

Every text that reaches the markup (labels, tooltips) goes through `esc` (html.escape with
quote=True), so a model's name or any other text can never close an element or an attribute.
Colours come from classes (`c0` .. `c9` for models, in the page's one <style> block) or from
presentation attributes (`fill="#..."`, computed here), never from style attributes, which
the page's Content-Security-Policy refuses. Each chart is one `<svg class="plot">` whose data
marks carry the class `mark` (the browser check counts them).
"""

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

PALETTE_SIZE = 10
"""Model colour classes c0 .. c9 (the page's stylesheet defines them); more models cycle."""

FONT = 12


def esc(value: object) -> str:
    """Text or attribute value, escaped (quotes included)."""
    return escape(str(value), quote=True)


def fmt(value: float, digits: int = 1) -> str:
    """A coordinate or a label number: no trailing zeros, no exponent."""
    text = f"{value:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


@dataclass(frozen=True)
class Scale:
    """Linear map of the domain [d0, d1] onto the range [r0, r1]."""

    d0: float
    d1: float
    r0: float
    r1: float

    def __call__(self, value: float) -> float:
        span = self.d1 - self.d0
        if span == 0:
            return (self.r0 + self.r1) / 2
        return self.r0 + (value - self.d0) / span * (self.r1 - self.r0)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (about `count` of them)."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0]
    if high <= low:
        high = low + 1
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def nice_max(value: float) -> float:
    """The smallest round tick at or above `value` (at least 1)."""
    return nice_ticks(0, max(value, 1e-9))[-1] if value > 0 else 1.0


@dataclass
class Figure:
    """An SVG canvas collecting elements; `render` wraps them."""

    width: int
    height: int
    label: str
    """Accessible name and <title> of the chart."""
    parts: list[str] = field(default_factory=list)

    def add(self, markup: str) -> None:
        self.parts.append(markup)

    def text(self, x: float, y: float, content: str, anchor: str = "start",
             cls: str = "lbl", rotate: float | None = None) -> None:
        transform = (f' transform="rotate({fmt(rotate)} {fmt(x)} {fmt(y)})"'
                     if rotate is not None else "")
        self.add(f'<text x="{fmt(x)}" y="{fmt(y)}" text-anchor="{esc(anchor)}" '
                 f'class="{esc(cls)}"{transform}>{esc(content)}</text>')

    def line(self, x1: float, y1: float, x2: float, y2: float, cls: str) -> None:
        self.add(f'<line x1="{fmt(x1)}" y1="{fmt(y1)}" x2="{fmt(x2)}" y2="{fmt(y2)}" '
                 f'class="{esc(cls)}"/>')

    def rect(self, x: float, y: float, w: float, h: float, cls: str, tip: str | None = None,
             fill: str | None = None) -> None:
        fill_attr = f' fill="{esc(fill)}"' if fill else ""
        body = f"<title>{esc(tip)}</title>" if tip else ""
        self.add(f'<rect x="{fmt(x)}" y="{fmt(y)}" width="{fmt(max(w, 0))}" '
                 f'height="{fmt(max(h, 0))}" class="{esc(cls)}"{fill_attr}>{body}</rect>')

    def circle(self, x: float, y: float, r: float, cls: str, tip: str | None = None) -> None:
        body = f"<title>{esc(tip)}</title>" if tip else ""
        self.add(f'<circle cx="{fmt(x)}" cy="{fmt(y)}" r="{fmt(r)}" '
                 f'class="{esc(cls)}">{body}</circle>')

    def square(self, x: float, y: float, r: float, cls: str, tip: str | None = None) -> None:
        self.rect(x - r, y - r, 2 * r, 2 * r, cls, tip)

    def render(self) -> str:
        return (f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" role="img" '
                f'viewBox="0 0 {self.width} {self.height}" width="{self.width}" '
                f'height="{self.height}" aria-label="{esc(self.label)}">'
                f"<title>{esc(self.label)}</title>{''.join(self.parts)}</svg>")


def model_class(index: int) -> str:
    return f"c{index % PALETTE_SIZE}"


def short(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def x_axis(fig: Figure, scale: Scale, ticks: Sequence[float], y: float, top: float,
           title: str, grid: bool = True) -> None:
    fig.line(scale.r0, y, scale.r1, y, "axis")
    for tick in ticks:
        x = scale(tick)
        if grid:
            fig.line(x, top, x, y, "grid")
        fig.text(x, y + 14, fmt(tick), "middle", "tick")
    fig.text((scale.r0 + scale.r1) / 2, y + 30, title, "middle", "axt")


def y_axis(fig: Figure, scale: Scale, ticks: Sequence[float], x: float, right: float,
           title: str) -> None:
    fig.line(x, scale.r0, x, scale.r1, "axis")
    for tick in ticks:
        y = scale(tick)
        fig.line(x, y, right, y, "grid")
        fig.text(x - 5, y + 4, fmt(tick), "end", "tick")
    fig.text(14, (scale.r0 + scale.r1) / 2, title, "middle", "axt", rotate=-90)


# --- chart types ----------------------------------------------------------------------------

@dataclass(frozen=True)
class DotRow:
    """One model's totals on one row: each iteration a point, the mean and its interval."""

    label: str
    colour: int
    values: list[float]
    tips: list[str]
    mean: float | None
    interval: tuple[float, float] | None


def dot_rows(rows: Sequence[DotRow], maximum: float, bands: Sequence[tuple[float, str]],
             label: str) -> str:
    """Strip plot: a row per model, every iteration a dot; bands shaded behind."""
    left, right, top, row_h = 170, 20, 26, 34
    width = 560
    height = top + row_h * max(len(rows), 1) + 44
    fig = Figure(width, height, label)
    x = Scale(0, maximum, left, width - right)
    bottom = top + row_h * max(len(rows), 1)
    low = 0.0
    for index, (upper, name) in enumerate(bands):
        high = min(upper, maximum)
        fig.rect(x(low), top, x(high) - x(low), bottom - top, f"band b{index % 2}",
                 f"{name}: {fmt(low)} to {fmt(high)}")
        fig.text((x(low) + x(high)) / 2, top - 6, name, "middle", "bandt")
        low = high
    x_axis(fig, x, nice_ticks(0, maximum), bottom, top, "total points per iteration")
    for index, row in enumerate(rows):
        y = top + row_h * index + row_h / 2
        fig.text(left - 8, y + 4, short(row.label), "end")
        if row.interval is not None:
            fig.line(x(row.interval[0]), y, x(row.interval[1]), y, "ci")
            for end in row.interval:
                fig.line(x(end), y - 5, x(end), y + 5, "ci")
        for i, (value, tip) in enumerate(zip(row.values, row.tips, strict=True)):
            jitter = ((i % 5) - 2) * 2.5
            fig.circle(x(value), y + jitter, 5, f"mark dot {model_class(row.colour)}", tip)
        if row.mean is not None:
            fig.line(x(row.mean), y - 12, x(row.mean), y + 12, "meanmark")
    return fig.render()


@dataclass(frozen=True)
class Cell:
    value: float | None
    """0..1, or None for no data."""
    text: str
    tip: str


def _sequential(value: float) -> str:
    """A colour-blind-safe sequential ramp (viridis-like) for 0..1."""
    stops = ((0.0, (68, 1, 84)), (0.25, (59, 82, 139)), (0.5, (33, 145, 140)),
             (0.75, (94, 201, 98)), (1.0, (253, 231, 37)))
    value = min(max(value, 0.0), 1.0)
    for (a, ca), (b, cb) in itertools.pairwise(stops):
        if value <= b:
            t = (value - a) / (b - a)
            rgb = tuple(round(p + (q - p) * t) for p, q in zip(ca, cb, strict=True))
            return "#{:02x}{:02x}{:02x}".format(*rgb)
    return "#fde725"


def heatmap(columns: Sequence[str], rows: Sequence[str], cells: Sequence[Sequence[Cell]],
            label: str) -> str:
    """Rows (models) x columns (levels), each cell coloured by its 0..1 value."""
    left, top, cell_w, cell_h = 170, 26, 64, 34
    width = left + cell_w * max(len(columns), 1) + 20
    height = top + cell_h * max(len(rows), 1) + 14
    fig = Figure(width, height, label)
    for j, name in enumerate(columns):
        fig.text(left + cell_w * j + cell_w / 2, top - 8, name, "middle", "axt")
    for i, name in enumerate(rows):
        y = top + cell_h * i
        fig.text(left - 8, y + cell_h / 2 + 4, short(name), "end")
        for j, cell in enumerate(cells[i]):
            x = left + cell_w * j
            if cell.value is None:
                fig.rect(x + 1, y + 1, cell_w - 2, cell_h - 2, "mark nodata", cell.tip)
                fig.text(x + cell_w / 2, y + cell_h / 2 + 4, cell.text, "middle", "tick")
                continue
            fig.rect(x + 1, y + 1, cell_w - 2, cell_h - 2, "mark cell", cell.tip,
                     fill=_sequential(cell.value))
            fig.text(x + cell_w / 2, y + cell_h / 2 + 4, cell.text, "middle",
                     "cellt dark" if cell.value > 0.6 else "cellt light")
    return fig.render()


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    colour: int
    tip: str
    hollow: bool = False
    """Drawn as a ring (the legend says what that means)."""


def scatter(points: Sequence[Point], x_max: float, y_max: float, x_title: str, y_title: str,
            label: str, diagonal: bool = False) -> str:
    """Points on two linear axes from 0; with `diagonal`, the line y = x."""
    left, right, top, bottom_pad = 56, 20, 16, 44
    width, height = 420, 320
    x = Scale(0, x_max, left, width - right)
    y = Scale(0, y_max, height - bottom_pad, top)
    fig = Figure(width, height, label)
    x_axis(fig, x, nice_ticks(0, x_max), height - bottom_pad, top, x_title)
    y_axis(fig, y, nice_ticks(0, y_max), left, width - right, y_title)
    if diagonal:
        end = min(x_max, y_max)
        fig.line(x(0), y(0), x(end), y(end), "diag")
    for p in points:
        cls = f"mark {'ring' if p.hollow else 'dot'} {model_class(p.colour)}"
        fig.circle(x(p.x), y(p.y), 5, cls, p.tip)
    return fig.render()


@dataclass(frozen=True)
class BarGroup:
    """One category (a level): a bar per model, plus each attempt's value as a point."""

    name: str
    bars: list[tuple[int, float | None, str]]
    """(model colour, mean or None, tooltip) per model, in model order."""
    points: list[tuple[int, int, float, str]]
    """(bar index, colour, value, tooltip) of each attempt."""


def grouped_bars(groups: Sequence[BarGroup], y_title: str, label: str) -> str:
    """Bars grouped by category, every attempt overlaid as a point on its model's bar."""
    left, right, top, bottom_pad = 56, 20, 16, 44
    per_group = max((len(g.bars) for g in groups), default=1)
    group_w = max(60, 26 * per_group + 16)
    width = left + group_w * max(len(groups), 1) + right
    height = 300
    values = [v for g in groups for _, v, _ in g.bars if v is not None]
    values += [v for g in groups for *_, v, _ in g.points]
    y_max = nice_max(max(values, default=0.0))
    y = Scale(0, y_max, height - bottom_pad, top)
    fig = Figure(width, height, label)
    y_axis(fig, y, nice_ticks(0, y_max), left, width - right, y_title)
    bar_w = (group_w - 16) / per_group
    for g_index, group in enumerate(groups):
        x0 = left + group_w * g_index + 8
        fig.text(x0 + (group_w - 16) / 2, height - bottom_pad + 16, group.name, "middle",
                 "axt")
        for b_index, (colour, value, tip) in enumerate(group.bars):
            if value is None:
                continue
            fig.rect(x0 + bar_w * b_index + 2, y(value), bar_w - 4, y(0) - y(value),
                     f"mark bar {model_class(colour)}", tip)
        for b_index, colour, value, tip in group.points:
            cx = x0 + bar_w * b_index + bar_w / 2
            fig.circle(cx, y(value), 3.5, f"mark pt {model_class(colour)}", tip)
    fig.line(left, y(0), width - right, y(0), "axis")
    return fig.render()
