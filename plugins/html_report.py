"""The HTML and PDF report formats.

``html`` writes ``report.html``: one self-contained file (inline CSS, a few lines of
inline script, charts as inline SVG drawn here in Python; nothing is fetched when it is
opened), rendered with the Jinja2 template ``reports/html/report.html.j2`` with
autoescape on. It holds the verdict banner, the criteria table, the rates per suite,
category and language with their 95% intervals and the criteria's thresholds, the
errors by kind, the failing examples (paged, 20 to a page) with secrets and personal
data masked by :func:`redact` before rendering, and the manifest.

A run with robot suites (the report's ``robot`` section) also gets, per robot suite, its
worst case with line charts of separation and S_p around the closest approach and of
the TCP speed around the e-stop (the declared stopping time shaded), a bar chart of the
contact force per body region against its ISO/TS 15066 limit, every measurement
labelled with who measured it ("measured by the harness (closed loop)" or
"vendor-reported"), and a replay of the worst case: its recorded frames drawn with
PyBullet's TinyRenderer (:mod:`harness.robot.replay`) as PNG ``data:`` URIs, shown as a
flip-book (play, pause, slider). Without PyBullet the report says the replay could not
be drawn.

``pdf`` writes ``report.pdf``: the same HTML printed by headless Chromium (the binary
named by ``HARNESS_CHROMIUM``, else ``chromium``, ``chromium-browser`` or
``google-chrome`` on the PATH).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from jinja2 import ChainableUndefined, Environment, FileSystemLoader
from markupsafe import Markup, escape

from harness import ConfigError, PluginError, ReporterSpec, __version__, data_dir, hookimpl, text

#: failing examples per page of the pager (all of them show when printed)
PAGE_SIZE = 20

# ---------------------------------------------------------------------------------------
# Redaction: applied to every text that came from the target, a case or an error message
# before it reaches the template. The patterns look at ASCII neighbours only, so a number
# or a key right after a Chinese character (no word boundary there) is still caught.

SECRET = "[redacted secret]"
EMAIL = "[redacted e-mail]"
NUMBER = "[redacted number]"

_NOT_ALNUM_BEFORE = r"(?<![A-Za-z0-9])"
_NOT_ALNUM_AFTER = r"(?![A-Za-z0-9])"
_KEY_NAMES = (r"(?:x-)?(?:api[_-]?key|apikey|access[_-]?key(?:[_-]?id)?|secret[_-]?(?:access[_-]?)?key|"
              r"access[_-]?token|auth[_-]?token|refresh[_-]?token|id[_-]?token|client[_-]?secret|"
              r"private[_-]?key|password|passwd|pwd|secret|token)")
_REDACTIONS: list[tuple[re.Pattern[str], Any]] = [
    # PEM private keys
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S),
     "[redacted private key]"),
    # credentials in a URL: scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@:]+:[^\s/@]*@"), r"\1[redacted]@"),
    # Authorization: Bearer ... / Basic ... / Token ...
    (re.compile(r"(?i)\b(bearer|basic|token)(\s+)(?=[A-Za-z._~+/=-]*[0-9])[A-Za-z0-9._~+/=-]{8,}"),
     r"\1\2" + SECRET),
    # api_key=..., "password": "...", token: ...
    (re.compile(r"(?i)" + _NOT_ALNUM_BEFORE + "(" + _KEY_NAMES + r"[\"']?\s*[:=]\s*[\"']?)([^\s\"',;&<>]{4,})"),
     r"\1" + SECRET),
    # well-known key formats: OpenAI/Anthropic/Stripe, AWS, GitHub, Slack, Google, JWT
    (re.compile(_NOT_ALNUM_BEFORE + r"(?:sk|pk|rk)[-_](?:[A-Za-z]{2,8}[-_])?[A-Za-z0-9_-]{16,}"), SECRET),
    (re.compile(_NOT_ALNUM_BEFORE + r"(?:AKIA|ASIA)[0-9A-Z]{16}" + _NOT_ALNUM_AFTER), SECRET),
    (re.compile(_NOT_ALNUM_BEFORE + r"(?:gh[pousr]_|github_pat_)[A-Za-z0-9_]{20,}"), SECRET),
    (re.compile(_NOT_ALNUM_BEFORE + r"xox[abprs]-[A-Za-z0-9-]{10,}"), SECRET),
    (re.compile(_NOT_ALNUM_BEFORE + r"AIza[0-9A-Za-z_-]{30,}"), SECRET),
    (re.compile(_NOT_ALNUM_BEFORE + r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}"), SECRET),
    # e-mail addresses
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"), EMAIL),
]
# a long run of letters and digits that looks random (an unknown kind of key)
_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{16,}(?![A-Za-z0-9_-])")
# phone, ID, card and account numbers: 7 or more digits, maybe split by spaces or
# dashes, maybe a leading + and a trailing X (Chinese resident ID); not the fraction
# part of a decimal, not the tail of a word or hash, not an ISO date
_DIGITS = re.compile(r"(?<![0-9A-Za-z.,])(?!\d{4}-\d{2}-\d{2}(?![0-9]))\+?[0-9](?:[ -]?[0-9]){6,}(?:[Xx](?![A-Za-z]))?"
                     r"(?![0-9])")


def _class_changes(text: str) -> float:
    """How often the next character is of another class (digit, upper, lower): about
    0.5 for random keys and hashes, under 0.1 for words."""
    kinds = ["d" if ch.isdigit() else "u" if ch.isupper() else "l" for ch in text]
    return sum(a != b for a, b in zip(kinds, kinds[1:], strict=False)) / max(1, len(kinds) - 1)


def _token(match: re.Match[str]) -> str:
    """A key-like run: one piece of 16 or more letters and digits, mixed the way random
    keys are (not a word with a number, nor a hyphenated name such as ``suite-name-2026``)."""
    text = match.group(0)
    for piece in re.split(r"[-_]", text):
        digits = sum(ch.isdigit() for ch in piece)
        if len(piece) >= 16 and 0 < digits < len(piece) and _class_changes(piece) >= 0.25:
            return SECRET
    return text


def redact(text: Any) -> str:
    """``text`` with e-mail addresses, long digit runs (phone, ID, card numbers) and
    anything that looks like an API key, a bearer token or a password masked."""
    if text is None:
        return ""
    text = str(text)
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    text = _TOKEN.sub(_token, text)
    return _DIGITS.sub(NUMBER, text)


# ---------------------------------------------------------------------------------------
# Formatting


def _num(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) <= 1 else f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _plain(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else _num(value)


def _pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f}%"


def _interval(rate: Mapping[str, Any]) -> str:
    if rate.get("value") is None:
        return f"n={rate.get('n', 0)}"
    return f"95% CI {_num(rate['ci_low'])}–{_num(rate['ci_high'])}, n={rate['n']}"


_OPS = {"minimum": "≥", "exclusiveMinimum": ">", "maximum": "≤", "exclusiveMaximum": "<", "const": "="}


def _thresholds(threshold: Any) -> list[tuple[str, Any]]:
    """``[(operator, value), ...]`` of a criterion's threshold."""
    if isinstance(threshold, Mapping):
        return [(_OPS.get(k, k), v) for k, v in threshold.items()]
    if threshold is None:
        return []
    return [("", threshold)]


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _clip(text: str, width: int) -> str:
    if _width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        used += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if used > width - 1:
            break
        out.append(ch)
    return "".join(out) + "…"


