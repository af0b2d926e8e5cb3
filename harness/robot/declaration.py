"""The vendor's declaration (schemas/robot-declaration.schema.json): read from a file
named by the target, or taken from the controller's ``GET /v1/info``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from harness.errors import ConfigError


@dataclass(frozen=True)
class Declaration:
    doc: dict[str, Any]

    @cached_property
    def _axes(self) -> list[list[tuple[float, float, float]]]:
        """(speed, time, distance) rows per axis, by speed: read once, used every tick."""
        by_axis: dict[str, list[tuple[float, float, float]]] = {}
        for row in self.doc["stopping"]:
            by_axis.setdefault(row.get("axis", "tcp"), []).append(
                (float(row["speed_mm_s"]), float(row["time_s"]), float(row["distance_mm"])))
        return [sorted(rows) for rows in by_axis.values()]

    @property
    def robot(self) -> str:
        return self.doc["robot"]

    @property
    def reaction_time_s(self) -> float:
        return float(self.doc["reaction_time_s"])

    @property
    def estop_category(self) -> int:
        return int(self.doc["estop_category"])

    @property
    def watchdog_s(self) -> float:
        return float(self.doc.get("watchdog_s", 0.1))

    @property
    def position_uncertainty_mm(self) -> float:
        return float(self.doc.get("position_uncertainty_mm", 0.0))

    def stopping(self, speed_mm_s: float) -> tuple[float, float]:
        """(time s, distance mm) to stop from ``speed_mm_s``: the worst axis, linear
        between the declared speeds, the slowest declared row below them, and above them
        extrapolated at the top row's mean deceleration (time in proportion to the speed,
        distance to its square): a speed beyond the declaration never gets the top row's
        stop (25 mm held at 900 mm/s from a table that ends at 250 mm/s)."""
        worst_t, worst_d = 0.0, 0.0
        for rows in self._axes:
            top_v, top_t, top_d = rows[-1]
            if speed_mm_s > top_v:
                f = speed_mm_s / top_v
                t, d = top_t * f, top_d * f * f
            elif speed_mm_s <= rows[0][0]:
                t, d = rows[0][1], rows[0][2]
            else:
                t, d = top_t, top_d
                for (s0, t0, d0), (s1, t1, d1) in zip(rows, rows[1:], strict=False):
                    if s0 <= speed_mm_s <= s1:
                        f = (speed_mm_s - s0) / max(1e-9, s1 - s0)
                        t, d = t0 + f * (t1 - t0), d0 + f * (d1 - d0)
                        break
            worst_t, worst_d = max(worst_t, t), max(worst_d, d)
        return worst_t, worst_d

    @property
    def worst_stopping_time_s(self) -> float:
        return max(float(r["time_s"]) for r in self.doc["stopping"])


def check(doc: Any, where: str) -> Declaration:
    """A Declaration, or ConfigError naming every problem at ``where``."""
    from harness.files import explain, pointer, validator

    problems = []
    for error in validator("robot-declaration").iter_errors(doc):
        message, hint = explain(error)
        problems.append(f"{where}{pointer(error.absolute_path) or '/'}: {message} ({hint})")
    if problems:
        raise ConfigError(f"{where} is not a valid robot declaration:\n  " + "\n  ".join(problems),
                          hint="see schemas/robot-declaration.schema.json")
    return Declaration(doc)


def load(path: Path) -> Declaration:
    from harness.files import parse, read_text

    text = read_text(path, ConfigError)
    return check(parse(path, text, ConfigError), str(path))


#: The declaration of the reference robots (``harness target serve reference-robot`` and
#: ``reference-robot-api``), and an example of a vendor's declaration.
REFERENCE: dict[str, Any] = {
    "robot": "franka_panda",
    "robot_class": "collaborative",
    "payload_kg": 3.0,
    "max_tcp_speed_mm_s": 1500.0,
    "reaction_time_s": 0.05,
    "position_uncertainty_mm": 5.0,
    "watchdog_s": 0.1,
    # two safety laser scanners on the pedestal, seeing all round: a reading is 50 ms old
    # when the controller gets it and within 50 mm of the truth
    "sensor": {"latency_s": 0.05, "uncertainty_mm": 50.0, "field_of_view_deg": 360.0, "range_mm": 6000.0},
    "stopping": [
        {"axis": "tcp", "speed_mm_s": 250.0, "time_s": 0.15, "distance_mm": 25.0},
        {"axis": "tcp", "speed_mm_s": 1000.0, "time_s": 0.25, "distance_mm": 140.0},
        {"axis": "tcp", "speed_mm_s": 1500.0, "time_s": 0.3, "distance_mm": 240.0},
    ],
    "estop_category": 1,
    "safety_functions": [
        {"name": "estop", "pl": "d", "category": 3}, {"name": "protective_stop", "pl": "d", "category": 3},
        {"name": "ssm", "pl": "d", "category": 3}, {"name": "reduced_speed", "pl": "d", "category": 3},
        {"name": "joint_limits", "pl": "d", "category": 3}, {"name": "watchdog", "pl": "d", "category": 3},
    ],
}
