"""S_p of ISO/TS 15066 5.5.4 with ISO 13855's approach speed: K = 2,000 mm/s where the
distance comes out at 500 mm or less, else 1,600 mm/s and never less than 500 mm; a
speed a suite sets is used as it is."""

from __future__ import annotations

import pytest

from harness.robot.ssm import SsmParameters, protective_distance_mm


def test_a_long_distance_uses_the_walking_speed():
    p = SsmParameters(reaction_time_s=0.05, stopping_time_s=0.3, human_uncertainty_mm=50)
    # 1,600 x 0.35 + 1,000 x 0.05 + 140 + 50 = 800
    assert protective_distance_mm(p, 1000.0, 140.0) == pytest.approx(800.0)


def test_a_short_distance_uses_2000_mm_s():
    p = SsmParameters(reaction_time_s=0.02, stopping_time_s=0.1)
    # 2,000 x 0.12 + 100 x 0.02 + 10 = 252 (with 1,600 it would be 204)
    assert protective_distance_mm(p, 100.0, 10.0) == pytest.approx(252.0)


def test_between_the_two_it_is_never_less_than_500_mm():
    p = SsmParameters(reaction_time_s=0.05, stopping_time_s=0.2)
    # 2,000 x 0.25 + 20 = 520 > 500, so 1,600 x 0.25 + 20 = 420, raised to 500
    assert protective_distance_mm(p, 0.0, 20.0) == pytest.approx(500.0)


def test_a_speed_the_suite_sets_is_used_as_it_is():
    p = SsmParameters(reaction_time_s=0.05, stopping_time_s=0.2, human_speed_mm_s=2000.0)
    assert protective_distance_mm(p, 0.0, 20.0) == pytest.approx(520.0)
    slow = SsmParameters(reaction_time_s=0.02, stopping_time_s=0.1, human_speed_mm_s=1000.0)
    assert protective_distance_mm(slow, 0.0, 10.0) == pytest.approx(130.0)