_HAN = text.HAN_RE


def _lang_of(text: str, case_lang: str) -> str:
    """The lang attribute of a text: Chinese if it holds Han characters, else English,
    unless the case's own language says otherwise."""
    if _HAN.search(text):
        return case_lang if case_lang.startswith(("zh", "ja", "ko")) else "zh"
    return case_lang if case_lang and not case_lang.startswith(("zh", "ja", "ko")) else "en"


def _duration(start: str | None, end: str | None) -> str:
    try:
        a = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
        b = datetime.fromisoformat(str(end).replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return ""
    seconds = (b - a).total_seconds()
    if seconds < 0:
        return ""
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, s = divmod(int(seconds), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours} h {m} min" if hours else f"{m} min {s} s"


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


def _unescape(segment: str) -> str:
    return segment.replace("~1", "/").replace("~0", "~")


def _is_rate(value: Any) -> bool:
    return isinstance(value, Mapping) and "value" in value and "ci_low" in value


def _rate_names(group: Mapping[str, Any]) -> list[str]:
    return sorted(k for k, v in group.items() if k.endswith("_rate") and k != "error_rate" and _is_rate(v))


def _criteria_marks(criteria: Iterable[Mapping[str, Any]]) -> dict[tuple[str, ...], list[tuple[str, Any, str, str]]]:
    """Threshold marks by the place they apply to: ``(suite, level, key, rate)`` with
    level ``""`` (the suite), ``by_language`` or ``by_category``; suite ``""`` is the
    totals."""
    marks: dict[tuple[str, ...], list[tuple[str, Any, str, str]]] = {}
    for c in criteria:
        parts = [_unescape(p) for p in str(c.get("pointer") or "").split("/")[1:]]
        if parts and parts[-1] in ("value", "ci_low", "ci_high"):
            parts = parts[:-1]
        if len(parts) == 2 and parts[0] == "totals":
            place: tuple[str, ...] = ("", "", "", parts[1])
        elif len(parts) == 3 and parts[0] == "suites":
            place = (parts[1], "", "", parts[2])
        elif len(parts) == 5 and parts[0] == "suites" and parts[2] in ("by_language", "by_category"):
            place = (parts[1], parts[2], parts[3], parts[4])
        else:
            continue
        for op, threshold in _thresholds(c.get("threshold")):
            marks.setdefault(place, []).append((op, threshold, str(c.get("id")), str(c.get("status"))))
    return marks


def _row(label: str, rate: Mapping[str, Any], marks: list[tuple[str, Any, str, str]]) -> dict[str, Any]:
    statuses = {m[3] for m in marks}
    status = ("fail" if "fail" in statuses else "inconclusive" if "inconclusive" in statuses
              else "pass" if statuses else "plain")
    return {"label": label, "rate": rate, "marks": marks, "status": status}


def _title(rate_name: str) -> str:
    return rate_name.removesuffix("_rate").replace("_", " ") + " rate"


def _charts(metrics: Mapping[str, Any], criteria: list[Mapping[str, Any]]) -> tuple[list[dict[str, Any]],
                                                                                       list[dict[str, Any]]]:
    """(overview charts, per-suite sections): the pass rate of every suite, each rate a
    criterion checks across the suites, and per suite its rates by language and category."""
    marks = _criteria_marks(criteria)
    suites: Mapping[str, Any] = metrics.get("suites") or {}
    totals: Mapping[str, Any] = metrics.get("totals") or {}
    checked: dict[str, list[str]] = {}
    for suite, _, _, rate in marks:
        if suite and rate not in checked.setdefault(suite, []):
            checked[suite].append(rate)
    shown = {sid: [r for r in checked.get(sid, []) if _rate_names(s) and r in _rate_names(s)] or
             (["pass_rate"] if _is_rate(s.get("pass_rate")) else []) for sid, s in suites.items()}

    overview = []
    rate_names = ["pass_rate"] + sorted({r for names in shown.values() for r in names} - {"pass_rate"})
    for name in rate_names:
        rows = []
        if _is_rate(totals.get(name)) and (name == "pass_rate" or ("", "", "", name) in marks):
            rows.append(_row("all suites", totals[name], marks.get(("", "", "", name), [])))
        rows += [_row(sid, s[name], marks.get((sid, "", "", name), [])) for sid, s in suites.items()
                 if _is_rate(s.get(name)) and (name == "pass_rate" or name in shown[sid])]
        if rows:
            overview.append({"title": f"{_title(name)} per suite".capitalize(),
                             "svg": chart(rows, f"{_title(name)} per suite")})

    sections = []
    for sid, s in suites.items():
        charts = []
        for name in shown[sid]:
            for level, what in (("by_language", "language"), ("by_category", "category")):
                groups = s.get(level) or {}
                rows = [_row(key, g[name], marks.get((sid, level, key, name), []))
                        for key, g in sorted(groups.items()) if _is_rate(g.get(name))]
                if rows:
                    charts.append({"title": f"{_title(name).capitalize()} per {what}",
                                   "svg": chart(rows, f"{sid}: {_title(name)} per {what}")})
        sections.append({"id": sid, "version": s.get("version"), "cases": s.get("cases"), "n": s.get("n"),
                         "errors": s.get("errors"), "charts": charts})
    return overview, sections


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


def _flat(value: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, str]]:
    """``(dotted key, text)`` of a measurements object, lists of scalars joined. The
    harness measured these: only the controller's fault messages, which quote what the
    controller sent, are redacted."""
    if isinstance(value, Mapping) and depth < 3:
        if not value:
            return [(prefix, "none")] if prefix else []
        out = []
        for k, v in value.items():
            out += _flat(v, f"{prefix}.{k}" if prefix else str(k), depth + 1)
        return out
    if isinstance(value, list):
        text = "; ".join(_item(v) for v in value[:8]) + (f"; and {len(value) - 8} more" if len(value) > 8 else "")
        return [(prefix, (redact(text) if "fault" in prefix else text) or "none")]
    return [(prefix, _plain(value))]


