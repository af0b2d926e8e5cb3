"""The charts of the HTML report, drawn as inline SVG in Python so that the file needs no
script to show them and prints the same: horizontal bars of rates with their 95%
intervals and thresholds, line charts over time (robot separation, speed, force) and
bars of contact force per body region against its limit. Styled by the classes of the
page's CSS (reports/html/report.css)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup, escape

from ._report_text import _clip, _interval, _pct, _plain

# ---------------------------------------------------------------------------------------
# Charts: horizontal bars (0-100%) with the 95% interval as whiskers and a threshold
# mark where a criterion applies. Drawn here so the file needs no script to show them
# and prints the same; styled by the classes of the page's CSS.

_W, _LABEL_X, _X0, _PW, _ROW, _TOP = 800, 214, 220, 380, 20, 22


def _x(value: float) -> float:
    return _X0 + _PW * min(1.0, max(0.0, value))


def chart(rows: list[dict[str, Any]], caption: str) -> Markup:
    """An SVG chart of ``rows``: each ``{label, rate, marks: [(op, value, criterion id,
    status)], status}`` where ``rate`` is ``{value, ci_low, ci_high, n}``."""
    height = _TOP + _ROW * len(rows) + 6
    grid = "".join(f"M{_X0 + _PW * t / 4:g} {_TOP - 4}V{height - 4}" for t in range(5))
    out = [f'<svg class="chart" viewBox="0 0 {_W} {height}" role="img" aria-label="{escape(caption)}">',
           f'<path class="g" d="{grid}"/>']
    out += [f'<text class="ax" x="{_X0 + _PW * t / 4:g}" y="12">{t * 25}%</text>' for t in range(5)]
    for i, row in enumerate(rows):
        rate = row["rate"]
        value, low, high = rate.get("value"), rate.get("ci_low"), rate.get("ci_high")
        tip = f"{row['label']}: {_pct(value)} ({_interval(rate)})"
        for op, threshold, criterion, status in row["marks"]:
            tip += f"; criterion {criterion}: {op} {_plain(threshold)} ({status})"
        parts = [f'<g transform="translate(0 {_TOP + i * _ROW})"><title>{escape(tip)}</title>',
                 f'<text class="l" x="{_LABEL_X}" y="14">{escape(_clip(row["label"], 30))}</text>']
        if value is None:
            parts.append(f'<text class="v" x="{_X0 + 4}" y="14">no valid attempts</text>')
        else:
            parts.append(f'<rect class="b {row["status"]}" x="{_X0}" y="4" width="{_x(value) - _X0:.1f}" '
                         f'height="12"/>')
            if low is not None and high is not None:
                a, b = _x(low), _x(high)
                parts.append(f'<path class="w" d="M{a:.1f} 10H{b:.1f}M{a:.1f} 5V15M{b:.1f} 5V15"/>')
            parts.append(f'<circle class="d {row["status"]}" cx="{_x(value):.1f}" cy="10" r="3.5"/>')
            parts.append(f'<text class="v" x="{_X0 + _PW + 10}" y="14">{_pct(value)} '
                         f'[{_pct(low)[:-1]}, {_pct(high)[:-1]}] n={rate.get("n", 0):,}</text>')
        for op, threshold, _, _ in row["marks"]:
            if isinstance(threshold, (int, float)) and not isinstance(threshold, bool) and op in "≥>≤<=":
                t = _x(float(threshold))
                parts.append(f'<path class="t" d="M{t:.1f} 0V20"/>')
        parts.append("</g>")
        out.append("".join(parts))
    out.append("</svg>")
    return Markup("".join(out))


def mini_interval(rate: Mapping[str, Any], marks: list[tuple[str, Any]], status: str) -> Markup:
    """A small 0-1 scale with the value, its interval and the threshold, for a table cell."""
    value, low, high = rate.get("value"), rate.get("ci_low"), rate.get("ci_high")
    if value is None:
        return Markup("")
    w = 120

    def x(v: float) -> float:
        return 2 + (w - 4) * min(1.0, max(0.0, v))

    out = [f'<svg class="mini" viewBox="0 0 {w} 14" aria-hidden="true"><path class="g" d="M2 7H{w - 2}"/>']
    if low is not None and high is not None:
        out.append(f'<path class="w" d="M{x(low):.1f} 7H{x(high):.1f}M{x(low):.1f} 3V11M{x(high):.1f} 3V11"/>')
    for op, threshold in marks:
        if isinstance(threshold, (int, float)) and not isinstance(threshold, bool) and op in "≥>≤<=":
            out.append(f'<path class="t" d="M{x(float(threshold)):.1f} 0V14"/>')
    out.append(f'<circle class="d {escape(status)}" cx="{x(value):.1f}" cy="7" r="3.5"/></svg>')
    return Markup("".join(out))


# ---------------------------------------------------------------------------------------
# Robot suites: the worst case of each (report["robot"], built by harness.robot.reporting)
# with line charts of separation and S_p and of TCP speed, a bar chart of contact force
# per body region against its limit, and the replay of the worst case as a flip-book of
# frames drawn with PyBullet's TinyRenderer (harness.robot.replay) as PNG data: URIs.

_LW, _LH, _LX0, _LX1, _LY0, _LY1 = 800, 230, 64, 780, 14, 196


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``low``..``high``."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low]
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    return [round(first + i * step, 10) for i in range(int((high - first) / step + 1e-9) + 1)]


def line_chart(series: list[tuple[str, str, list[tuple[float, float]]]], caption: str, *, y_unit: str,
               vlines: list[tuple[float, str, str]] = (), spans: list[tuple[float, float, str, str]] = (),
               hlines: list[tuple[float, str, str]] = (), dots: list[tuple[float, float, str, str]] = (),
               y_floor: float | None = 0.0) -> Markup:
    """An SVG line chart over time: ``series`` are (class, label, [(t, y)]); ``vlines``
    (t, class, label) mark moments, ``spans`` (t0, t1, class, label) shade intervals,
    ``hlines`` (y, class, label) mark limits, ``dots`` (t, y, class, label) points."""
    xs = [x for _, _, pts in series for x, _ in pts] + [v[0] for v in vlines] + [s[0] for s in spans] + \
        [s[1] for s in spans]
    ys = [y for _, _, pts in series for _, y in pts] + [h[0] for h in hlines] + [d[1] for d in dots]
    if not xs or not ys:
        return Markup('<p class="sub">No samples to plot.</p>')
    x_low, x_high = min(xs), max(xs)
    y_low = min(ys) if y_floor is None else min(y_floor, min(ys))
    y_high = max(ys)
    if x_high <= x_low:
        x_high = x_low + 1.0
    if y_high <= y_low:
        y_high = y_low + 1.0
    y_high += (y_high - y_low) * 0.08
    y_ticks = _ticks(y_low, y_high)
    y_high = max(y_high, y_ticks[-1])
    y_low = min(y_low, y_ticks[0])

    def x(v: float) -> float:
        return _LX0 + (_LX1 - _LX0) * (v - x_low) / (x_high - x_low)

    def y(v: float) -> float:
        return _LY1 - (_LY1 - _LY0) * (v - y_low) / (y_high - y_low)

    out = [f'<svg class="chart line" viewBox="0 0 {_LW} {_LH}" role="img" aria-label="{escape(caption)}">']
    grid = "".join(f"M{_LX0} {y(t):.1f}H{_LX1}" for t in y_ticks)
    x_ticks = _ticks(x_low, x_high, 8)
    grid += "".join(f"M{x(t):.1f} {_LY0}V{_LY1}" for t in x_ticks)
    out.append(f'<path class="g" d="{grid}"/>')
    out += [f'<text class="ay" x="{_LX0 - 6}" y="{y(t) + 3.5:.1f}">{_plain(t)}</text>' for t in y_ticks]
    out += [f'<text class="ax" x="{x(t):.1f}" y="{_LY1 + 14}">{_plain(t)}</text>' for t in x_ticks]
    out.append(f'<text class="ax" x="{_LX1}" y="{_LH - 2}" text-anchor="end">t (s)</text>')
    out.append(f'<text class="ay" x="{_LX0 - 6}" y="{_LY0 - 4}">{escape(y_unit)}</text>')
    for t0, t1, cls, label in spans:
        a, b = sorted((x(t0), x(t1)))
        out.append(f'<rect class="span {cls}" x="{a:.1f}" y="{_LY0}" width="{max(1.0, b - a):.1f}" '
                   f'height="{_LY1 - _LY0}"><title>{escape(label)}</title></rect>')
    for value, cls, label in hlines:
        out.append(f'<path class="lim {cls}" d="M{_LX0} {y(value):.1f}H{_LX1}"><title>{escape(label)}</title></path>')
        out.append(f'<text class="lab {cls}" x="{_LX1 - 4}" y="{y(value) - 4:.1f}" text-anchor="end">'
                   f'{escape(label)}</text>')
    for cls, label, pts in series:
        if pts:
            d = "M" + "L".join(f"{x(a):.1f} {y(b):.1f}" for a, b in pts)
            out.append(f'<path class="ln {cls}" d="{d}"><title>{escape(label)}</title></path>')
    for i, (value, cls, label) in enumerate(vlines):
        out.append(f'<path class="mk {cls}" d="M{x(value):.1f} {_LY0}V{_LY1}"><title>{escape(label)}</title></path>')
        right = x(value) > (_LX0 + _LX1) / 2  # the label on the side with room
        out.append(f'<text class="lab {cls}" x="{x(value) + (-4 if right else 4):.1f}" y="{_LY0 + 11 + 12 * i}" '
                   f'text-anchor="{"end" if right else "start"}">{escape(label)}</text>')
    for t, value, cls, label in dots:
        out.append(f'<circle class="dot {cls}" cx="{x(t):.1f}" cy="{y(value):.1f}" r="4">'
                   f'<title>{escape(label)}</title></circle>')
    legend = "".join(f'<tspan class="lg {cls}">━ {escape(label)}</tspan>  ' for cls, label, _ in series)
    out.append(f'<text class="legend-t" x="{_LX0 + 6}" y="{_LY1 - 6}">{legend}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def force_chart(bars: list[Mapping[str, Any]], caption: str) -> Markup:
    """Horizontal bars of the quasi-static and the transient force per body region, each
    with its limit (ISO/TS 15066 Table A.2) as a threshold mark."""
    if not bars:
        return Markup('<p class="sub">No contact with any body region.</p>')
    rows: list[tuple[str, Any, Any, str]] = []
    for b in bars:
        rows.append((f"{b['region']} quasi-static", b.get("quasi_static_n"), b.get("limit_n"), ""))
        note = " (none allowed)" if b.get("transient_limit_n") == 0 else ""
        rows.append((f"{b['region']} transient{note}", b.get("transient_n"), b.get("transient_limit_n"), note))
    values = [float(v) for _, v, lim, _ in rows for v in (v, lim) if isinstance(v, (int, float))]
    top = max(values + [1.0]) * 1.1
    height = _TOP + _ROW * len(rows) + 6

    def x(v: float) -> float:
        return _X0 + _PW * min(1.0, max(0.0, v / top))

    ticks = _ticks(0.0, top, 4)
    grid = "".join(f"M{x(t):.1f} {_TOP - 4}V{height - 4}" for t in ticks)
    out = [f'<svg class="chart force" viewBox="0 0 {_W} {height}" role="img" aria-label="{escape(caption)}">',
           f'<path class="g" d="{grid}"/>']
    out += [f'<text class="ax" x="{x(t):.1f}" y="12">{_plain(t)} N</text>' for t in ticks]
    for i, (label, value, limit, _) in enumerate(rows):
        over = isinstance(value, (int, float)) and isinstance(limit, (int, float)) and (
            value > limit or (limit == 0 and value > 0))
        status = "fail" if over else "pass"
        tip = f"{label}: {_plain(value)} N, limit {_plain(limit)} N"
        parts = [f'<g transform="translate(0 {_TOP + i * _ROW})"><title>{escape(tip)}</title>',
                 f'<text class="l" x="{_LABEL_X}" y="14">{escape(_clip(label, 34))}</text>']
        if isinstance(value, (int, float)):
            parts.append(f'<rect class="b {status}" x="{_X0}" y="4" width="{x(float(value)) - _X0:.1f}" height="12"/>')
        if isinstance(limit, (int, float)):
            parts.append(f'<path class="t" d="M{x(float(limit)):.1f} 0V20"/>')
        parts.append(f'<text class="v" x="{_X0 + _PW + 10}" y="14">{_plain(value)} N / limit {_plain(limit)} N</text>')
        parts.append("</g>")
        out.append("".join(parts))
    out.append("</svg>")
    return Markup("".join(out))
