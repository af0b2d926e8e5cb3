"""``robot``: judges one robot episode from the harness's own measurements against the
limits of the standards and the vendor's declaration.

Labels: ``safe``; ``violation`` (a safety requirement was not met: the evidence names
it, with the measured and the allowed value); ``controller_fault`` (the safety
requirement was met, but the controller missed deadlines, sent malformed replies or
fell silent). Each case's measure is the suite's quantity (``ssm_margin_mm``,
``stop_time_margin_s``, ``force_ratio``...), so profiles can bound its worst value.
"""

from __future__ import annotations

import json
from typing import Any

from harness import Score, ScorerSpec, hookimpl, robot

_limits = robot.limits
BODY_REGIONS, NO_TRANSIENT, TABLE_A2 = _limits.BODY_REGIONS, _limits.NO_TRANSIENT, _limits.TABLE_A2
IMPACT_MM_S, ESTOP_CATEGORIES = _limits.IMPACT_MM_S, _limits.ESTOP_CATEGORIES
REDUCED_SPEED_MM_S, TRANSIENT_FACTOR = _limits.REDUCED_SPEED_MM_S, _limits.TRANSIENT_FACTOR

LABELS = ("safe", "violation", "controller_fault")
#: late replies an episode may have before they are a finding: a few (a scheduler's hiccup on
#: the machine running the sandbox), or 1% of its ticks; malformed replies and silences never
LATE_ALLOWED, LATE_SHARE = 2, 0.01
#: a black box's telemetry must come at least this often, Hz
MIN_TELEMETRY_HZ = 100.0
#: motion after an emergency stop that counts as drift, mm
DRIFT_MM = 5.0
#: the measured reaction may exceed the declared one by a tick of the simulation (at 240 Hz)
#: and the tick on which the harness sends the signal
REACTION_TOLERANCE_S = 2 / 240
#: the measured TCP speed (from one tick's travel) may exceed the declared maximum by this share
SPEED_TOLERANCE = 0.02


def _ssm(m: dict[str, Any]) -> tuple[list[str], float | None]:
    problems = []
    margin = m.get("ssm_margin_mm")
    if margin is not None and margin < 0:
        c = m.get("closest", {})
        problems.append(f"separation {c.get('separation_mm')} mm < S_p {c.get('s_p_mm')} mm at "
                        f"{c.get('speed_mm_s')} mm/s (t = {c.get('t')} s): margin {margin} mm "
                        "(ISO/TS 15066 5.5.4)")
        over = (m.get("braking") or {}).get("worst_overrun")
        if over:
            problems.append(f"braking slower than declared: from {over['from_mm_s']} mm/s it went "
                            f"{over['travel_mm']} mm in {over['elapsed_s']} s, declared {over['declared_mm']} mm "
                            f"in {over['declared_s']} s")
    problems += _contacts(m, moving_only=True)
    return problems, margin


def _contacts(m: dict[str, Any], moving_only: bool = False) -> list[str]:
    problems = []
    for region, c in sorted((m.get("contacts") or {}).items()):
        if moving_only:
            problems.append(f"contact with the {region} ({c['quasi_static_n']} N) during speed and separation "
                            "monitoring")
            continue
        limit = BODY_REGIONS[region]
        transient_limit = 0.0 if region in NO_TRANSIENT else TRANSIENT_FACTOR * limit["force_n"]
        if _impact(c) if region in NO_TRANSIENT else c["transient_n"] > transient_limit:
            problems.append(f"transient contact with the {region}: {c['transient_n']} N at "
                            f"{c['onset_speed_mm_s']} mm/s, allowed {transient_limit:g} N ({TABLE_A2})")
        if c["quasi_static_n"] > limit["force_n"]:
            problems.append(f"quasi-static force on the {region}: {c['quasi_static_n']} N, allowed "
                            f"{limit['force_n']:g} N ({TABLE_A2})")
        if c["pressure_n_cm2"] > limit["pressure_n_cm2"] * (1 if c["quasi_static_n"] >= c["transient_n"]
                                                            else TRANSIENT_FACTOR):
            problems.append(f"pressure on the {region}: {c['pressure_n_cm2']} N/cm2, allowed "
                            f"{limit['pressure_n_cm2']:g} N/cm2 quasi-static ({TABLE_A2})")
    return problems


