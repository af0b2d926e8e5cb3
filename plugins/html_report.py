"""The HTML and PDF report formats.

``html`` writes ``report.html``: one self-contained file (inline CSS, a few lines of
inline script, charts as inline SVG drawn here in Python; nothing is fetched when it is
opened), rendered with the Jinja2 template ``reports/html/report.html.j2`` with
autoescape on. It holds the verdict banner, the criteria table, the rates per suite,
category and language with their 95% intervals and the criteria's thresholds, the
errors by kind, the failing examples (paged, 20 to a page) with secrets and personal
data masked by :func:`redact` before rendering, and the manifest.

``pdf`` writes ``report.pdf``: the same HTML printed by headless Chromium (the binary
named by ``HARNESS_CHROMIUM``, else ``chromium``, ``chromium-browser`` or
``google-chrome`` on the PATH).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import ChainableUndefined, Environment, FileSystemLoader
from markupsafe import Markup, escape

from harness import ConfigError, PluginError, ReporterSpec, __version__, data_dir, hookimpl

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


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


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
            "detail": redact(c.get("detail")) if c.get("status") != "pass" else "",
            "threshold": ", ".join(f"{op} {_plain(v)}".strip() for op, v in marks) or "—",
            "on": field if field in ("ci_low", "ci_high") else "",
            "source": c.get("threshold_source") or "",
            "measured": _num(measured),
            "interval": _interval(rate) if rate else "",
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
        "totals": metrics.get("totals") or {}, "overview": overview, "suites": sections,
        "errors": _errors(metrics), "gaps": _gaps(metrics),
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
