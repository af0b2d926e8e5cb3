"""The robot models the sandbox ships: URDFs from pybullet_data, with the facts the
sandbox needs (movable joints, the tool centre point's link, a home posture)."""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import ConfigError


@dataclass(frozen=True)
class RobotModel:
    id: str
    title: str
    urdf: str                      # relative to pybullet_data
    kind: str                      # "arm" or "mobile"
    joints: tuple[int, ...]        # movable joints, in command order
    tcp_link: int                  # the link whose speed and pose are the TCP's
    home: tuple[float, ...]        # a posture clear of the table
    #: the URDF's joint limits are used unless the declaration narrows them
    payload_kg: float = 0.0
    #: the most each joint's drive can speed up or slow down, rad/s2: the simulation holds
    #: every motion to it, stops included, so a declared stop the arm could not make
    #: shows in the physics (a category 0 stop's brakes get BRAKE_FACTOR times more)
    max_joint_accel: tuple[float, ...] = ()
    version: str = "2"


ROBOTS: dict[str, RobotModel] = {m.id: m for m in (
    # the Panda's joint acceleration limits as its maker publishes them (Franka Control
    # Interface, "limits for Panda"); for the iiwa and the xArm 6, whose makers publish no
    # such table, values of the same order that are ours: a vendor's declaration cannot
    # widen them
    RobotModel("franka_panda", "Franka Emika Panda (7 axes)", "franka_panda/panda.urdf", "arm",
               (0, 1, 2, 3, 4, 5, 6), 11, (0.0, -0.4, 0.0, -2.2, 0.0, 1.9, 0.8), 3.0,
               (15.0, 7.5, 10.0, 12.5, 15.0, 20.0, 20.0)),
    RobotModel("kuka_iiwa", "KUKA LBR iiwa 7 R800 (7 axes)", "kuka_iiwa/model.urdf", "arm",
               (0, 1, 2, 3, 4, 5, 6), 6, (0.0, 0.5, 0.0, -1.2, 0.0, 0.9, 0.0), 7.0,
               (10.0, 10.0, 10.0, 10.0, 15.0, 15.0, 15.0)),
    RobotModel("xarm6", "UFACTORY xArm 6 (6 axes)", "xarm/xarm6_robot.urdf", "arm",
               (1, 2, 3, 4, 5, 6), 6, (0.0, -0.3, -0.6, 0.0, 0.9, 0.0), 5.0,
               (12.0, 12.0, 12.0, 15.0, 15.0, 20.0)),
)}


def robot_model(robot_id: str) -> RobotModel:
    try:
        return ROBOTS[robot_id]
    except KeyError:
        raise ConfigError(f"unknown robot {robot_id!r}",
                          hint=f"use one of: {', '.join(sorted(ROBOTS))} (`harness list robots`)") from None
