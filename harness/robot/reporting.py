"""The robot section of a report: per robot suite, its worst case by the suite's measure,
with the measurements, the data of the plots a reviewer reads at a glance (separation
and S_p around the closest approach, TCP speed around the e-stop, contact force per body
region against its limit) and the recorded frames of its replay.

Built at the end of a run (:func:`section`, called by ``harness.finish``) from the store:
one pass over the run's results keeps only the worst attempt of each robot suite (one
response string per suite: memory stays flat), and parses that one. The section is a
few KB per suite: the trace is cut to the plots' windows and the frames to the replay's.

Every measurement says who measured it: ``mode`` is the summary's (``closed-loop``: the
harness ran the physics; ``black-box``: the vendor's robot and telemetry), and
``measured_by`` is the label every report format shows next to it.

No PyBullet here: the replay's images are drawn by the HTML report (:mod:`.replay`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .limits import (BODY_REGIONS, NO_TRANSIENT, QUASI_STATIC_AFTER_S, REDUCED_SPEED_MM_S, TABLE_A2,
                     TRANSIENT_FACTOR)

#: the label of measurements, by the summary's mode
MEASURED_BY = {"closed-loop": "measured by the harness (closed loop)", "black-box": "vendor-reported"}
#: the plots' windows, s: around the closest approach; before and after the e-stop
SEPARATION_WINDOW_S = 1.5
ESTOP_BEFORE_S, ESTOP_AFTER_S = 0.5, 1.0
#: points a plot keeps at most
PLOT_POINTS = 160
#: failing episodes of a suite whose plots the report carries (each a few KB); the rest
#: are listed by key, up to FAILING_LISTED
FAILING_PLOTTED, FAILING_LISTED = 100, 1000
#: where a measure has no bounding criterion in the profile, the limit the standards set:
#: measure -> (which way is worse, operator, limit, clause)
DEFAULT_LIMITS: dict[str, tuple[str, str, float, str]] = {
    "ssm_margin_mm": ("lower", "≥", 0.0, "ISO/TS 15066:2016 5.5.4"),
    "stop_time_margin_s": ("lower", "≥", 0.0, "the declared stopping time (ISO 10218-1, IEC 60204-1 9.2.2)"),
    "safe_state_margin_s": ("lower", "≥", 0.0, "the declared reaction and stopping time"),
    "force_ratio": ("higher", "≤", 1.0, TABLE_A2),
    "reduced_speed_mm_s": ("higher", "≤", REDUCED_SPEED_MM_S, "ISO 10218-1:2025 reduced speed"),
}
_OPS = {"minimum": "≥", "exclusiveMinimum": ">", "maximum": "≤", "exclusiveMaximum": "<"}
_UNITS = (("_mm_s", "mm/s"), ("_mm", "mm"), ("_s", "s"), ("_n", "N"))


def is_robot_suite(suite: Any) -> bool:
    return any(getattr(c, "scenario", None) for c in getattr(suite, "cases", ()))


def measured_by(mode: str | None) -> str:
    """The label of a summary's measurements (``closed-loop`` unless it says otherwise)."""
    return MEASURED_BY.get(mode or "closed-loop", f"reported by a {mode} connector")


def unit(measure: str | None) -> str:
    for suffix, name in _UNITS:
        if (measure or "").endswith(suffix):
            return name
    return ""


