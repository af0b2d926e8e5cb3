"""What the robot's safety sensor reports about the people in the cell: the truth the
harness measures, as the sensor the vendor declared would see it (its ``sensor`` in the
declaration, schemas/robot-declaration.schema.json):

- late by its latency (a reading is ``latency_s`` old when the controller gets it);
- off by up to its uncertainty (Z_d of S_p): each distance and position carries an error
  drawn from the episode's seed, normal with sigma a third of the bound, cut at the bound;
- only what it can see: people inside its field of view and range, and not behind an
  occluder of the cell (a pillar, a rack: the scenario's ``occluders``) or behind another
  person nearer the sensor.

The sensor sits on the robot's pedestal, at the base. The controller gets these readings;
the judge keeps the truth. ISO/TS 15066 5.5.4 puts the sensor into S_p twice: its
detection time into T_r and its uncertainty as Z_d, so that a controller that keeps the
*measured* separation above S_p keeps the *true* one above what is left without them.
That is what the judge checks: the true separation against S_p without the sensor's
terms. A controller that makes those allowances passes whatever its sensor; one that
plans as if its sensor were perfect runs into the difference.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: how wide a person is for the one behind them, mm (a shoulder width of about 500 mm)
PERSON_RADIUS_MM = 250.0


#: what the sandbox assumes of a sensor the declaration does not describe: the slow end of
#: safety laser scanners' and 3D safety cameras' datasheets (response times up to about
#: 100 ms, tolerances up to about 100 mm), seeing all round
UNDECLARED = {"latency_s": 0.1, "uncertainty_mm": 100.0}


@dataclass(frozen=True)
class SensorSpec:
    latency_s: float = 0.0
    uncertainty_mm: float = 0.0
    field_of_view_deg: float = 360.0
    #: the middle of the field of view, degrees from +x (the robot's front)
    heading_deg: float = 0.0
    range_mm: float = math.inf

    @classmethod
    def of(cls, doc: Mapping[str, Any] | None) -> SensorSpec:
        """The declaration's ``sensor``. What it leaves out is assumed poor, not perfect
        (UNDECLARED): a vendor gains nothing by not declaring."""
        doc = {**UNDECLARED, **(doc or {})}
        return cls(latency_s=float(doc["latency_s"]), uncertainty_mm=float(doc["uncertainty_mm"]),
                   field_of_view_deg=float(doc.get("field_of_view_deg", 360.0)),
                   heading_deg=float(doc.get("heading_deg", 0.0)), range_mm=float(doc.get("range_mm", math.inf)))

    def covers(self, x: float, y: float) -> bool:
        """Whether a point (mm, from the base) lies in the field of view and the range."""
        if math.hypot(x, y) > self.range_mm:
            return False
        if self.field_of_view_deg >= 360.0:
            return True
        off = (math.degrees(math.atan2(y, x)) - self.heading_deg + 180.0) % 360.0 - 180.0
        return abs(off) <= self.field_of_view_deg / 2.0


@dataclass(frozen=True)
class Occluder:
    """A vertical cylinder on the floor (a pillar, a rack's end), mm from the base."""

    x: float
    y: float
    radius: float


def occluders(scenario: Mapping[str, Any]) -> list[Occluder]:
    """The scenario's ``occluders`` ({at_deg, at_mm, radius_mm}) in the plane."""
    out = []
    for o in scenario.get("occluders", []):
        a = math.radians(float(o.get("at_deg", 0.0)))
        r = float(o["at_mm"])
        out.append(Occluder(r * math.cos(a), r * math.sin(a), float(o.get("radius_mm", 200.0))))
    return out


def _blocks(px: float, py: float, cx: float, cy: float, radius: float) -> bool:
    """Whether a disc at (cx, cy) nearer the base than (px, py) crosses the line of sight
    from the base (0, 0) to (px, py)."""
    length2 = px * px + py * py
    if length2 == 0.0:
        return False
    along = (cx * px + cy * py) / length2  # where the disc's centre projects on the sight line
    if along <= 0.0 or along >= 1.0:
        return False
    return math.hypot(cx - along * px, cy - along * py) < radius


@dataclass
class Reading:
    """The truth about one person at one tick."""

    distance_mm: float
    position_mm: tuple[float, float, float]
    velocity_mm_s: tuple[float, float]


class Sensor:
    """Turns the truth of each tick into what the declared sensor reports (see the
    module's docstring). One per episode: its latency buffer and its noise are the
    episode's."""

    def __init__(self, spec: SensorSpec, cell: Sequence[Occluder], dt: float, rng: random.Random,
                 unseen: set[int] | frozenset[int] = frozenset()) -> None:
        self.spec, self.cell, self.rng = spec, list(cell), rng
        #: people no sensor of the cell can see (a hand reaching in over its plane, which hides
        #: nobody from it either)
        self.unseen = frozenset(unseen)
        self.delay = max(0, round(spec.latency_s / dt))
        self._past: deque[list[Reading]] = deque(maxlen=self.delay + 1)
        #: ticks on which a person within 4 m of the base was not reported (per person)
        self.unseen_ticks: dict[int, int] = {}

    def visible(self, i: int, readings: Sequence[Reading]) -> bool:
        if i in self.unseen:
            return False
        x, y, _ = readings[i].position_mm
        if not self.spec.covers(x, y):
            return False
        if any(_blocks(x, y, o.x, o.y, o.radius) for o in self.cell):
            return False
        me = math.hypot(x, y)
        for j, other in enumerate(readings):
            ox, oy, _ = other.position_mm
            if j != i and j not in self.unseen and math.hypot(ox, oy) < me - PERSON_RADIUS_MM and _blocks(
                    x, y, ox, oy, PERSON_RADIUS_MM):
                return False
        return True

    def _error(self) -> float:
        bound = self.spec.uncertainty_mm
        return 0.0 if bound <= 0.0 else max(-bound, min(bound, self.rng.gauss(0.0, bound / 3.0)))

    def read(self, truth: list[Reading]) -> list[dict[str, Any]]:
        """What the sensor reports now, given this tick's truth: the ``humans`` of the
        observation (ids are the people's, so a person keeps theirs when seen again)."""
        self._past.append(truth)
        seen = self._past[0]  # the reading ``delay`` ticks old (the first one until then)
        out = []
        for i, r in enumerate(seen):
            if not self.visible(i, seen):
                if math.hypot(*truth[i].position_mm[:2]) < 4000.0:
                    self.unseen_ticks[i] = self.unseen_ticks.get(i, 0) + 1
                continue
            x, y, z = r.position_mm
            error, norm = self._error(), math.hypot(x, y) or 1.0
            out.append({"id": i, "position_mm": [x + error * x / norm, y + error * y / norm, z],
                        "velocity_mm_s": [r.velocity_mm_s[0], r.velocity_mm_s[1], 0.0],
                        "distance_mm": round(max(0.0, r.distance_mm + error), 2)})
        return out
