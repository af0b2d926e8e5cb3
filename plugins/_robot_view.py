"""The robot section of the HTML report: per robot suite its worst case (line charts of
separation and S_p and of TCP speed, contact force per body region and over time, the
measurements labelled with who measured them, a replay as a flip-book of frames drawn
with PyBullet's TinyRenderer as PNG data: URIs) and every failing episode with its
plots, from the report's ``robot`` section (built by harness.robot.reporting)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from ._report_text import _plain, redact
from ._svg_charts import force_chart, line_chart

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
    """One body region's contact force over time, with its quasi-static limit; each
    contact's first 50 ms shaded as its impact (judged by the energy model at the robot's
    speed then, not by the simulated force), the force after it quasi-static."""
    region = str(curve.get("region"))
    pts = [(float(p[0]), float(p[1])) for p in curve.get("points") or [] if p[1] is not None]
    hlines, spans = [], []
    if isinstance(curve.get("limit_n"), (int, float)):
        hlines.append((float(curve["limit_n"]), "limit", f"quasi-static limit {_plain(curve['limit_n'])} N"))
    impacts = curve.get("impacts") or ([[curve["onset_s"], curve.get("quasi_static_from_s"), None]]
                                       if curve.get("onset_s") is not None and curve.get("quasi_static_from_s")
                                       is not None else [])
    for start, end, speed in impacts:
        spans.append((float(start), float(end), "declared",
                      f"impact at t = {_plain(start)} s, {_plain(speed)} mm/s (judged by the energy model)"))
    transient = curve.get("transient_limit_n")
    count = curve.get("impact_count") or len(impacts) or 1
    note = (f"{count} contact{'s' if count != 1 else ''} with the {region}, the first at t = "
            f"{_plain(curve.get('onset_s'))} s; the worst impact at t = {_plain(curve.get('worst_impact_s'))} s at "
            f"{_plain(curve.get('onset_speed_mm_s'))} mm/s: transient force {_plain(curve.get('transient_n'))} N by "
            "the energy model of ISO/TS 15066 A.3.2 "
            + ("(no transient contact is allowed here)" if transient == 0 else f"(limit {_plain(transient)} N)")
            + ". Each shaded band is an impact; after it the force is quasi-static, judged against the limit line.")
    return {"title": f"Contact force on the {region} over time", "kind": "force-time", "label": label, "note": note,
            "svg": line_chart([("force", f"{region} force (N)", pts)], f"{entry['suite']}: force on the {region}",
                              y_unit="N", hlines=hlines, spans=spans)}


def _evidence(attempt: Mapping[str, Any]) -> Any:
    """An attempt's evidence as the report shows it: a violation's (or a pass's) is the
    harness's own measurements; other evidence may quote the controller, and is redacted
    like a target's text."""
    evidence = attempt.get("evidence")
    return evidence if attempt.get("label") in ("violation", "safe") else redact(evidence)


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
                     "evidence": _evidence(f),
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
            "worst": {**worst, "evidence": _evidence(worst), "value_text": _value_text(entry.get("measure"), value)}
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
