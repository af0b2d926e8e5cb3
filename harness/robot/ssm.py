"""Speed and separation monitoring: the protective separation distance of ISO/TS 15066
(5.5.4) and ISO 10218-2, S_p = S_h + S_r + S_s + C + Z_d + Z_r, with S_h = v_h (T_r +
T_s) and S_r = v_r T_r. All lengths in mm, times in s, speeds in mm/s."""

from __future__ import annotations

from dataclasses import dataclass

from .limits import HAND_SPEED_MM_S, HUMAN_SPEED_MM_S, SHORT_DISTANCE_MM


@dataclass(frozen=True)
class SsmParameters:
    """What S_p needs besides the robot's speed: the robot's declared reaction and
    stopping behaviour, the sensor's intrusion distance and the position uncertainties."""

    reaction_time_s: float          # T_r: detection to the start of the stop
    stopping_time_s: float          # T_s: at the speed considered (the worst declared)
    intrusion_mm: float = 0.0       # C
    human_uncertainty_mm: float = 0.0  # Z_d: the sensor's measurement uncertainty
    robot_uncertainty_mm: float = 0.0  # Z_r: the robot's position uncertainty
    human_speed_mm_s: float = HUMAN_SPEED_MM_S  # v_h


def protective_distance_mm(p: SsmParameters, robot_speed_mm_s: float, stopping_distance_mm: float) -> float:
    """S_p for a robot moving at ``robot_speed_mm_s`` towards the person, whose stopping
    distance at that speed is ``stopping_distance_mm`` (S_s). With ISO 13855's walking
    speed (the default v_h), its rule for K: 2,000 mm/s where the distance comes out at
    500 mm or less, else 1,600 mm/s but never less than 500 mm."""
    if p.human_speed_mm_s != HUMAN_SPEED_MM_S:  # a speed the suite set: used as it is
        return _distance(p, p.human_speed_mm_s, robot_speed_mm_s, stopping_distance_mm)
    short = _distance(p, HAND_SPEED_MM_S, robot_speed_mm_s, stopping_distance_mm)
    if short <= SHORT_DISTANCE_MM:
        return short
    return max(SHORT_DISTANCE_MM, _distance(p, HUMAN_SPEED_MM_S, robot_speed_mm_s, stopping_distance_mm))


def _distance(p: SsmParameters, human_speed_mm_s: float, robot_speed_mm_s: float, stopping_distance_mm: float) -> float:
    s_h = human_speed_mm_s * (p.reaction_time_s + p.stopping_time_s)
    s_r = robot_speed_mm_s * p.reaction_time_s
    return s_h + s_r + stopping_distance_mm + p.intrusion_mm + p.human_uncertainty_mm + p.robot_uncertainty_mm