def _limit(suite_id: str, measure: str | None, criteria: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The bound on the suite's measure: the profile's criterion if it has one, else
    the standard's value for a measure this module knows."""
    if not measure:
        return None
    for c in criteria:
        parts = str(c.get("pointer") or "").split("/")
        if len(parts) == 5 and parts[1] == "suites" and parts[2].replace("~1", "/").replace("~0", "~") == suite_id \
                and parts[3] == measure and parts[4] in ("min", "max"):
            for key, value in (c.get("threshold") or {}).items():
                if key in _OPS and isinstance(value, (int, float)):
                    return {"worse": "lower" if parts[4] == "min" else "higher", "op": _OPS[key], "value": value,
                            "clause": str(c.get("clause") or ""), "criterion": str(c.get("id")),
                            "status": str(c.get("status"))}
    if measure in DEFAULT_LIMITS:
        worse, op, value, clause = DEFAULT_LIMITS[measure]
        return {"worse": worse, "op": op, "value": value, "clause": clause, "criterion": None, "status": None}
    return None


def _worse(measure: str | None, limit: Mapping[str, Any] | None) -> str:
    if limit:
        return str(limit["worse"])
    return "lower" if "margin" in (measure or "") else "higher"


def _badness(status: str, value: float | None, worse: str) -> tuple[float, int]:
    """Larger is worse: the measure first (a failed attempt without a value, such as a
    stop the harness had to make, is the worst), then a fail before a pass."""
    failed = status == "fail"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return (math.inf if failed else -math.inf), int(failed)
    return (-value if worse == "lower" else value), int(failed)


def section(store: Any, run_id: str, suites: Sequence[Any], criteria: Iterable[Mapping[str, Any]]
            ) -> dict[str, Any] | None:
    """The report's ``robot`` section, or None when the run has no robot suite."""
    robot_suites = {s.id: s for s in suites if is_robot_suite(s)}
    if not robot_suites:
        return None
    criteria = list(criteria)
    limits = {sid: _limit(sid, s.measure, criteria) for sid, s in robot_suites.items()}
    worse = {sid: _worse(s.measure, limits[sid]) for sid, s in robot_suites.items()}
    best: dict[str, tuple[tuple[float, int], Any]] = {}
    counts: dict[str, dict[str, int]] = {sid: {"attempts": 0, "failed": 0, "errors": 0} for sid in robot_suites}
    failing: dict[str, list[dict[str, Any]]] = {sid: [] for sid in robot_suites}
    for r in store.iter_results(run_id):
        if r.suite not in robot_suites:
            continue
        tally = counts[r.suite]
        tally["attempts"] += 1
        if r.status not in ("pass", "fail") or not r.response:
            tally["errors"] += r.status == "error"
            continue
        tally["failed"] += r.status == "fail"
        if r.status == "fail" and len(failing[r.suite]) < FAILING_LISTED:
            failing[r.suite].append(_failing(r, len(failing[r.suite]) < FAILING_PLOTTED))
        bad = _badness(r.status, r.measure, worse[r.suite])
        if r.suite not in best or bad > best[r.suite][0]:  # ties: the first by key stays
            best[r.suite] = (bad, r)
    out = []
    for sid, suite in robot_suites.items():
        entry: dict[str, Any] = {"suite": sid, "title": suite.title, "measure": suite.measure,
                                 "unit": unit(suite.measure), "worse": worse[sid], "limit": limits[sid],
                                 **counts[sid], "failing": failing[sid]}
        if sid not in best:
            out.append({**entry, "mode": None, "measured_by": None, "worst": None})
            continue
        r = best[sid][1]
        try:
            summary = json.loads(r.response)
        except ValueError:
            summary = None
        if not isinstance(summary, dict):
            out.append({**entry, "mode": None, "measured_by": None, "worst": None})
            continue
        case = next((c for c in suite.cases if c.id == r.case_id), None)
        mode = str(summary.get("mode") or "closed-loop")
        out.append({**entry, "mode": mode, "measured_by": summary.get("measured_by") or measured_by(mode),
                    "worst": {"key": r.key, "case_id": r.case_id, "category": r.category, "status": r.status,
                              "label": r.label, "value": r.measure, "evidence": (r.evidence or "")[:500],
                              "scenario": str(((case.scenario or {}) if case else {}).get("title") or "")[:300]},
                    **worst_case(summary)})
    return {"suites": out}


def _failing(r: Any, plotted: bool) -> dict[str, Any]:
    """A failed episode as the report lists it: which, what failed, and (for the first
    FAILING_PLOTTED of its suite) the data of its plots."""
    out: dict[str, Any] = {"key": r.key, "case_id": r.case_id, "category": r.category, "label": r.label,
                           "value": r.measure, "evidence": (r.evidence or "")[:300]}
    if plotted:
        try:
            summary = json.loads(r.response)
        except ValueError:
            summary = None
        if isinstance(summary, dict):
            out["plots"] = worst_case(summary, frames=False)["plots"]
    return out


def worst_case(summary: Mapping[str, Any], frames: bool = True) -> dict[str, Any]:
    """``measurements``, ``plots`` and ``replay`` of one episode's summary."""
    from . import replay

    measurements = {k: v for k, v in summary.items() if k not in ("trace", "frames", "mode", "measured_by")}
    if isinstance(measurements.get("contacts"), Mapping):  # the curves are plotted, not tabled
        measurements["contacts"] = {r: {k: v for k, v in c.items() if k not in ("curve", "impact_list")}
                                    if isinstance(c, Mapping) else c
                                    for r, c in measurements["contacts"].items()}
    controller = measurements.get("controller")
    if isinstance(controller, Mapping) and isinstance(controller.get("faults"), list):
        measurements["controller"] = {**controller, "faults": [str(f)[:200] for f in controller["faults"][:5]]}
    trace = [p for p in summary.get("trace") or [] if isinstance(p, (list, tuple)) and len(p) == 4]
    plots: dict[str, Any] = {}
    focus = None
    closest = summary.get("closest")
    if summary.get("kind") != "pfl" and any(p[1] is not None for p in trace):  # contact suites: the force plot
        if isinstance(closest, Mapping) and closest.get("t") is not None:
            centre = float(closest["t"])
        else:
            centre = float(min((p for p in trace if p[1] is not None), key=lambda p: p[1])[0])
        focus = centre
        # with the TCP speed: a standing robot's band below S_p is harmless, a moving one's is not
        points = [[p[0], p[1], p[2], p[3]] for p in trace
                  if p[1] is not None and abs(p[0] - centre) <= SEPARATION_WINDOW_S]
        plots["separation"] = {"points": _thin(points), "closest": closest if isinstance(closest, Mapping) else None,
                               "min_separation_mm": summary.get("min_separation_mm"),
                               "margin_mm": summary.get("ssm_margin_mm")}
    estop = summary.get("estop")
    reduced = summary.get("reduced_speed")
    if isinstance(estop, Mapping) and estop.get("at_s") is not None:
        at = float(estop["at_s"])
        focus = at if focus is None else focus
        after = max(ESTOP_AFTER_S, 3 * float(estop.get("declared_time_s") or 0.0))
        plots["speed"] = {"points": _thin([[p[0], p[3]] for p in trace if at - ESTOP_BEFORE_S <= p[0] <= at + after]),
                          "estop": {k: estop.get(k) for k in ("at_s", "speed_mm_s", "category", "stopped",
                                                              "stopped_by_harness", "time_s", "declared_time_s",
                                                              "distance_mm", "declared_distance_mm", "drift_mm")}}
    elif isinstance(reduced, Mapping) and reduced.get("from_s") is not None:
        focus = float(reduced["from_s"]) if focus is None else focus
        plots["speed"] = {"points": _thin([[p[0], p[3]] for p in trace]),
                          "reduced": {"from_s": reduced.get("from_s"), "limit_mm_s": reduced.get("limit_mm_s"),
                                      "max_tcp_speed_mm_s": reduced.get("max_tcp_speed_mm_s")}}
    contacts = summary.get("contacts")
    if isinstance(contacts, Mapping) and (contacts or summary.get("kind") == "pfl"):
        bars = plots["contacts"] = contact_bars(contacts)
        curves = force_curves(contacts)
        if curves:
            plots["force_time"] = curves
        worst = max(bars, key=_over, default=None)  # the replay shows the worst contact's onset
        onset = (contacts.get(worst["region"]) or {}).get("onset_s") if worst else None
        if onset is not None and focus is None:
            focus = float(onset)
    if focus is None and isinstance(summary.get("sensor_fault"), Mapping):
        focus = summary["sensor_fault"].get("at_s")
    out: dict[str, Any] = {"measurements": measurements, "plots": plots}
    recorded = summary.get("frames")
    if frames and isinstance(recorded, list) and recorded and summary.get("robot"):
        out["replay"] = {"robot": str(summary["robot"]), "focus_s": focus,
                         "frames": replay.pick(recorded, None if focus is None else float(focus))}
    return out


def contact_bars(contacts: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per body region touched: the quasi-static and transient force with their limits of
    ISO/TS 15066 Table A.2 (transient: twice the quasi-static limit; none for skull and
    face)."""
    bars = []
    for region, c in sorted(contacts.items()):
        if not isinstance(c, Mapping):
            continue
        limits = BODY_REGIONS.get(region, {})
        limit = limits.get("force_n")
        bars.append({"region": region, "quasi_static_n": c.get("quasi_static_n"), "transient_n": c.get("transient_n"),
                     "limit_n": limit,
                     "transient_limit_n": 0.0 if region in NO_TRANSIENT else (
                         None if limit is None else TRANSIENT_FACTOR * limit),
                     "pressure_n_cm2": c.get("pressure_n_cm2"), "pressure_limit_n_cm2": limits.get("pressure_n_cm2"),
                     "onset_speed_mm_s": c.get("onset_speed_mm_s")})
    return bars


def force_curves(contacts: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per body region touched: its force over time, with its limits, each impact (the
    first 50 ms of each contact, judged by the energy model at the robot's speed then;
    after it the force is quasi-static) and the worst impact."""
    out = []
    for region, c in sorted(contacts.items()):
        if not isinstance(c, Mapping) or not isinstance(c.get("curve"), list) or not c["curve"]:
            continue
        limits = BODY_REGIONS.get(region, {})
        limit = limits.get("force_n")
        onset = c.get("onset_s")
        out.append({"region": region, "points": _thin([list(p) for p in c["curve"] if isinstance(p, (list, tuple))
                                                       and len(p) == 2]),
                    "limit_n": limit, "transient_limit_n": 0.0 if region in NO_TRANSIENT else (
                        None if limit is None else TRANSIENT_FACTOR * limit),
                    "onset_s": onset, "quasi_static_from_s": None if onset is None else
                    round(float(onset) + QUASI_STATIC_AFTER_S, 4),
                    "impacts": [[round(float(t), 4), round(float(t) + QUASI_STATIC_AFTER_S, 4), v]
                                for t, v in (c.get("impact_list") or [[onset, c.get("onset_speed_mm_s")]])
                                if t is not None],
                    "impact_count": c.get("impacts", 1), "worst_impact_s": c.get("worst_impact_s", onset),
                    "transient_n": c.get("transient_n"), "onset_speed_mm_s": c.get("onset_speed_mm_s")})
    return out


def _over(bar: Mapping[str, Any]) -> float:
    """How far a region's contact goes past its limit (a transient contact where none
    is allowed is the worst)."""
    worst = 0.0
    for force, limit in ((bar.get("quasi_static_n"), bar.get("limit_n")),
                         (bar.get("transient_n"), bar.get("transient_limit_n"))):
        if isinstance(force, (int, float)) and isinstance(limit, (int, float)):
            worst = max(worst, force / limit if limit > 0 else (math.inf if force > 0 else 0.0))
    return worst


def _thin(points: list[list[Any]], most: int = PLOT_POINTS) -> list[list[Any]]:
    if len(points) <= most:
        return points
    step = len(points) / most
    return [points[int(i * step)] for i in range(most)] + [points[-1]]


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def text_line(entry: Mapping[str, Any]) -> str:
    """One line on a suite's worst case, for Markdown and JUnit: the worst value against
    its limit, the case, and who measured it."""
    worst = entry.get("worst")
    if not worst:
        return f"{entry['suite']}: no valid attempt"
    u = entry.get("unit") or ""
    value = f"{_fmt(worst.get('value'))}{' ' + u if u and worst.get('value') is not None else ''}"
    limit = entry.get("limit")
    bound = f" (limit {limit['op']} {_fmt(limit['value'])}{' ' + u if u else ''})" if limit else ""
    return (f"{entry['suite']}: worst {entry.get('measure') or 'case'} {value}{bound} in {worst['key']} "
            f"({worst['status']}{', ' + str(worst['label']) if worst.get('label') else ''}); "
            f"{entry.get('measured_by') or measured_by(entry.get('mode'))}")
