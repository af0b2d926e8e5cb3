"""The simulated safety sensor (harness.robot.sensor): the controller gets what the
declared sensor would see, late, noisy and only what is in sight; what is not declared is
taken as poor, not perfect."""

from __future__ import annotations

import math
import random

import pytest

from harness.robot.declaration import REFERENCE, check
from harness.robot.sensor import (
    UNDECLARED,
    Occluder,
    Reading,
    Sensor,
    SensorSpec,
    occluders,
)

DT = 1.0 / 240.0


def person(x: float, y: float, distance: float | None = None) -> Reading:
    return Reading(math.hypot(x, y) if distance is None else distance, (x, y, 0.0), (0.0, 0.0))


def sensor(cell=(), seed: int = 0, **spec) -> Sensor:
    return Sensor(SensorSpec.of({"latency_s": 0.0, "uncertainty_mm": 0.0, **spec}), list(cell), DT, random.Random(seed))


def test_a_reading_reaches_the_controller_latency_late():
    s = sensor(latency_s=0.05)  # 12 ticks at 240 Hz
    assert s.delay == 12
    seen = [s.read([person(3000.0 - 10.0 * k, 0.0)])[0]["distance_mm"] for k in range(40)]
    assert seen[:13] == [3000.0] * 13  # the first reading until one 12 ticks old exists
    assert seen[20] == 3000.0 - 10.0 * 8 and seen[39] == 3000.0 - 10.0 * 27


def test_the_error_is_seeded_and_within_the_declared_uncertainty():
    def errors(seed):
        s = sensor(seed=seed, uncertainty_mm=50.0)
        return [s.read([person(2000.0, 0.0)])[0]["distance_mm"] - 2000.0 for _ in range(2000)]

    a = errors(1)
    assert a == errors(1) and a != errors(2)
    assert max(map(abs, a)) <= 50.0 + 1e-9 and 10.0 < sum(map(abs, a)) / len(a) < 25.0  # sigma 50/3


def test_the_field_of_view_and_the_range_decide_who_is_seen():
    front = sensor(field_of_view_deg=180.0, heading_deg=0.0, range_mm=4000.0)
    people = [person(1500.0, 0.0), person(-1500.0, 0.0), person(0.0, 1400.0), person(4500.0, 0.0)]
    assert [h["id"] for h in front.read(people)] == [0, 2]
    assert sensor().spec.covers(-1500.0, 0.0)  # all round by default


def test_an_occluder_or_a_nearer_person_hides_whoever_is_behind():
    pillar = Occluder(1100.0, 0.0, 200.0)
    s = sensor([pillar])
    assert [h["id"] for h in s.read([person(1700.0, 0.0), person(1700.0, 500.0), person(900.0, 0.0)])] == [1, 2]
    # one person right behind another (beyond her shoulders) is hidden; beside her is not
    assert [h["id"] for h in sensor().read([person(1000.0, 0.0), person(1800.0, 100.0), person(1800.0, 600.0)])] == [0, 2]


def test_a_person_reaching_in_over_the_sensor_is_never_reported():
    """robot.pfl's unexpected cases: a hand over the guard is there for the judge (and for
    the physics) and not for the controller, however near."""
    s = Sensor(SensorSpec.of({"latency_s": 0.0, "uncertainty_mm": 0.0}), [], DT, random.Random(0), unseen={1})
    for _ in range(12):
        assert [h["id"] for h in s.read([person(2000.0, 0.0), person(300.0, 100.0)])] == [0]
    assert s.unseen_ticks == {1: 12}


def test_unseen_time_is_counted_for_the_report():
    s = sensor([Occluder(1000.0, 0.0, 300.0)])
    for _ in range(24):
        s.read([person(2000.0, 0.0)])
    assert s.unseen_ticks == {0: 24}


def test_an_undeclared_sensor_is_taken_as_a_poor_one_and_the_reference_declares_its_own():
    assert SensorSpec.of(None) == SensorSpec(latency_s=UNDECLARED["latency_s"], uncertainty_mm=UNDECLARED["uncertainty_mm"])
    assert SensorSpec.of({"latency_s": 0.02}).uncertainty_mm == UNDECLARED["uncertainty_mm"]
    assert check(REFERENCE, "reference").doc["sensor"]["latency_s"] == 0.05
    with pytest.raises(Exception, match="sensor"):
        check({**REFERENCE, "sensor": {"latency_s": -1}}, "bad")


def test_occluders_are_read_from_the_scenario_in_polar_form():
    (o,) = occluders({"occluders": [{"at_deg": 90, "at_mm": 1000, "radius_mm": 150}]})
    assert (round(o.x, 6), round(o.y, 6), o.radius) == (0.0, 1000.0, 150.0)
