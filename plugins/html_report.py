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

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import ChainableUndefined, Environment, FileSystemLoader
from markupsafe import Markup, escape

from harness import ConfigError, PluginError, ReporterSpec, __version__, data_dir, hookimpl

# the text, charts and robot section of the view live in modules of their own; the names
# tests and other reporters use are this module's too
from ._report_text import (  # noqa: F401 - EMAIL, SECRET, NUMBER: what redaction writes
    EMAIL,
    NUMBER,
    SECRET,
    _duration,
    _interval,
    _lang_of,
    _num,
    _pct,
    _plain,
    _thresholds,
    redact,
)
from ._robot_view import _flat, _robot  # noqa: F401 - _flat: the measurements' list, tested
from ._svg_charts import chart, mini_interval

#: failing examples per page of the pager (all of them show when printed)
PAGE_SIZE = 20

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
