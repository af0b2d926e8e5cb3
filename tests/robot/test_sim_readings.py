"""The work cell's readings are the physics' own, however they are sped up: the
separation (distance queries cut off at the best distance so far, starting from the last
tick's) equals the plain query of every region up to 4 m; the contact forces (one query
for all the robot's contacts, kept until the next step) equal a query per body region;
joint states and the TCP are read afresh after each step and after a reset."""

from __future__ import annotations

import math

import pytest

pb = pytest.importorskip("pybullet")

from harness.robot.robots import robot_model  # noqa: E402
from harness.robot.sim import HumanPath, World  # noqa: E402


def _plain_separations(world: World, reach_m: float = 4.0, nearest: int = 4) -> list[tuple[float, str]]:
    """What ``separations`` computed before it was sped up: the ``nearest`` regions by
    their centres, each queried up to ``reach_m``."""
    c = world.client
    base = (0.0, 0.0, 0.6)
    tcp = pb.getLinkState(world.robot, world.model.tcp_link, physicsClientId=c)[4]
    out = []
    for human in world.humans:
        centres = [pb.getBasePositionAndOrientation(b, physicsClientId=c)[0] for b in human.bodies]
        order = sorted(range(len(centres)), key=lambda i: min(math.dist(centres[i], base), math.dist(centres[i], tcp)))
        best, region = reach_m * 1000.0, ""
        for i in order[:nearest]:
            for point in pb.getClosestPoints(world.robot, human.bodies[i], reach_m, physicsClientId=c):
                if point[8] * 1000.0 < best:
                    best, region = point[8] * 1000.0, human.regions[i]
        out.append((max(0.0, best), region))
    return out


def _plain_forces(world: World) -> dict[str, float]:
    forces: dict[str, float] = {}
    for human in world.humans:
        for body, name in zip(human.bodies, human.regions, strict=True):
            total = sum(p[9] for p in pb.getContactPoints(world.robot, body, physicsClientId=world.client))
            if total > 0:
                forces[name] = forces.get(name, 0.0) + total
    return forces


def test_separation_and_contacts_equal_the_plain_queries():
    model = robot_model("franka_panda")
    people = [HumanPath([(1.6, 0.0), (0.35, 0.05)], 1.6, 0.0),           # walks into the robot
              HumanPath([(-0.2, 2.5), (-0.2, 0.7), (-0.2, 2.5)], 2.5, 0.1),  # comes and goes
              HumanPath([(3.9, -3.9), (3.9, -3.9)], 0.0)]                 # stands far off
    with World(model, people) as world:
        world.reset_joints(list(model.home))
        sweep = [list(model.home), [model.home[0] + 1.4, *model.home[1:]]]
        touched = 0
        for tick in range(480):
            world.apply(q=sweep[(tick // 90) % 2])
            world.step()
            fast = [(round(d, 6), r) for d, r, _ in world.separations()]
            assert fast == [(round(d, 6), r) for d, r in _plain_separations(world)], tick
            forces = world.contact_forces()
            assert forces == pytest.approx(_plain_forces(world)), tick
            assert world.contact_forces() == forces  # kept until the next step
            touched += bool(forces)
        assert touched > 10  # the robot did run into the first person


def test_readings_follow_steps_and_resets():
    model = robot_model("franka_panda")
    with World(model, []) as world:
        q0, _ = world.joint_state()
        tcp0 = world.tcp_position()
        world.apply(q=[model.home[0] + 1.0, *model.home[1:]])
        for _ in range(24):
            world.step()
        q1, qd1 = world.joint_state()
        assert q1[0] > q0[0] + 0.05 and abs(qd1[0]) > 0.1
        assert world.tcp_position() == pb.getLinkState(world.robot, model.tcp_link, physicsClientId=world.client)[4]
        assert world.tcp_position() != tcp0
        assert world.tcp_speed_mm_s() > 10.0
        world.reset_joints(list(model.home))
        assert world.joint_state()[0] == pytest.approx(list(model.home))
        assert world.tcp_position() == pytest.approx(tcp0)
        q1[0] = 99.0  # a caller's list is its own
        assert world.joint_state()[0][0] != 99.0