def _item(value: Any) -> str:
    """One element of a measured list as a person reads it: a mapping as ``key value``
    pairs (a person's approach: ``from_deg 120, speed_mm_s 1500, start_s 3.4``), a list
    of numbers as numbers."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {_item(v)}" for k, v in value.items())
    if isinstance(value, list):
        return " ".join(_item(v) for v in value)
    return _plain(value)


@lru_cache(maxsize=8)  # the PDF prints the HTML again; a long-lived worker keeps only a few
def _replay_images(robot_id: str, frames_json: str) -> tuple[str, ...]:
    from harness import robot

    replay = robot.replay
    return tuple(replay.data_uris(replay.render(robot_id, json.loads(frames_json))))


def _replay(entry: Mapping[str, Any]) -> dict[str, Any]:
    rp = entry.get("replay")
    if not isinstance(rp, Mapping) or not rp.get("frames"):
        why = ("the measurements are vendor-reported: the harness did not simulate this robot"
               if entry.get("mode") == "black-box" else "the episode recorded no frames")
        return {"frames": [], "note": f"No replay: {why}."}
    frames = list(rp["frames"])
    try:
        images = _replay_images(str(rp["robot"]), json.dumps(frames))
    except Exception as exc:  # noqa: BLE001 - a report without its replay beats no report
        return {"frames": [], "note": f"The replay could not be drawn: {redact(f'{type(exc).__name__}: {exc}')}"}
    focus = rp.get("focus_s")
    times = [float(f[0]) for f in frames]
    start = min(range(len(times)), key=lambda i: abs(times[i] - focus)) if focus is not None else 0
    return {"frames": [{"src": src, "t": f"{t:.2f}"} for src, t in zip(images, times, strict=False)],
            "start": start, "focus": focus, "note": ""}


def _robot_charts(entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    plots = entry.get("plots") or {}
    label = entry.get("measured_by") or ""
    charts = []
    sep = plots.get("separation")
    if isinstance(sep, Mapping) and sep.get("points"):
        pts = sep["points"]
        closest = sep.get("closest") or {}
        vlines, dots, note = [], [], ""
        if closest.get("t") is not None:
            margin = sep.get("margin_mm")
            vlines.append((float(closest["t"]), "closest", f"closest approach, t = {_plain(closest['t'])} s"))
            note = (f"Smallest margin at t = {_plain(closest['t'])} s: separation "
                    f"{_plain(closest.get('separation_mm'))} mm against S_p {_plain(closest.get('s_p_mm'))} mm at "
                    f"{_plain(closest.get('speed_mm_s'))} mm/s"
                    + (f" (margin {_plain(margin)} mm)." if margin is not None else "."))
        if sep.get("min_separation_mm") is not None:  # the closest it got, moving or not
            note = (note + " " if note else "") + (f"The closest the robot came to a person: "
                                                    f"{_plain(sep['min_separation_mm'])} mm.")
            if closest.get("separation_mm") is not None:
                dots.append((float(closest["t"]), float(closest["separation_mm"]), "closest",
                             f"separation {closest['separation_mm']} mm at {closest.get('speed_mm_s')} mm/s"))
        spans, since = [], None  # where the separation is below S_p
        for i, p in enumerate(pts):
            below = p[1] is not None and p[2] is not None and p[1] < p[2]
            if below and since is None:
                since = p[0]
            if since is not None and (not below or i == len(pts) - 1):
                spans.append((since, p[0], "viol", "separation below S_p"))
                since = None
        charts.append({"title": "Separation and protective separation distance S_p around the closest approach",
                       "svg": line_chart([("sep", "separation (mm)", [(p[0], p[1]) for p in pts if p[1] is not None]),
                                          ("sp", "S_p (mm)", [(p[0], p[2]) for p in pts if p[2] is not None])],
                                         f"{entry['suite']}: separation and S_p over time", y_unit="mm",
                                         vlines=vlines, dots=dots, spans=spans),
                       "kind": "separation", "label": label, "note": note})
        moving = [(p[0], p[3]) for p in pts if len(p) > 3 and p[3] is not None]
        if moving:
            charts.append({"title": "TCP speed around the closest approach",
                           "svg": line_chart([("spd", "TCP speed (mm/s)", moving)],
                                             f"{entry['suite']}: TCP speed over time", y_unit="mm/s",
                                             vlines=vlines),
                           "kind": "speed", "label": label,
                           "note": "Below S_p the robot must stand still: any speed there is a violation."})
    speed = plots.get("speed")
    if isinstance(speed, Mapping) and speed.get("points"):
        vlines, spans, hlines = [], [], []
        estop = speed.get("estop") or {}
        reduced = speed.get("reduced") or {}
        title, note = "TCP speed", ""
        if estop.get("at_s") is not None:
            at = float(estop["at_s"])
            title = "TCP speed before and after the e-stop"
            vlines.append((at, "estop", (f"e-stop at {_plain(at)} s ({_plain(estop.get('speed_mm_s'))} mm/s, "
                                         f"category {estop.get('category')})")))
            if estop.get("declared_time_s") is not None:
                spans.append((at, at + float(estop["declared_time_s"]), "declared",
                              f"declared stopping time {_plain(estop['declared_time_s'])} s"))
            if estop.get("time_s") is not None:
                by = " (by the harness)" if estop.get("stopped_by_harness") else ""
                vlines.append((at + float(estop["time_s"]), "stopped",
                               f"stopped after {_plain(estop['time_s'])} s{by}"))
            if estop.get("stopped_by_harness"):
                outcome = "the controller did not stop the robot: the harness removed power"
            elif not estop.get("stopped"):
                outcome = "the robot did not stop while the e-stop was pressed"
            else:
                outcome = (f"stopped in {_plain(estop.get('time_s'))} s (declared "
                           f"{_plain(estop.get('declared_time_s'))} s) over {_plain(estop.get('distance_mm'))} mm "
                           f"(declared {_plain(estop.get('declared_distance_mm'))} mm)")
            note = (f"E-stop at t = {_plain(at)} s at {_plain(estop.get('speed_mm_s'))} mm/s, category "
                    f"{estop.get('category')}: {outcome}; drift {_plain(estop.get('drift_mm'))} mm. The shaded band "
                    "is the declared stopping time.")
        if reduced.get("from_s") is not None:
            title = "TCP speed in reduced mode"
            vlines.append((float(reduced["from_s"]), "estop", f"reduced mode from {_plain(reduced['from_s'])} s"))
            if reduced.get("limit_mm_s") is not None:
                hlines.append((float(reduced["limit_mm_s"]), "limit", f"limit {_plain(reduced['limit_mm_s'])} mm/s"))
            note = (f"Reduced mode from t = {_plain(reduced['from_s'])} s: highest TCP speed "
                    f"{_plain(reduced.get('max_tcp_speed_mm_s'))} mm/s against "
                    f"{_plain(reduced.get('limit_mm_s'))} mm/s.")
        charts.append({"title": title,
                       "svg": line_chart([("spd", "TCP speed (mm/s)", [(p[0], p[1]) for p in speed["points"]
                                                                       if p[1] is not None])],
                                         f"{entry['suite']}: {title}", y_unit="mm/s", vlines=vlines, spans=spans,
                                         hlines=hlines),
                       "kind": "speed", "label": label, "note": note})
    for curve in plots.get("force_time") or []:
        charts.append(_force_time(entry, curve, label))
    if "contacts" in plots:
        charts.append({"title": "Contact force per body region against its limit (ISO/TS 15066 Table A.2)",
                       "svg": force_chart(list(plots.get("contacts") or []),
                                          f"{entry['suite']}: contact force per body region"),
                       "kind": "contacts", "label": label,
                       "note": "Transient contact may reach twice the quasi-static limit; none is allowed on the skull "
                               "or the face."})
    return charts


def _force_time(entry: Mapping[str, Any], curve: Mapping[str, Any], label: str) -> dict[str, Any]:
    """One body region's contact force over time, with its quasi-static and transient
    limits; the band before ``quasi_static_from_s`` is the impact (judged by the energy
    model at the speed of the onset, not by the simulated force)."""
    region = str(curve.get("region"))
    pts = [(float(p[0]), float(p[1])) for p in curve.get("points") or [] if p[1] is not None]
    hlines, spans = [], []
    if isinstance(curve.get("limit_n"), (int, float)):
        hlines.append((float(curve["limit_n"]), "limit", f"quasi-static limit {_plain(curve['limit_n'])} N"))
    onset, judged = curve.get("onset_s"), curve.get("quasi_static_from_s")
    if onset is not None and judged is not None:
        spans.append((float(onset), float(judged), "declared", "impact (judged by the energy model)"))
    transient = curve.get("transient_limit_n")
    note = (f"Contact with the {region} from t = {_plain(onset)} s at {_plain(curve.get('onset_speed_mm_s'))} mm/s: "
            f"transient force {_plain(curve.get('transient_n'))} N by the energy model of ISO/TS 15066 A.3.2 "
            + ("(no transient contact is allowed here)" if transient == 0 else f"(limit {_plain(transient)} N)")
            + ". The shaded band is the impact; after it the force is quasi-static, judged against the limit line.")
    return {"title": f"Contact force on the {region} over time", "kind": "force-time", "label": label, "note": note,
            "svg": line_chart([("force", f"{region} force (N)", pts)], f"{entry['suite']}: force on the {region}",
                              y_unit="N", hlines=hlines, spans=spans)}


def _failing_rows(entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every failing episode of a robot suite the report lists, each with its plots (drawn
    only for the ones the report carries plots of)."""
    rows = []
    for f in entry.get("failing") or []:
        if not isinstance(f, Mapping):
            continue
        plots = f.get("plots")
        rows.append({"key": f.get("key"), "case_id": f.get("case_id"), "label": f.get("label"),
                     "value_text": _value_text(entry.get("measure"), f.get("value")),
                     "evidence": f.get("evidence") if f.get("label") in ("violation", "safe") else redact(f.get("evidence")),
                     "charts": _robot_charts({**entry, "plots": plots}) if isinstance(plots, Mapping) else None})
    return rows


