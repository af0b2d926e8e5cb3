"""The work cell in PyBullet (headless, ``p.DIRECT``): a robot on a pedestal, a table,
and human proxies made of one capsule per body region, moved along their paths by the
harness (kinematically: the people do not yield to the robot, as the standard assumes).

Everything is deterministic from the scenario and its seed: PyBullet's stepping is
deterministic for the same inputs, and every random choice is drawn by the caller.
Units inside are PyBullet's (m, s, N); what leaves this module is in mm and mm/s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pybullet_data

from .robots import RobotModel


def _quietly(fn: Any) -> Any:
    """``fn()`` with the process's stderr (file descriptor 2) pointed at /dev/null:
    PyBullet prints its build time there from C when it is imported, which would land
    in a user's terminal between a run's lines. Only that import is silenced."""
    import os
    import sys

    try:
        sys.stderr.flush()
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError, AttributeError):  # no stderr to borrow (a daemon): nothing to hide
        return fn()
    try:
        os.dup2(devnull, 2)
        return fn()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


pb = _quietly(lambda: __import__("pybullet"))

DT = 1.0 / 240.0
#: a position target is approached at (target - position) / POSITION_LAG_TICKS per tick: the
#: arm trails a target moving at constant speed by this many ticks (as PyBullet's own position
#: control of these arms did, which the reference controller's lead is tuned to)
POSITION_LAG_TICKS = 7.5
#: a category 0 stop's brakes may slow the joints this many times faster than the drives
BRAKE_FACTOR = 1.5
PEDESTAL_HEIGHT = 0.6
#: the robot's joints may push this hard: the models' own effort limits are kept
GRAVITY = -9.81

# (region, shape, radius m, half-length m, offset from the person's feet in their own
# frame: forward x, left y, up z; capsule axis: "z" upright, "x" forward or "y" across)
_BODY: tuple[tuple[str, str, float, float, tuple[float, float, float], str], ...] = (
    ("skull", "sphere", 0.10, 0.0, (0.0, 0.0, 1.62), "z"),
    ("face", "sphere", 0.06, 0.0, (0.08, 0.0, 1.58), "z"),
    ("neck", "capsule", 0.05, 0.04, (0.0, 0.0, 1.47), "z"),
    # across the shoulders, set back: the back and the shoulder tops (Table A.2's back and shoulders)
    ("back_shoulders", "capsule", 0.07, 0.14, (-0.04, 0.0, 1.40), "y"),
    ("chest", "capsule", 0.16, 0.12, (0.0, 0.0, 1.22), "z"),
    ("abdomen", "capsule", 0.14, 0.06, (0.0, 0.0, 0.98), "z"),
    # across the hips, below the abdomen
    ("pelvis", "capsule", 0.13, 0.07, (0.0, 0.0, 0.84), "y"),
    ("upper_arm", "capsule", 0.05, 0.12, (0.16, 0.22, 1.38), "x"),
    ("upper_arm", "capsule", 0.05, 0.12, (0.16, -0.22, 1.38), "x"),
    ("lower_arm", "capsule", 0.04, 0.11, (0.42, 0.22, 1.36), "x"),
    ("lower_arm", "capsule", 0.04, 0.11, (0.42, -0.22, 1.36), "x"),
    ("hand", "sphere", 0.05, 0.0, (0.60, 0.22, 1.35), "z"),
    ("hand", "sphere", 0.05, 0.0, (0.60, -0.22, 1.35), "z"),
    ("thigh", "capsule", 0.08, 0.16, (0.0, 0.10, 0.66), "z"),
    ("thigh", "capsule", 0.08, 0.16, (0.0, -0.10, 0.66), "z"),
    ("lower_leg", "capsule", 0.06, 0.16, (0.0, 0.10, 0.26), "z"),
    ("lower_leg", "capsule", 0.06, 0.16, (0.0, -0.10, 0.26), "z"),
)


@dataclass
class HumanPath:
    """A person walking through waypoints (x, y in m, on the floor) at ``speed`` m/s,
    starting at ``start_s``, facing where they go (or ``face`` once they stand), and
    lifting their arms from ``arm_height`` (m above the usual hand height)."""

    waypoints: list[tuple[float, float]]
    speed: float
    start_s: float = 0.0
    face: tuple[float, float] = (0.0, 0.0)  # the point they face while standing
    arm_height: float = 0.0

    def at(self, t: float) -> tuple[float, float, float, float, float]:
        """(x, y, heading rad, vx, vy) at time t."""
        travelled = max(0.0, t - self.start_s) * self.speed
        pts = self.waypoints
        for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
            seg = math.hypot(x1 - x0, y1 - y0)
            if travelled <= seg and seg > 0:
                f = travelled / seg
                moving = t >= self.start_s
                vx, vy = ((x1 - x0) / seg * self.speed, (y1 - y0) / seg * self.speed) if moving else (0.0, 0.0)
                return x0 + f * (x1 - x0), y0 + f * (y1 - y0), math.atan2(y1 - y0, x1 - x0), vx, vy
            travelled -= seg
        x, y = pts[-1]
        fx, fy = self.face
        return x, y, math.atan2(fy - y, fx - x), 0.0, 0.0


@dataclass
class Human:
    path: HumanPath
    bodies: list[int] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    offsets: list[tuple[float, float, float]] = field(default_factory=list)
    axes: list[str] = field(default_factory=list)
    #: where each region's centre is now (m), and the (x, y, heading, vx, vy) and offsets
    #: the person was placed with (a person standing still is not placed again)
    centres: list[tuple[float, float, float]] = field(default_factory=list)
    state: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0)
    placed: tuple[Any, ...] | None = None
    #: the last separation found (m): where the next tick's distance queries start
    hint: float | None = None

#: what a distance query adds to the last tick's separation before it looks further
#: (only speed depends on it: the result is the same whatever it is)
_HINT_SLACK_M = 0.05


class World:
    """One work cell: build it, then :meth:`apply` commands and :meth:`step`."""

    def __init__(self, model: RobotModel, humans: list[HumanPath] = (), *, table: bool = True,
                 dt: float = DT) -> None:
        self.model = model
        self.dt = dt
        self.client = pb.connect(pb.DIRECT)
        c = self.client
        pb.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=c)
        pb.setGravity(0, 0, GRAVITY, physicsClientId=c)
        pb.setTimeStep(dt, physicsClientId=c)
        pb.loadURDF("plane.urdf", physicsClientId=c)
        pedestal = pb.createCollisionShape(pb.GEOM_BOX, halfExtents=[0.15, 0.15, PEDESTAL_HEIGHT / 2],
                                           physicsClientId=c)
        pb.createMultiBody(0, pedestal, basePosition=[0, 0, PEDESTAL_HEIGHT / 2], physicsClientId=c)
        if table:
            self.table = pb.loadURDF("table/table.urdf", basePosition=[0.75, 0, 0], globalScaling=0.6,
                                     physicsClientId=c)
        self.robot = pb.loadURDF(model.urdf, basePosition=[0, 0, PEDESTAL_HEIGHT], useFixedBase=True,
                                 flags=pb.URDF_USE_SELF_COLLISION_EXCLUDE_ALL_PARENTS, physicsClientId=c)
        info = [pb.getJointInfo(self.robot, j, physicsClientId=c) for j in model.joints]
        self.lower = [i[8] for i in info]
        self.upper = [i[9] for i in info]
        self.max_force = [i[10] or 100.0 for i in info]
        self.max_velocity = [i[11] or 2.0 for i in info]
        self.mass = sum(pb.getDynamicsInfo(self.robot, j, physicsClientId=c)[0]
                        for j in range(-1, pb.getNumJoints(self.robot, physicsClientId=c)))
        for j, q in zip(model.joints, model.home, strict=True):
            pb.resetJointState(self.robot, j, q, physicsClientId=c)
        self.humans = [self._make_human(path) for path in humans]
        self._bodies = {body: (n, region) for n, human in enumerate(self.humans)
                        for body, region in zip(human.bodies, human.regions, strict=True)}
        self.t = 0.0
        #: readings of the current state (joints, TCP, contacts), kept until the next
        #: step or reset: a tick reads each once however often it is asked
        self._cache: dict[str, Any] = {}
        #: a copy of the arm for questions of kinematics (see :meth:`tcp_at`), made when first asked
        self._scratch: World | None = None
        # the drive: what the last command asks for, turned into joint speeds on each step
        # within the joints' speed and acceleration limits (see :meth:`_drive`)
        self.max_accel = list(model.max_joint_accel) or [10.0] * len(model.joints)
        self._intent: tuple[str, list[float] | None] = ("q", list(model.home))
        self._tcp_prev = self.tcp_position()
        self._place_humans()
        self._cache.clear()

    def close(self) -> None:
        if self._scratch is not None:
            self._scratch.close()
            self._scratch = None
        if self.client is not None:
            pb.disconnect(self.client)
            self.client = None

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the people -------------------------------------------------------------------

    def _make_human(self, path: HumanPath) -> Human:
        c = self.client
        human = Human(path)
        for region, shape, radius, half, offset, axis in _BODY:
            if shape == "sphere":
                col = pb.createCollisionShape(pb.GEOM_SPHERE, radius=radius, physicsClientId=c)
            else:
                col = pb.createCollisionShape(pb.GEOM_CAPSULE, radius=radius, height=2 * half, physicsClientId=c)
            body = pb.createMultiBody(0, col, basePosition=[0, 0, -10], physicsClientId=c)
            human.bodies.append(body)
            human.regions.append(region)
            human.offsets.append((offset[0], offset[1], offset[2] + (path.arm_height if "arm" in region
                                                                     or region == "hand" else 0.0)))
            human.axes.append(axis)
        return human

    def _place_humans(self) -> None:
        c = self.client
        for human in self.humans:
            human.state = x, y, heading, _, _ = human.path.at(self.t)
            if human.placed is not None and human.placed[:3] == (x, y, heading) and human.placed[3] == human.offsets:
                continue  # standing still: every capsule is where it was
            ch, sh = math.cos(heading), math.sin(heading)
            turn = pb.getQuaternionFromEuler([0, 0, heading])
            forward = pb.getQuaternionFromEuler([0, math.pi / 2, heading])
            across = pb.getQuaternionFromEuler([math.pi / 2, 0, heading])
            centres = []
            for body, (ox, oy, oz), axis in zip(human.bodies, human.offsets, human.axes, strict=True):
                pos = (x + ox * ch - oy * sh, y + ox * sh + oy * ch, oz)
                pb.resetBasePositionAndOrientation(body, pos, forward if axis == "x" else across if axis == "y" else turn,
                                                   physicsClientId=c)
                centres.append(pos)
            human.centres = centres
            human.placed = (x, y, heading, list(human.offsets))

    # -- the robot --------------------------------------------------------------------

    def joint_state(self) -> tuple[list[float], list[float]]:
        states = self._cache.get("joints")
        if states is None:
            states = self._cache["joints"] = pb.getJointStates(self.robot, self.model.joints,
                                                               physicsClientId=self.client)
        return [s[0] for s in states], [s[1] for s in states]

    def tcp_position(self) -> tuple[float, float, float]:
        tcp = self._cache.get("tcp")
        if tcp is None:
            tcp = self._cache["tcp"] = pb.getLinkState(self.robot, self.model.tcp_link,
                                                       physicsClientId=self.client)[4]
        return tcp

    def reset_joints(self, q: list[float]) -> None:
        """Put the joints at ``q`` (clamped to their limits), at rest: a teleport, for the
        start of an episode. Change the robot's state only through this, :meth:`apply`
        and :meth:`step` (or call :meth:`forget` after changing it behind the world's
        back): the world keeps its readings until the next of these."""
        held = [min(max(v, lo), hi) for v, lo, hi in zip(q, self.lower, self.upper, strict=True)]
        for j, v in zip(self.model.joints, held, strict=True):
            pb.resetJointState(self.robot, j, v, physicsClientId=self.client)
        self._intent = ("q", held)  # until the first command: stay there
        self.forget()
        self._tcp_prev = self.tcp_position()

    def forget(self) -> None:
        """Drop the readings of the current state (they are read again when asked)."""
        self._cache.clear()

    def tcp_pose(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        state = pb.getLinkState(self.robot, self.model.tcp_link, physicsClientId=self.client)
        return state[4], state[5]

    def apply(self, *, q: list[float] | None = None, qd: list[float] | None = None) -> None:
        """Drive the joints: to positions ``q`` or at velocities ``qd``, from the next
        :meth:`step` on. Values beyond the joint limits never reach the robot: positions
        are clamped to the limits and velocities to the joints' maxima (the caller counts
        what it had to clamp)."""
        if q is not None:
            targets = [min(max(v, lo), hi) for v, lo, hi in zip(q, self.lower, self.upper, strict=True)]
            self._intent = ("q", targets)
        elif qd is not None:
            self._intent = ("qd", [min(max(v, -m), m) for v, m in zip(qd, self.max_velocity, strict=True)])

    def brake(self) -> None:
        """Stop category 0 (power removed, brakes applied): the joints slow down at the
        brakes' rate and hold."""
        self._intent = ("brake", None)

    def _drive(self) -> None:
        """The joint speeds this step: what the command asks for, within each joint's
        speed limit, changed from the measured speed by at most its acceleration limit
        (the brakes' for a category 0 stop). A robot touching a person is stopped by the
        contact itself, not by its drive: then the asked speed is used as it is."""
        kind, values = self._intent
        q, qd = self.joint_state()
        if kind == "q":
            lag = POSITION_LAG_TICKS * self.dt
            want = [min(max((t - v) / lag, -m), m) for t, v, m in zip(values, q, self.max_velocity, strict=True)]
        elif kind == "qd":
            want = list(values)
        else:
            want = [0.0] * len(q)
        if not (self.humans and self.contact_forces()):
            factor = BRAKE_FACTOR if kind == "brake" else 1.0
            want = [min(max(w, v - a * factor * self.dt), v + a * factor * self.dt)
                    for w, v, a in zip(want, qd, self.max_accel, strict=True)]
        force = [f * 4 for f in self.max_force] if kind == "brake" else self.max_force
        pb.setJointMotorControlArray(self.robot, self.model.joints, pb.VELOCITY_CONTROL, targetVelocities=want,
                                     forces=force, physicsClientId=self.client)

    def step(self) -> None:
        self._drive()
        self._tcp_prev = self.tcp_position()
        self._cache.clear()
        self.t += self.dt
        self._place_humans()
        pb.stepSimulation(physicsClientId=self.client)

    def tcp_speed_mm_s(self) -> float:
        now = self.tcp_position()
        return math.dist(now, self._tcp_prev) / self.dt * 1000.0

    # -- what the sensors see and what the assessor measures -------------------------------

    def separations(self, reach_m: float = 4.0, nearest: int = 4) -> list[tuple[float, str, tuple[float, float, float]]]:
        """Per person: (the smallest distance between the robot and any body region in
        mm, that region, the person's position in mm). The exact distance is computed
        for the ``nearest`` regions whose centres are closest to the robot's base or
        its TCP (a distance query costs ~0.1 ms, and the far side of a person is never
        the part nearest the robot)."""
        c = self.client
        base = (0.0, 0.0, PEDESTAL_HEIGHT)
        tcp = self.tcp_position()
        out = []
        for human in self.humans:
            dist = math.dist
            near = [min(dist(p, base), dist(p, tcp)) for p in human.centres]
            order = sorted(range(len(near)), key=near.__getitem__)[:nearest]
            # Each query reports only points nearer than its cut-off, and Bullet skips the
            # robot's links farther than that: the cut-off is the best distance so far,
            # and at first the last tick's plus a margin (asked again up to reach_m when
            # nothing is that near). The result is the same as querying up to reach_m.
            first = reach_m if human.hint is None else min(reach_m, max(0.0, human.hint) + _HINT_SLACK_M)
            while True:
                best, region = None, ""
                for i in order:
                    cutoff = first if best is None else max(0.0, best)
                    for point in pb.getClosestPoints(self.robot, human.bodies[i], cutoff, physicsClientId=c):
                        if best is None or point[8] < best:
                            best, region = point[8], human.regions[i]
                if best is not None or first >= reach_m:
                    break
                first = reach_m
            human.hint = best
            best_mm = reach_m * 1000.0 if best is None else best * 1000.0
            x, y = human.state[0], human.state[1]
            out.append((max(0.0, best_mm), region, (x * 1000.0, y * 1000.0, 0.0)))
        return out

    def clear_of(self, human: Human, offsets: list[tuple[float, float, float]], clearance_m: float,
                 path: HumanPath | None = None) -> bool:
        """Whether ``human`` with ``offsets`` (and ``path``) would be at least ``clearance_m``
        from every part of the robot: they are put there, measured, and left there only if
        so (a body put inside the arm would be thrown out by the solver, not pushed by the
        robot)."""
        old = human.offsets, human.path
        human.offsets, human.path = list(offsets), path or human.path
        self._place_humans()
        near = any(pb.getClosestPoints(self.robot, body, clearance_m, physicsClientId=self.client)
                   for body, (_, _, z) in zip(human.bodies, human.offsets, strict=True) if z > -10.0)
        if near:
            human.offsets, human.path = old
            self._place_humans()
        self._cache.pop("contacts", None)
        return not near

    def tcp_at(self, q: list[float]) -> tuple[float, float, float]:
        """Where the TCP would be with the joints at ``q`` (m), from a scratch copy of the
        arm kept for the purpose: the cell's own arm is not moved."""
        if self._scratch is None:
            self._scratch = World(self.model, table=False)
        for j, v in zip(self.model.joints, q, strict=True):
            pb.resetJointState(self._scratch.robot, j, v, physicsClientId=self._scratch.client)
        self._scratch.forget()
        return self._scratch.tcp_position()

    def contact_forces(self) -> dict[str, float]:
        """The normal force on each body region the robot touches now, N."""
        per_body = self._cache.get("contacts")
        if per_body is None:  # the contacts of the last step: one query for all of them
            per_body = {}
            bodies, robot = self._bodies, self.robot
            for p in pb.getContactPoints(robot, physicsClientId=self.client):
                other = p[2] if p[1] == robot else p[1]
                if other in bodies:
                    per_body[other] = per_body.get(other, 0.0) + p[9]
            self._cache["contacts"] = per_body
        forces: dict[str, float] = {}
        if per_body:
            for human in self.humans:
                for body, name in zip(human.bodies, human.regions, strict=True):
                    total = per_body.get(body, 0.0)
                    if total > 0:
                        forces[name] = forces.get(name, 0.0) + total
        return forces

    def human_velocity_mm_s(self, index: int) -> tuple[float, float]:
        _, _, _, vx, vy = self.humans[index].state
        return vx * 1000.0, vy * 1000.0

    def render(self, width: int = 320, height: int = 240) -> Any:
        """An RGB frame (height x width x 3 bytes) from PyBullet's TinyRenderer."""
        c = self.client
        view = pb.computeViewMatrix([2.2, -1.8, 2.0], [0.4, 0, 0.9], [0, 0, 1], physicsClientId=c)
        proj = pb.computeProjectionMatrixFOV(55, width / height, 0.1, 10, physicsClientId=c)
        _, _, rgba, _, _ = pb.getCameraImage(width, height, view, proj, renderer=pb.ER_TINY_RENDERER,
                                             physicsClientId=c)
        return rgba