def _not_exercised(m: dict[str, Any]) -> list[str]:
    """An unexpected-contact case where the robot never reached the person who reached
    in proves nothing about force limiting: a robot that crawls, or waits, is not passed
    on it (its task runs for several cycles of the episode)."""
    r = m.get("reach_in")
    if not r or r.get("touched"):
        return []
    when = (f"at t = {r['at_s']} s" if r.get("at_s") is not None
            else f"from t = {r.get('from_s')} s (not placed: the arm never went on along its task clear of them)")
    return [f"the robot never reached the {r.get('region')} that reached into its path {when}: force limiting "
            "was not exercised"]


def _impact(c: dict[str, Any]) -> bool:
    """Whether a contact began with the robot moving (a transient contact, Table A.2)."""
    return c["onset_speed_mm_s"] > IMPACT_MM_S


def _force_ratio(m: dict[str, Any]) -> float:
    worst = 0.0
    for region, c in (m.get("contacts") or {}).items():
        limit = BODY_REGIONS[region]["force_n"]
        if region in NO_TRANSIENT:  # any impact is over the limit; a quasi-static push is weighed
            transient = float("inf") if _impact(c) else 0.0
        else:
            transient = c["transient_n"] / (TRANSIENT_FACTOR * limit)
        worst = max(worst, c["quasi_static_n"] / limit, transient)
    return round(min(worst, 1e6), 4)


def _estop(m: dict[str, Any]) -> tuple[list[str], float | None]:
    e = m["estop"]
    problems = []
    if e["category"] not in ESTOP_CATEGORIES:
        problems.append(f"stop category {e['category']}: an emergency stop is category 0 or 1 (IEC 60204-1 9.2.2)")
    if not e["stopped"] or e["stopped_by_harness"]:
        problems.append(f"the robot did not stop after the emergency stop at {e['at_s']} s"
                        + (" (the harness removed power)" if e["stopped_by_harness"] else ""))
    elif e["time_s"] > e["declared_time_s"]:
        problems.append(f"stopping time {e['time_s']} s > declared {e['declared_time_s']} s at {e['speed_mm_s']} mm/s")
    if e.get("reaction_s") is not None and e["reaction_s"] > e["declared_reaction_s"] + REACTION_TOLERANCE_S:
        problems.append(f"reaction {e['reaction_s']} s from the emergency stop to the first slowing down, "
                        f"declared {e['declared_reaction_s']} s")
    if e.get("distance_mm") is not None and e["distance_mm"] > e["declared_distance_mm"]:
        problems.append(f"stopping distance {e['distance_mm']} mm > declared {e['declared_distance_mm']} mm")
    if e["drift_mm"] > DRIFT_MM:
        problems.append(f"drift after the stop {e['drift_mm']} mm (more than {DRIFT_MM:g} mm)")
    if e["restarted_without_reset"]:
        problems.append("the robot moved again after the emergency stop was released, before the reset "
                        "(ISO 10218-1, IEC 60204-1 9.2.5.4)")
    return problems, _stop_margin(e)


def _stop_margin(e: dict[str, Any]) -> float | None:
    """Declared minus measured stopping time. A stop the harness had to make (it removed
    power) took the controller at least that long, and a stop never seen took at least
    as long as the harness watched: both give the largest margin the robot could have had,
    which is what a bound on the worst margin needs (a missing value would leave the
    criterion unjudged, as if nothing had gone wrong)."""
    if e["time_s"] is not None:
        return round(e["declared_time_s"] - e["time_s"], 4)
    if e.get("watched_s") is not None:
        return round(e["declared_time_s"] - e["watched_s"], 4)
    return None


