"""Plain SVG charts, written as text: line, scatter, timeline (Gantt), heatmap, bars.

Why our own ~300 lines rather than matplotlib: the report is one HTML file with
the charts inline, and inline SVG from our code is small (no embedded fonts or
clip paths), deterministic, needs no new dependency (matplotlib would pull in a
font cache and a backend for five simple charts), and lets every mark carry the
exact number it shows (``data-value``), so tests and readers can check them.

Every chart is an ``<svg class="chart">`` whose marks are in a ``<g class="plot">``;
every text is escaped; hovering a mark shows its ``<title>`` (no script needed).

Example:
    >>> svg = line_chart([Series("t0", "trial 0", [(1, 0.5), (2, 0.75)])], x_label="epoch", y_label="accuracy")
    >>> svg.startswith('<svg class="chart"') and 'data-value="0.75"' in svg
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

import attrs

__all__ = ["Series", "Point", "Bar", "PALETTE", "STATUS_COLOURS", "fmt", "num",
           "line_chart", "scatter_chart", "timeline_chart", "heatmap", "bar_chart"]

#: Categorical colours (Tableau 10), cycled over trials.
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
           "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")

#: A colour per trial state: Azure statuses, plus ``early-stopped`` and ``interrupted``.
STATUS_COLOURS = {"Completed": "#59a14f", "early-stopped": "#f28e2b", "Canceled": "#f28e2b",
                  "interrupted": "#9c755f", "Failed": "#e15759", "Running": "#4e79a7",
                  "NotStarted": "#bab0ac"}

_FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def e(text: object) -> str:
    """``text`` escaped for HTML and SVG, quotes included."""
    return escape(str(text), quote=True)


def num(value: float | int) -> str:
    """The exact value for a ``data-value`` attribute (``repr``, as ``summary.csv`` writes it)."""
    return repr(value)


def fmt(value: float | int | None, digits: int = 4) -> str:
    """A number for reading: integers as they are, others with ``digits`` decimals
    (or 4 significant digits when very small or large).

    Example:
        >>> fmt(0.811260), fmt(3), fmt(1.5e-05), fmt(None)
        ('0.8113', '3', '1.5e-05', '')
    """
    if value is None:
        return ""
    if isinstance(value, bool) or isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) < 10 ** -(digits - 1) or abs(value) >= 1e6):
        return f"{value:.{digits}g}"
    return f"{value:.{digits}f}"


@attrs.frozen
class Series:
    """One line of a line chart.

    Attributes:
        key: The trial id (``data-trial``).
        label: What its points' titles say.
        points: ``(x, y)`` pairs.
        colour: Stroke colour.
        dash: Draw it dashed.
        marker: When set, a cross on the last point with this text as its title (why it stopped).
        emphasis: Draw it thicker (the best trial).
    """

    key: str
    label: str
    points: Sequence[tuple[float, float]]
    colour: str = PALETTE[0]
    dash: bool = False
    marker: str | None = None
    emphasis: bool = False


@attrs.frozen
class Point:
    """One point of a scatter chart (``x`` a number, or a category string)."""

    key: str
    x: float | str
    y: float
    colour: str
    title: str


@attrs.frozen
class Bar:
    """One bar of a timeline: ``start``/``end`` in seconds from the origin."""

    key: str
    label: str
    start: float
    end: float
    state: str
    open: bool = False
    title: str = ""


# -- scales and axes ---------------------------------------------------------------
def _step(lo: float, hi: float, count: int = 5) -> float:
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    elif hi < lo:
        lo, hi = hi, lo
    step = _step(lo, hi, count)
    first = math.ceil(lo / step - 1e-9) * step
    ticks, k = [], 0
    while first + k * step <= hi + step * 1e-9:
        ticks.append(round(first + k * step, 12))
        k += 1
    return ticks


@attrs.frozen
class _Scale:
    lo: float
    hi: float
    a: float  # pixel of lo
    b: float  # pixel of hi
    log: bool = False

    @classmethod
    def fit(cls, values: Sequence[float], a: float, b: float, *, log: bool = False, pad: float = 0.0) -> _Scale:
        """A scale over ``values`` (widened to whole ticks when unpadded and linear)."""
        vals = [math.log10(v) for v in values if v > 0] if log else list(values)
        lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
        if hi == lo:
            lo, hi = lo - (abs(lo) * 0.1 or 0.5), hi + (abs(hi) * 0.1 or 0.5)
        if pad or log:
            span = hi - lo
            return cls(lo - span * pad, hi + span * pad, a, b, log)
        step = _step(lo, hi)  # widen to whole ticks
        return cls(math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step, a, b)

    def __call__(self, value: float) -> float:
        v = math.log10(value) if self.log else value
        return self.a + (v - self.lo) / (self.hi - self.lo) * (self.b - self.a)

    def ticks(self) -> list[float]:
        if self.log:
            decades = [10.0 ** k for k in range(math.ceil(self.lo - 1e-9), math.floor(self.hi + 1e-9) + 1)]
            return decades if len(decades) >= 2 else [10 ** t for t in _nice_ticks(self.lo, self.hi, 3)]
        return [t for t in _nice_ticks(self.lo, self.hi) if self.lo - 1e-9 <= t <= self.hi + 1e-9]


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" {_FONT}><title>{e(title)}</title>' + "".join(body) + "</svg>")


def _axes(x: _Scale, y: _Scale, x_label: str, y_label: str, *, x_ticks: bool = True,
          int_x: bool = False) -> list[str]:
    top, bottom, left, right = y.b, y.a, x.a, x.b
    out = ['<g class="axes" stroke="#ccc">']
    for t in y.ticks():
        py = y(t)
        out.append(f'<line x1="{left:.1f}" x2="{right:.1f}" y1="{py:.1f}" y2="{py:.1f}" stroke="#eee"/>'
                   f'<text x="{left - 4:.1f}" y="{py + 4:.1f}" text-anchor="end" stroke="none" fill="#555">'
                   f'{e(_tick(t))}</text>')
    if x_ticks:
        ticks = x.ticks()
        if int_x and len([t for t in ticks if float(t).is_integer()]) >= 2:
            ticks = [t for t in ticks if float(t).is_integer()]
        for t in ticks:
            px = x(t)
            out.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{bottom:.1f}" y2="{bottom + 4:.1f}"/>'
                       f'<text x="{px:.1f}" y="{bottom + 15:.1f}" text-anchor="middle" stroke="none" fill="#555">'
                       f'{e(_tick(t))}</text>')
    out.append(f'<line x1="{left:.1f}" x2="{right:.1f}" y1="{bottom:.1f}" y2="{bottom:.1f}" stroke="#888"/>'
               f'<line x1="{left:.1f}" x2="{left:.1f}" y1="{top:.1f}" y2="{bottom:.1f}" stroke="#888"/>'
               f'<text x="{(left + right) / 2:.1f}" y="{bottom + 30:.1f}" text-anchor="middle" stroke="none" '
               f'fill="#333">{e(x_label)}</text>'
               f'<text transform="translate({left - 42:.1f} {(top + bottom) / 2:.1f}) rotate(-90)" '
               f'text-anchor="middle" stroke="none" fill="#333">{e(y_label)}</text></g>')
    return out


def _tick(t: float) -> str:
    if t != 0 and (abs(t) < 1e-4 or abs(t) >= 1e5):
        return f"{t:.0e}"
    return f"{t:.6g}"


def _empty(width: int, height: int, title: str, text: str) -> str:
    return _svg(width, height, title, [f'<g class="plot"><text x="{width / 2}" y="{height / 2}" text-anchor="middle" '
                                       f'fill="#777">{e(text)}</text></g>'])


# -- charts ---------------------------------------------------------------------------
def line_chart(series: Sequence[Series], *, x_label: str, y_label: str, title: str = "",
               width: int = 900, height: int = 380) -> str:
    """Lines of ``(x, y)`` points, one per series; each point carries ``data-trial``, ``data-x``
    and ``data-value`` (its exact ``y``)."""
    xs = [p[0] for s in series for p in s.points]
    ys = [p[1] for s in series for p in s.points]
    if not xs:
        return _empty(width, height, title or y_label, "no evaluations yet")
    x = _Scale.fit(xs, 60, width - 20)
    y = _Scale.fit(ys, height - 45, 15)
    out = _axes(x, y, x_label, y_label, int_x=all(float(v).is_integer() for v in xs))
    out.append('<g class="plot">')
    for s in series:
        pts = " ".join(f"{x(px):.1f},{y(py):.1f}" for px, py in s.points)
        dash = ' stroke-dasharray="5 3"' if s.dash else ""
        out.append(f'<g class="series" data-trial="{e(s.key)}"><polyline fill="none" stroke="{s.colour}" '
                   f'stroke-width="{3 if s.emphasis else 1.5}"{dash} points="{pts}"><title>{e(s.label)}</title>'
                   '</polyline>')
        for px, py in s.points:
            out.append(f'<circle class="point" cx="{x(px):.1f}" cy="{y(py):.1f}" r="{3 if s.emphasis else 2.2}" '
                       f'fill="{s.colour}" data-trial="{e(s.key)}" data-x="{e(num(px))}" data-value="{e(num(py))}">'
                       f'<title>{e(s.label)}: {e(fmt(py))} at {e(x_label)} {e(fmt(px))}</title></circle>')
        if s.marker and s.points:
            px, py = x(s.points[-1][0]), y(s.points[-1][1])
            out.append(f'<path class="stop-marker" d="M{px - 5:.1f},{py - 5:.1f}L{px + 5:.1f},{py + 5:.1f}'
                       f'M{px - 5:.1f},{py + 5:.1f}L{px + 5:.1f},{py - 5:.1f}" stroke="{s.colour}" stroke-width="2.5" '
                       f'data-trial="{e(s.key)}"><title>{e(s.label)}: {e(s.marker)}</title></path>')
        out.append("</g>")
    out.append("</g>")
    return _svg(width, height, title or f"{y_label} per {x_label}", out)


def scatter_chart(points: Sequence[Point], *, x_label: str, y_label: str, log_x: bool = False,
                  width: int = 430, height: int = 270) -> str:
    """Points of ``(x, y)``; string ``x`` values are categories, in order of first appearance."""
    if not points:
        return _empty(width, height, f"{y_label} against {x_label}", "no scored trials yet")
    categorical = any(isinstance(p.x, str) for p in points)
    y = _Scale.fit([p.y for p in points], height - 45, 15, pad=0.05)
    if categorical:
        cats = list(dict.fromkeys(str(p.x) for p in points))
        step = (width - 80) / len(cats)
        pos = {c: 60 + step * (k + 0.5) for k, c in enumerate(cats)}
        x = _Scale(0, 1, 60, width - 20)
        out = _axes(x, y, x_label, y_label, x_ticks=False)
        for c, px in pos.items():
            label = c if len(c) <= 16 else c[:15] + "…"
            out.append(f'<text x="{px:.1f}" y="{height - 30:.1f}" text-anchor="middle" fill="#555">{e(label)}'
                       f'<title>{e(c)}</title></text>')
    else:
        x = _Scale.fit([float(p.x) for p in points], 60, width - 20, log=log_x, pad=0.05)
        out = _axes(x, y, x_label + (" (log scale)" if log_x else ""), y_label)
    out.append('<g class="plot">')
    seen: dict[str, int] = {}
    for p in points:
        if categorical:
            k = seen[str(p.x)] = seen.get(str(p.x), -1) + 1
            px = pos[str(p.x)] + ((k % 7) - 3) * 3.0  # a little spread so equal values stay visible
        else:
            px = x(float(p.x))
        out.append(f'<circle class="point" cx="{px:.1f}" cy="{y(p.y):.1f}" r="4" fill="{p.colour}" '
                   f'fill-opacity="0.8" stroke="#333" stroke-width="0.5" data-trial="{e(p.key)}" '
                   f'data-x="{e(p.x if isinstance(p.x, str) else num(p.x))}" data-value="{e(num(p.y))}">'
                   f'<title>{e(p.title)}</title></circle>')
    out.append("</g>")
    return _svg(width, height, f"{y_label} against {x_label}", out)


def timeline_chart(bars: Sequence[Bar], *, limit: int | None = None, width: int = 900) -> str:
    """A Gantt chart of trials (one row each, coloured by state) over a step chart of how
    many ran at once (with ``limit``, the allowed concurrency, dashed)."""
    if not bars:
        return _empty(width, 80, "timeline of trials", "no trial has started yet")
    row = 14 if len(bars) <= 40 else max(2, 560 // len(bars))
    band = 70
    top, left, right = 10, 110, width - 20
    gantt_bottom = top + row * len(bars)
    height = gantt_bottom + 40 + band + 40
    x = _Scale.fit([0.0] + [b.end for b in bars], left, right)
    unit, div = ("minutes", 60.0) if x.hi > 600 else ("seconds", 1.0)
    if x.hi > 36000:
        unit, div = "hours", 3600.0
    x = _Scale.fit([0.0] + [b.end / div for b in bars], left, right)
    out = ['<g class="axes" stroke="#ccc">']
    for t in x.ticks():
        px = x(t)
        out.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{top}" y2="{height - 40}" stroke="#eee"/>'
                   f'<text x="{px:.1f}" y="{height - 25}" text-anchor="middle" stroke="none" fill="#555">'
                   f'{e(_tick(t))}</text>')
    out.append(f'<text x="{(left + right) / 2:.1f}" y="{height - 8}" text-anchor="middle" stroke="none" '
               f'fill="#333">{e(unit)} since the sweep started</text></g><g class="plot">')
    for k, b in enumerate(bars):
        y0 = top + k * row
        x0, x1 = x(b.start / div), x(b.end / div)
        colour = STATUS_COLOURS.get(b.state, "#999")
        faded = ' fill-opacity="0.55"' if b.open else ""
        if row >= 9:
            out.append(f'<text x="{left - 6}" y="{y0 + row * 0.75:.1f}" text-anchor="end" fill="#333">'
                       f'{e(b.label)}</text>')
        out.append(f'<rect class="bar" x="{x0:.1f}" y="{y0 + 1:.1f}" width="{max(1.5, x1 - x0):.1f}" '
                   f'height="{max(1, row - 2 if row > 4 else row - 1)}" fill="{colour}"{faded} '
                   f'data-trial="{e(b.key)}" data-start="{e(num(b.start))}" data-end="{e(num(b.end))}" '
                   f'data-state="{e(b.state)}"><title>{e(b.title or b.label)}</title></rect>')
    # concurrency: a step function of the intervals
    events = sorted([(b.start, 1) for b in bars] + [(b.end, -1) for b in bars], key=lambda t: (t[0], t[1]))
    level, steps = 0, [(0.0, 0)]
    for t, delta in events:
        level += delta
        steps.append((t, level))
    peak = max(max(s[1] for s in steps), limit or 0, 1)
    base, ceiling = height - 40, height - 40 - band
    ys = _Scale(0, peak, base, ceiling)
    d, prev = f"M{x(0):.1f},{base:.1f}", base
    for t, lv in steps:
        px = x(t / div)
        d += f"L{px:.1f},{prev:.1f}L{px:.1f},{ys(lv):.1f}"
        prev = ys(lv)
    d += f"L{x(max(b.end for b in bars) / div):.1f},{prev:.1f}"
    out.append(f'<path class="concurrency" d="{d}" fill="none" stroke="#4e79a7" stroke-width="1.5" '
               f'data-value="{max(s[1] for s in steps)}"><title>trials running at once (peak '
               f'{max(s[1] for s in steps)})</title></path>')
    out.append(f'<text x="{left - 6}" y="{ceiling + 10:.1f}" text-anchor="end" fill="#555">{peak}</text>'
               f'<text x="{left - 6}" y="{base:.1f}" text-anchor="end" fill="#555">0</text>'
               f'<text x="{left - 30}" y="{(base + ceiling) / 2 + 4:.1f}" text-anchor="end" fill="#333">'
               f'at once</text>'
               f'<line x1="{left}" x2="{right}" y1="{base:.1f}" y2="{base:.1f}" stroke="#888"/>')
    if limit:
        out.append(f'<line class="limit" x1="{left}" x2="{right}" y1="{ys(limit):.1f}" y2="{ys(limit):.1f}" '
                   f'stroke="#e15759" stroke-dasharray="4 3"><title>max_concurrent_trials = {limit}</title></line>')
    out.append("</g>")
    return _svg(width, height, "timeline of trials and how many ran at once", out)


def heatmap(labels: Sequence[str], matrix: Sequence[Sequence[float]], *, row_title: str = "true",
            col_title: str = "predicted") -> str:
    """A confusion matrix: counts in cells, shaded by their share of the row."""
    n = len(labels)
    if n == 0:
        return _empty(300, 80, "confusion matrix", "empty")
    cell = max(8, min(48, 560 // n))
    names = [lab if len(lab) <= 14 else lab[:13] + "…" for lab in labels]
    margin = 20 + 7 * max(len(s) for s in names)
    left, top = margin + 20, margin + 10
    width, height = left + cell * n + 20, top + cell * n + 20
    out = [f'<text x="{left + cell * n / 2:.1f}" y="12" text-anchor="middle" fill="#333">{e(col_title)}</text>',
           f'<text transform="translate(12 {top + cell * n / 2:.1f}) rotate(-90)" text-anchor="middle" '
           f'fill="#333">{e(row_title)}</text>']
    if cell >= 9:
        for k, (name, full) in enumerate(zip(names, labels)):
            out.append(f'<text x="{left - 4}" y="{top + cell * k + cell / 2 + 4:.1f}" text-anchor="end" '
                       f'fill="#333">{e(name)}<title>{e(full)}</title></text>'
                       f'<text transform="translate({left + cell * k + cell / 2 + 4:.1f} {top - 4}) rotate(-60)" '
                       f'fill="#333">{e(name)}<title>{e(full)}</title></text>')
    out.append('<g class="plot">')
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        for j, value in enumerate(row):
            share = value / total
            shade = f"rgb({round(255 - 224 * share)},{round(255 - 177 * share)},{round(255 - 101 * share)})"
            out.append(f'<rect class="cell" x="{left + cell * j}" y="{top + cell * i}" width="{cell}" '
                       f'height="{cell}" fill="{shade}" stroke="#fff" data-row="{i}" data-col="{j}" '
                       f'data-value="{e(num(value))}"><title>{e(labels[i])} → {e(labels[j])}: {e(fmt(value))} '
                       f'({share:.1%} of {e(labels[i])})</title></rect>')
            if cell >= 18:
                out.append(f'<text x="{left + cell * j + cell / 2:.1f}" y="{top + cell * i + cell / 2 + 4:.1f}" '
                           f'text-anchor="middle" fill="{"#fff" if share > 0.5 else "#222"}">{e(fmt(value))}</text>')
    out.append("</g>")
    return _svg(width, height, "confusion matrix", out)


def bar_chart(groups: Sequence[tuple[str, Sequence[tuple[str, float]]]], *, width: int = 900,
              x_label: str = "score") -> str:
    """Horizontal grouped bars in [0, 1]: ``(label, [(metric, value), ...])`` per group."""
    if not groups:
        return _empty(300, 80, "per-label scores", "no labels")
    metrics = list(dict.fromkeys(m for _, vals in groups for m, _ in vals))
    colours = {m: PALETTE[k % len(PALETTE)] for k, m in enumerate(metrics)}
    bar = 7
    group = bar * len(metrics) + 8
    left, top = 140, 24
    height = top + group * len(groups) + 40
    x = _Scale(0.0, 1.0, left, width - 20)
    bottom = height - 40
    out = ['<g class="axes" stroke="#ccc">']
    for t in x.ticks():
        out.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top}" y2="{bottom + 4}" stroke="#eee"/>'
                   f'<text x="{x(t):.1f}" y="{bottom + 15}" text-anchor="middle" stroke="none" fill="#555">'
                   f'{e(_tick(t))}</text>')
    out.append(f'<text x="{(left + x.b) / 2:.1f}" y="{bottom + 30}" text-anchor="middle" stroke="none" '
               f'fill="#333">{e(x_label)}</text></g>')
    for k, m in enumerate(metrics):
        out.append(f'<rect x="{left + k * 130}" y="4" width="10" height="10" fill="{colours[m]}"/>'
                   f'<text x="{left + k * 130 + 14}" y="13" fill="#333">{e(m)}</text>')
    out.append('<g class="plot">')
    for g, (label, vals) in enumerate(groups):
        y0 = top + g * group
        short = label if len(label) <= 20 else label[:19] + "…"
        out.append(f'<text x="{left - 6}" y="{y0 + group / 2 + 2:.1f}" text-anchor="end" fill="#333">{e(short)}'
                   f'<title>{e(label)}</title></text>')
        for k, (m, v) in enumerate(vals):
            w = max(0.0, x(min(max(v, 0.0), 1.0)) - left)
            out.append(f'<rect class="bar" x="{left}" y="{y0 + k * bar:.1f}" width="{max(w, 0.5):.1f}" '
                       f'height="{bar - 1}" fill="{colours[m]}" data-label="{e(label)}" data-metric="{e(m)}" '
                       f'data-value="{e(num(v))}"><title>{e(label)} {e(m)}: {e(fmt(v))}</title></rect>')
    out.append("</g>")
    return _svg(width, height, "per-label scores", out)