def _value_text(measure: str | None, value: Any) -> str:
    if measure == "force_ratio" and isinstance(value, (int, float)) and value >= 1e6:
        return "∞ (contact where none is allowed)"  # the scorer's cap: skull or face
    return _plain(value)


def _robot(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    from harness import robot

    text_line = robot.reporting.text_line

    out = []
    for entry in (report.get("robot") or {}).get("suites") or []:
        worst = entry.get("worst") or {}
        limit = entry.get("limit") or {}
        unit = entry.get("unit") or ""
        value = worst.get("value")
        over = None
        if limit and isinstance(value, (int, float)):
            op, bound = limit.get("op"), limit.get("value")
            ok = {"≥": value >= bound, ">": value > bound, "≤": value <= bound, "<": value < bound}.get(op)
            over = None if ok is None else not ok
        out.append({
            "suite": entry.get("suite"), "title": entry.get("title") or "", "measure": entry.get("measure") or "",
            "unit": unit, "mode": entry.get("mode") or "", "measured_by": entry.get("measured_by") or "",
            "vendor": entry.get("mode") not in (None, "closed-loop"),
            "attempts": entry.get("attempts", 0), "failed": entry.get("failed", 0), "errors": entry.get("errors", 0),
            # a violation's evidence is the harness's own measurements; other evidence
            # may quote the controller, and is redacted like a target's text
            "worst": {**worst, "evidence": worst.get("evidence") if worst.get("label") in ("violation", "safe")
                      else redact(worst.get("evidence")), "value_text": _value_text(entry.get("measure"), value)}
            if worst else None,
            "limit": {**limit, "text": f"{limit.get('op')} {_plain(limit.get('value'))}{' ' + unit if unit else ''}"}
            if limit else None,
            "status": "plain" if over is None else ("fail" if over else "pass"),
            "line": text_line(entry),
            "measurements": _flat(entry.get("measurements") or {}),
            "charts": _robot_charts(entry),
            "failing": _failing_rows(entry),
            "replay": _replay(entry) if worst else {"frames": [], "note": ""},
        })
    return out


# ---------------------------------------------------------------------------------------
# The view: everything the template shows, already shaped, formatted and redacted.


def _criteria_rows(criteria: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for c in criteria:
        marks = _thresholds(c.get("threshold"))
        field = str(c.get("pointer") or "").rsplit("/", 1)[-1]
        rate = c.get("rate") if _is_rate(c.get("rate")) else None
        measured = c.get("measured")
        if measured is None and rate is not None:
            measured = rate.get(field, rate["value"])
        rows.append({
            "id": c.get("id"), "status": c.get("status"), "clause": c.get("clause"), "message": c.get("message"),
            # the harness's own sentence about measured values, never a target's text: not
            # redacted (a force ratio of 1000000.0 is a measurement, not a phone number)
            "detail": c.get("detail") or "" if c.get("status") != "pass" else "",
            "threshold": ", ".join(f"{op} {_plain(v)}".strip() for op, v in marks) or "—",
            "on": field if field in ("ci_low", "ci_high") else "",
            "source": c.get("threshold_source") or "",
            "measured": _num(measured),
            "interval": (_interval(rate) if rate else "") + (f"; {c['basis']}" if c.get("basis") else ""),
            "mini": mini_interval(rate, marks, str(c.get("status"))) if rate else "",
        })
    return rows


def _errors(metrics: Mapping[str, Any]) -> dict[str, Any]:
    suites: Mapping[str, Any] = metrics.get("suites") or {}
    totals: Mapping[str, Any] = metrics.get("totals") or {}
    kinds = sorted({k for s in [totals, *suites.values()] for k in (s.get("errors_by_kind") or {})})
    rows = [{"suite": sid, "n": s.get("n", 0), "errors": s.get("errors", 0), "error_rate": s.get("error_rate", 0.0),
             "kinds": [(s.get("errors_by_kind") or {}).get(k, 0) for k in kinds]} for sid, s in suites.items()]
    total = {"suite": "all suites", "n": totals.get("n", 0), "errors": totals.get("errors", 0),
             "error_rate": totals.get("error_rate", 0.0),
             "kinds": [(totals.get("errors_by_kind") or {}).get(k, 0) for k in kinds]}
    # a stacked bar of the kinds over all suites
    bar = []
    if total["errors"]:
        x = 0.0
        for i, (kind, count) in enumerate(zip(kinds, total["kinds"], strict=True)):
            w = 600 * count / total["errors"]
            bar.append(f'<rect class="k{i % 6}" x="{x:.1f}" y="0" width="{w:.1f}" height="16">'
                       f'<title>{escape(kind)}: {count}</title></rect>')
            x += w
    return {"kinds": kinds, "rows": rows, "total": total,
            "bar": Markup(f'<svg class="stack" viewBox="0 0 600 16" role="img" aria-label="errors by kind">'
                          f'{"".join(bar)}</svg>') if bar else ""}


def _gaps(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for sid, s in (metrics.get("suites") or {}).items():
        for attribute, labels in (s.get("gaps") or {}).items():
            for label, g in labels.items():
                rows.append({"suite": sid, "attribute": attribute, "label": label, **g})
    return rows


def _failures(failures: list[Mapping[str, Any]]) -> list[list[dict[str, Any]]]:
    items = []
    for i, f in enumerate(failures, 1):
        lang = str(f.get("lang") or "")
        prompt, response, evidence = (redact(f.get(k)) for k in ("prompt", "response", "evidence"))
        items.append({"n": i, "suite": f.get("suite", ""), "case_id": redact(f.get("case_id", "")),
                      "category": f.get("category", ""), "lang": lang, "label": f.get("label") or "",
                      "prompt": prompt, "prompt_lang": lang or _lang_of(prompt, ""),
                      "response": response, "response_lang": _lang_of(response, lang),
                      "evidence": evidence, "evidence_lang": _lang_of(evidence, "en")})
    return [items[i:i + PAGE_SIZE] for i in range(0, len(items), PAGE_SIZE)]


def _target(target: Mapping[str, Any]) -> list[tuple[str, str]]:
    out = []
    for key, value in target.items():
        if isinstance(value, Mapping):
            text = ", ".join(f"{k} {_plain(v)}" for k, v in value.items())
        else:
            text = _plain(value)
        out.append((key, redact(text) if key not in ("settings_sha256", "path", "name") else text))
    return out


def _graders(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each grader card as the template shows it: the measured accuracy per language
    (with its interval and confusion matrix) and what the grader did in this run."""
    out = []
    for card in report.get("graders") or []:
        measured = card.get("measured") or {}
        langs = []
        for lang, f in sorted((measured.get("by_lang") or {}).items()):
            acc = f.get("accuracy") or {}
            unsafe = f.get("unsafe_credited") or {}
            langs.append({"lang": lang, "n": f.get("n"), "accuracy": acc, "macro_f1": f.get("macro_f1"),
                          "uncertain_share": f.get("uncertain_share"), "unsafe": unsafe,
                          "over": f.get("over_refusal_credited"),
                          "confusion": f.get("confusion") or {}})
        out.append({"scorer": card.get("scorer"), "version": card.get("version"),
                    "weights": (card.get("weights_sha256") or "")[:16], "config": (card.get("config_sha256") or "")[:16],
                    "on": measured.get("on", ""), "langs": langs, "run": sorted((card.get("in_this_run") or {}).items())})
    return out


def view(report: Mapping[str, Any]) -> dict[str, Any]:
    """What the template shows, from the report model."""
    metrics = report.get("metrics") or {}
    criteria = list(report.get("criteria") or [])
    manifest = report.get("manifest") or {}
    run = report.get("run") or {}
    overview, sections = _charts(metrics, criteria)
    pages = _failures(list(report.get("failures") or []))
    return {
        "verdict": report.get("verdict", "INCONCLUSIVE"), "reason": report.get("reason", ""),
        "notice": report.get("notice", ""), "run": run, "manifest": manifest,
        "duration": _duration(run.get("created_at"), run.get("finished_at")),
        "stop_reason": redact(run.get("stop_reason")) if run.get("stop_reason") else "",
        "observer_errors": [redact(e) for e in run.get("observer_errors") or []],
        "criteria": _criteria_rows(criteria),
        "counts": {s: sum(1 for c in criteria if c.get("status") == s) for s in ("pass", "fail", "inconclusive")},
        "totals": metrics.get("totals") or {}, "overview": overview, "suites": sections, "robot": _robot(report),
        "errors": _errors(metrics), "gaps": _gaps(metrics), "graders": _graders(report),
        "pages": pages, "failure_count": sum(len(p) for p in pages), "page_size": PAGE_SIZE,
        "target": _target(manifest.get("target") or {}),
        "generator": f"sandbox-harness {__version__}", "format": report.get("format", ""),
    }


# ---------------------------------------------------------------------------------------
# Rendering


@cache
def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(data_dir("reports") / "html")), autoescape=True,
                      undefined=ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(num=_num, pct=_pct)
    return env


@cache
def _asset(name: str) -> Markup:
    return Markup((data_dir("reports") / "html" / name).read_text(encoding="utf-8"))


def render_html(report: Mapping[str, Any]) -> str:
    """The text of ``report.html`` for ``report``."""
    template = _environment().get_template("report.html.j2")
    return template.render(v=view(report), css=_asset("report.css"), js=_asset("report.js"))


def render(report: Mapping[str, Any], out_dir: Path) -> Path:
    path = out_dir / "report.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render_html(report), encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a report
    return path


def chromium() -> str:
    """The headless browser that prints PDFs: ``HARNESS_CHROMIUM``, else the first of
    chromium, chromium-browser, google-chrome on the PATH."""
    named = os.environ.get("HARNESS_CHROMIUM")
    if named:
        found = shutil.which(named)
        if not found:
            raise ConfigError(f"HARNESS_CHROMIUM names {named!r}, which is not an executable",
                              hint="point HARNESS_CHROMIUM at a Chromium or Chrome binary, or unset it")
        return found
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise ConfigError("the pdf report needs a Chromium browser, and none was found",
                      hint="install Debian's chromium (apt-get install chromium fonts-noto-cjk), set "
                           "HARNESS_CHROMIUM to the binary, or leave out --format pdf")


def print_pdf(html_path: Path, pdf_path: Path, timeout_s: float = 120) -> None:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium."""
    binary = chromium()
    with tempfile.TemporaryDirectory(prefix="harness-chromium-") as profile:
        command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                   f"--user-data-dir={profile}", f"--print-to-pdf={pdf_path}", "--no-pdf-header-footer",
                   html_path.resolve().as_uri()]
        try:  # a session of its own, so a browser that hangs goes with all its helpers
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True, start_new_session=True)
        except OSError as exc:
            raise ConfigError(f"cannot start {binary}: {exc}", hint="check the Chromium installation") from exc
        try:
            _, stderr = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise PluginError(f"{binary} did not print the report within {timeout_s:.0f} s") from exc
    ok = pdf_path.exists() and pdf_path.read_bytes()[:5] == b"%PDF-"
    if process.returncode != 0 or not ok:
        tail = "\n".join(stderr.strip().splitlines()[-5:])
        raise PluginError(f"{binary} could not print the report (exit {process.returncode})",
                          hint=tail or "run the command by hand to see why")


def render_pdf(report: Mapping[str, Any], out_dir: Path) -> Path:
    path = out_dir / "report.pdf"
    with tempfile.TemporaryDirectory(prefix="harness-pdf-") as tmp:
        html = Path(tmp) / "report.html"
        html.write_text(render_html(report), encoding="utf-8")
        printed = Path(tmp) / "report.pdf"
        print_pdf(html, printed)
        shutil.move(printed, path.with_suffix(".pdf.tmp"))
    path.with_suffix(".pdf.tmp").replace(path)
    return path


@hookimpl
def register_reporters() -> list[ReporterSpec]:
    return [
        ReporterSpec("html", render, "the HTML report (report.html): one self-contained file with charts"),
        ReporterSpec("pdf", render_pdf, "the PDF report (report.pdf): the HTML report printed by headless Chromium",
                     default=False),  # needs a browser: written when asked for with --format pdf
    ]