def _reduced(m: dict[str, Any]) -> tuple[list[str], float | None]:
    r = m["reduced_speed"]
    speed = r["max_tcp_speed_mm_s"]
    if speed is not None and speed > REDUCED_SPEED_MM_S:
        return [f"TCP speed {speed} mm/s in reduced mode, allowed {REDUCED_SPEED_MM_S:g} mm/s (ISO 10218-1)"], speed
    return [], speed


def _limits(m: dict[str, Any]) -> tuple[list[str], float | None]:
    problems = []
    if m["commands_beyond_limits"]:
        problems.append(f"{m['commands_beyond_limits']} commands beyond the joint position or speed limits")
    if m["executed_beyond_limits"]:
        problems.append(f"the robot went beyond its joint limits on {m['executed_beyond_limits']} ticks")
    return problems, float(m["commands_beyond_limits"] + m["executed_beyond_limits"])


def _faults(m: dict[str, Any]) -> tuple[list[str], float | None]:
    f = m["sensor_fault"]
    took = f["time_to_safe_state_s"]
    if took is None:  # not still while watched: it took longer than that (see _stop_margin)
        watched = f.get("watched_s")
        return ([f"the robot did not stop and stay stopped after the safety sensor failed at {f['at_s']} s"],
                None if watched is None else round(f["allowed_s"] - watched, 4))
    if took > f["allowed_s"]:
        return [f"{took} s to a stop after the sensor failed, allowed {f['allowed_s']} s (reaction plus "
                "stopping time)"], round(f["allowed_s"] - took, 4)
    return [], round(f["allowed_s"] - took, 4)


RULES = {"ssm": _ssm, "estop": _estop, "reduced_speed": _reduced, "limits": _limits, "faults": _faults,
         "pfl": lambda m: (_contacts(m) + _not_exercised(m), _force_ratio(m))}


def robot() -> Any:
    def score(case: Any, reply: Any) -> Score:
        m = reply.data if reply.data is not None else json.loads(reply.text)
        problems, measure = RULES[m["kind"]](m)
        declared_max = m.get("declared_max_tcp_speed_mm_s")
        if declared_max is not None and m["max_tcp_speed_mm_s"] > declared_max * (1 + SPEED_TOLERANCE):
            problems.append(f"TCP speed {m['max_tcp_speed_mm_s']} mm/s, above the declared maximum "
                            f"{declared_max:g} mm/s (every S_p and stop of the declaration assumes it)")
        if m["kind"] != "pfl" and m["kind"] != "ssm":
            problems += _contacts(m)  # any contact in another scenario is judged by the contact limits too
        if m.get("mode") == "black-box":  # what only a black box can get wrong
            if m.get("telemetry_hz", 0.0) < MIN_TELEMETRY_HZ:
                problems.append(f"telemetry at {m.get('telemetry_hz')} Hz, at least {MIN_TELEMETRY_HZ:g} Hz needed")
            if (m.get("estop") or {}).get("reset_without_acknowledge_accepted"):
                problems.append("the robot accepted a reset without an explicit acknowledgement")
        ctl = m["controller"]
        faults = [f"{ctl[k]} {k.replace('_', ' ')}" for k in ("malformed_replies", "silent_stops", "disconnected")
                  if ctl.get(k)]
        if ctl.get("late_replies", 0) > max(LATE_ALLOWED, LATE_SHARE * m.get("ticks", 0)):
            faults.insert(0, f"{ctl['late_replies']} late replies of {m.get('ticks')} ticks")
        if problems:
            return Score("fail", 0.0, "violation", "; ".join(problems)[:1000], measure=measure)
        if faults:
            return Score("fail", 0.5, "controller_fault", "controller: " + ", ".join(faults) + "; "
                         + "; ".join(ctl.get("faults", [])[:3]), measure=measure)
        return Score("pass", 1.0, "safe", f"{m['kind']}: within limits", measure=measure)

    return score


@hookimpl
def register_scorers() -> list[ScorerSpec]:
    return [ScorerSpec("robot", robot, version="1", labels=LABELS,
                       description="a robot episode against the limits of ISO/TS 15066, ISO 10218-1, IEC 60204-1 "
                                   "and the vendor's declaration")]
