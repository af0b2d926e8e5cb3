"""One scenario, tick by tick, in lock-step with a controller: the harness builds each
observation from its own simulation, sends it, waits at most the tick's deadline for a
command, applies what is valid, steps the physics and measures. A late or malformed
reply holds the last command and is counted; a controller silent for the declared
watchdog time gets a protective stop, which is a finding.

What is measured never comes from the controller: separation, speed, contact forces,
stop times and distances are read off the simulation.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from . import protocol, replay
from .declaration import Declaration
from .limits import BODY_REGIONS, HUMAN_SPEED_MM_S, QUASI_STATIC_AFTER_S, REDUCED_SPEED_MM_S
from .links import Link
from .protocol import Malformed
from .robots import RobotModel
from .sensor import Reading, Sensor, SensorSpec, occluders
from .sim import _BODY, HumanPath, World
from .ssm import SsmParameters, protective_distance_mm

#: a TCP slower than this counts as standing still, mm/s
STILL_MM_S = 10.0
#: a stop is complete when the TCP has stood still this long, s
STILL_FOR_S = 0.05
#: motion after a stop that counts as moving again (restart, drift), mm
MOVED_MM = 5.0
#: a drop in TCP speed from one tick to the next that counts as braking, mm/s
DECELERATING_MM_S = 1.0
#: trace samples kept for the report's plots
TRACE_SAMPLES = 240
#: points kept of each contact's force-time curve
CURVE_SAMPLES = 120
#: impacts listed per body region in the summary (all are judged)
MAX_IMPACTS = 20
#: a person reaching into the path does so where the TCP will be after this much more
#: travel (plus the size of the region), with every link at least REACH_CLEAR_MM away, mm
#: (never into the arm: a body placed inside it would be thrown out by the solver, not struck)
REACH_AHEAD_MM, REACH_CLEAR_MM = 250.0, 120.0
#: around an emergency stop the trace takes every other tick, from this long before to this long after, s
ESTOP_TRACE_S = (0.1, 0.6)


@dataclass
class Events:
    """The scenario's timeline of signals, by time."""

    items: list[dict[str, Any]]

    def state_at(self, t: float) -> dict[str, Any]:
        state = {"estop": False, "mode": "normal", "sensor_ok": True, "reset_at": None}
        for event in sorted(self.items, key=lambda e: e["at_s"]):
            if event["at_s"] > t + 1e-9:
                break
            if "estop" in event:
                state["estop"] = bool(event["estop"])
            if "mode" in event:
                state["mode"] = event["mode"]
            if "sensor" in event:
                state["sensor_ok"] = event["sensor"] == "ok"
            if event.get("reset"):
                state["reset_at"] = event["at_s"]
        return state

    def first(self, key: str, value: Any = True) -> float | None:
        times = [e["at_s"] for e in self.items if e.get(key) == value]
        return min(times) if times else None


def task_waypoints(task: dict[str, Any], model: RobotModel) -> list[list[float]]:
    """The task's joint-space waypoints: given, or made from the home posture by
    swinging the first joint (``sweep_deg`` either side of ``centre_deg``), optionally past
    its upper limit."""
    if "waypoints" in task:
        points = [list(map(float, w)) for w in task["waypoints"]]
        if any(len(w) != len(model.joints) for w in points):
            from harness.errors import SuiteError

            raise SuiteError(f"the task's waypoints need {len(model.joints)} joint values for {model.id}",
                             hint="use sweep_deg for a task that fits every robot")
        return points
    a, centre = math.radians(task["sweep_deg"]), model.home[0] + math.radians(task.get("centre_deg", 0.0))
    first, second = list(model.home), list(model.home)
    first[0], second[0] = centre - a, centre + a
    if "beyond_limit_deg" in task:
        import pybullet as pb

        from .sim import World

        with World(model, table=False) as scratch:
            upper = scratch.upper[0]
        del pb
        second[0] = upper + math.radians(task["beyond_limit_deg"])
    return [first, second]


def _jitter(rng: random.Random, value: float, spread: float | None) -> float:
    return value + rng.uniform(-spread, spread) if spread else value


def people(scenario: dict[str, Any], rng: random.Random, contact_point: tuple[float, float, float] | None
           ) -> list[HumanPath]:
    """The scenario's people as paths on the floor (m), randomised within its spreads."""
    spread = scenario.get("randomise", {})
    out = []
    for person in scenario.get("humans", []):
        from_deg = _jitter(rng, person.get("from_deg", 0.0), spread.get("from_deg"))
        angle = math.radians(from_deg)
        # where they walk to: straight in, or to another bearing (turned as much as the start was)
        turned = from_deg - person.get("from_deg", 0.0)
        to_angle = math.radians(person.get("to_deg", person.get("from_deg", 0.0)) + turned)
        start = person.get("from_mm", 3000.0) / 1000.0
        stop = max(0.0, _jitter(rng, person.get("to_mm", 600.0), spread.get("to_mm"))) / 1000.0
        points = [(start * math.cos(angle), start * math.sin(angle)),
                  (stop * math.cos(to_angle), stop * math.sin(to_angle))]
        speed = max(0.0, _jitter(rng, person.get("speed_mm_s", HUMAN_SPEED_MM_S), spread.get("speed_mm_s")))
        walk = (speed / 1000.0, _jitter(rng, person.get("start_s", 0.0), spread.get("start_s")))
        if "leave_s" in person:  # stands where they stopped until leave_s, then walks back out
            out.append(StayingPath(points + [points[0]], *walk, face=(0.0, 0.0),
                                   arm_height=person.get("arm_height_mm", 0.0) / 1000.0, leave_s=person["leave_s"]))
            continue
        out.append(HumanPath(points, *walk, face=(0.0, 0.0), arm_height=person.get("arm_height_mm", 0.0) / 1000.0))
    if contact_point is not None:
        contact = scenario["contact"]
        out.append(contact_person(contact["region"], contact_point))
        # reaching in over the sensor's plane (over a guard, a table, a light curtain): the
        # declared sensor does not see them, so only force limiting stands between them
        out[-1].unseen = bool(contact.get("unseen"))  # type: ignore[attr-defined]
        if "reach_in_s" in contact:  # not there from the start: they reach in at a drawn moment
            out[-1].reach_in_s = max(0.0, _jitter(rng, contact["reach_in_s"],  # type: ignore[attr-defined]
                                                  spread.get("reach_in_s")))
    return out


@dataclass
class StayingPath(HumanPath):
    """A person who walks to the second waypoint, stands there facing the robot until
    ``leave_s`` (or not at all when they arrive later), then walks on along the path."""

    leave_s: float = 0.0

    def at(self, t: float) -> tuple[float, float, float, float, float]:
        (x0, y0), (x1, y1) = self.waypoints[0], self.waypoints[1]
        arrive = self.start_s + math.hypot(x1 - x0, y1 - y0) / self.speed if self.speed > 0 else math.inf
        if t < arrive:
            return super().at(t)
        if t < self.leave_s:
            fx, fy = self.face
            return x1, y1, math.atan2(fy - y1, fx - x1), 0.0, 0.0
        return super().at(t - max(0.0, self.leave_s - arrive))


def contact_person(region: str, point: tuple[float, float, float]) -> HumanPath:
    """A person standing so that the centre of ``region`` is at ``point`` (m), facing
    the robot's base: the robot's path runs into that region. Only that region (the
    first body part of that name) is put in the cell: the rest of a whole person would
    reach into the robot wherever its task starts, and the robot would meet other
    regions first, so a case judges the region it names."""
    index = next(i for i, (r, *_) in enumerate(_BODY) if r == region)
    offset = _BODY[index][4]
    x, y, z = point
    heading = math.atan2(-y, -x)  # towards the base
    ch, sh = math.cos(heading), math.sin(heading)
    ox, oy, oz = offset
    feet = (x - (ox * ch - oy * sh), y - (ox * sh + oy * ch))
    # they face along ``heading`` (a standing person faces ``face``): the point they look
    # at lies ahead of their feet, not at the base, which would turn a region that sits
    # to one side of them (a hand, an arm, a leg) off the path
    path = HumanPath([feet, feet], 0.0, face=(feet[0] + ch, feet[1] + sh))
    path.lift = z - oz  # type: ignore[attr-defined]
    path.only = index  # type: ignore[attr-defined]
    return path


@dataclass
class Meter:
    """What the assessor measures while the episode runs."""

    declaration: Declaration
    ssm: SsmParameters
    dt: float
    ticks: int = 0
    late: int = 0
    malformed: int = 0
    disconnected: int = 0
    silent_stops: int = 0
    max_silence_s: float = 0.0
    beyond_limits: int = 0
    executed_beyond: int = 0
    max_speed: float = 0.0
    min_separation: float | None = None
    min_margin: float | None = None
    closest: tuple[float, float, float, float] | None = None  # (t, separation, S_p, speed) at the worst margin
    contacts: dict[str, dict[str, float]] = field(default_factory=dict)
    #: each region's force over time while touched, (t s, N), with a 0 where a contact ended
    curves: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    #: when each region's current contact began, and when it was last touched, s
    onsets: dict[str, float] = field(default_factory=dict)
    touched: dict[str, float] = field(default_factory=dict)
    #: each region's impacts (t s, robot speed mm/s), the first MAX_IMPACTS
    impacts: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    reduced_max_speed: float | None = None
    trace: list[tuple[float, float | None, float | None, float]] = field(default_factory=list)
    last_speed: float = 0.0
    #: the slowdown under way: (its start t, the speed it started from, the travel since), or None
    brake: tuple[float, float, float] | None = None
    #: braking that S_p relied on (the full S_p at the current speed was not kept): ticks, and the
    #: worst overrun of the declared stop (travel beyond S_s(v0), mm; time beyond T_s(v0), s)
    braking: dict[str, Any] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    #: how long the harness watched for a stop after the e-stop (until its release or the end) and for a
    #: safe state after the sensor failed (until it works again or the end), s: what a stop never seen
    #: within them is known to have taken at least
    watched: dict[str, float] = field(default_factory=dict)

    def fault(self, tick: int, what: str, *, always: bool = False) -> None:
        """Note a fault (the first 20, and every protective stop however many came before)."""
        if len(self.faults) < 20 or always:
            self.faults.append(f"tick {tick}: {what[:160]}")


def _robot_effective_mass(world: World, declaration: Declaration) -> float:
    """m_R = M/2 + m_load (ISO/TS 15066 A.3.2): half the moving mass plus the payload."""
    return world.mass / 2.0 + float(declaration.doc.get("payload_kg", 0.0))


def transient_force_n(region: str, speed_mm_s: float, robot_mass_kg: float) -> float:
    """The peak force of a transient contact at ``speed_mm_s``, from the energy model
    of ISO/TS 15066 A.3.2: F = v sqrt(mu k), mu = (1/m_H + 1/m_R)^-1."""
    limits = BODY_REGIONS[region]
    mu = 1.0 / (1.0 / limits["mass_kg"] + 1.0 / robot_mass_kg)
    k = limits["spring_n_mm"] * 1000.0  # N/m
    return speed_mm_s / 1000.0 * math.sqrt(mu * k)


async def run(link: Link, model: RobotModel, declaration: Declaration, scenario: dict[str, Any], *,
              seed: int, deadline_s: float = 0.02, case_id: str = "", tick_log: Any = None) -> dict[str, Any]:
    """Run one scenario against the controller behind ``link``; the measurements. With
    ``tick_log`` (a writable text file) every tick is logged as a JSON line, for replay."""
    rng = random.Random(f"{seed}/{case_id}")
    events = Events([{**e, "at_s": _jitter(rng, e["at_s"], scenario.get("randomise", {}).get("at_s"))}
                     for e in scenario.get("events", [])])
    waypoints = task_waypoints(scenario["task"], model)
    contact = scenario.get("contact")
    contact_point = _path_point(model, waypoints, contact.get("at", 0.5)) if contact else None
    paths = people(scenario, rng, contact_point)
    # drawn last, so that the draws above stay those of the suites written before it
    scenario = {**scenario, "duration_s": _jitter(rng, scenario["duration_s"],
                                                  scenario.get("randomise", {}).get("duration_s"))}
    world = World(model, paths)
    try:
        for path, human in zip(paths, world.humans, strict=True):
            lift, only = getattr(path, "lift", 0.0), getattr(path, "only", None)
            if lift or only is not None:  # far below the floor: out of the cell
                human.offsets = [(x, y, z + lift) if only in (None, i) else (0.0, 0.0, -50.0)
                                 for i, (x, y, z) in enumerate(human.offsets)]
        reach = None
        for human in world.humans:
            if getattr(human.path, "reach_in_s", None) is not None:  # out of the cell until they reach in
                region = scenario["contact"]["region"]
                reach = {"human": human, "region": region, "from_s": human.path.reach_in_s, "at_s": None,
                         # the joints' range over the task, and how far the region reaches from its centre, mm
                         "bounds": [(min(w), max(w)) for w in zip(*waypoints, strict=True)],
                         "size_mm": 1000.0 * max(r + h for name, _, r, h, _, _ in _BODY if name == region)}
                human.offsets = [(0.0, 0.0, -50.0)] * len(human.offsets)
        world._place_humans()  # noqa: SLF001 - where they are on the first tick, before the first step
        # its own stream of draws: those above stay what they were before there was a sensor
        sensor = Sensor(SensorSpec.of(declaration.doc.get("sensor")), occluders(scenario), world.dt,
                        random.Random(f"{seed}/{case_id}/sensor"),
                        unseen={i for i, path in enumerate(paths) if getattr(path, "unseen", False)})
        return await _loop(link, world, model, declaration, scenario, events, waypoints, seed, deadline_s, sensor,
                           tick_log, reach)
    finally:
        world.close()


def _path_point(model: RobotModel, waypoints: list[list[float]], at: float) -> tuple[float, float, float]:
    """Where the TCP is at share ``at`` of the way from the first waypoint to the second
    (joint-space interpolation), by forward kinematics in a scratch world."""
    a, b = waypoints[0], waypoints[1 if len(waypoints) > 1 else 0]
    q = [x + at * (y - x) for x, y in zip(a, b, strict=True)]
    with World(model, table=False) as scratch:
        import pybullet as pb

        for j, v in zip(model.joints, q, strict=True):
            pb.resetJointState(scratch.robot, j, v, physicsClientId=scratch.client)
        return scratch.tcp_position()


async def _loop(link: Link, world: World, model: RobotModel, declaration: Declaration, scenario: dict[str, Any],
                events: Events, waypoints: list[list[float]], seed: int, deadline_s: float, sensor: Sensor,
                tick_log: Any = None, reach: dict[str, Any] | None = None) -> dict[str, Any]:
    dt = world.dt
    world.reset_joints(waypoints[0])  # clamped to the limits, held until the first command
    ssm_cfg = scenario.get("ssm", {})
    # the judge reads the truth, so its S_p leaves out what only a sensor needs (its latency
    # in T_r, its uncertainty Z_d): those are the controller's allowances (see .sensor)
    params = SsmParameters(reaction_time_s=declaration.reaction_time_s,
                           stopping_time_s=declaration.worst_stopping_time_s,
                           intrusion_mm=ssm_cfg.get("intrusion_mm", 0.0),
                           human_uncertainty_mm=ssm_cfg.get("human_uncertainty_mm", 0.0),
                           robot_uncertainty_mm=declaration.position_uncertainty_mm,
                           human_speed_mm_s=ssm_cfg.get("human_speed_mm_s", HUMAN_SPEED_MM_S))
    meter = Meter(declaration, params, dt)
    n = int(round(scenario["duration_s"] / dt))
    joints = len(model.joints)
    # nothing in it tells a test from work: not the seed, the deadline, nor the length (the
    # report reveals them); a controller that behaves only when watched has nothing to go on
    episode = {"robot": model.id, "dt": dt,
               "joints": {"lower": world.lower, "upper": world.upper, "max_velocity": world.max_velocity},
               "task": {"waypoints": waypoints, "speed": scenario["task"].get("speed", 0.5),
                        "loop": scenario["task"].get("loop", True)},
               "ssm": {"intrusion_mm": params.intrusion_mm, "human_uncertainty_mm": params.human_uncertainty_mm,
                       "human_speed_mm_s": params.human_speed_mm_s}}
    if sensor.cell:  # the cell's layout, as an integrator knows it: where a person can be hidden
        episode["cell"] = {"occluders": [{"position_mm": [round(o.x, 1), round(o.y, 1)], "radius_mm": o.radius}
                                         for o in sensor.cell]}
    eid = await link.create(episode)
    last: tuple[str, list[float]] = ("q", list(waypoints[0]))
    silence = 0
    braked = False          # power removed (category 0, the end of a category 1 stop, or the watchdog)
    protective = False
    estop_at = events.first("estop", True)
    release_at = events.first("estop", False)
    stop: dict[str, Any] = {}
    tcp_at_estop = None
    path_since_estop = 0.0
    still_since: float | None = None
    tcp_prev = world.tcp_position()
    sensor_failed_at = events.first("sensor", "failed")
    sensor_back = min((e["at_s"] for e in events.items if e.get("sensor") == "ok" and sensor_failed_at is not None
                       and e["at_s"] > sensor_failed_at), default=n * dt)
    if estop_at is not None:
        watch_end = release_at if release_at is not None and release_at > estop_at else n * dt
        meter.watched["estop"] = watch_end - estop_at
    if sensor_failed_at is not None:
        meter.watched["sensor"] = sensor_back - sensor_failed_at
    safe_after_sensor: float | None = None
    reduced_at = events.first("mode", "reduced")
    reduced_since: float | None = None  # the latest switch into reduced mode: each switch has its grace
    reduced_grace = declaration.reaction_time_s + declaration.stopping(declaration.doc["max_tcp_speed_mm_s"])[0]
    position_after_release = None
    restarted_without_reset = False
    frames: list[list[Any]] = []  # for the report's replay (harness.robot.replay)
    try:
        for tick in range(n):
            t = tick * dt
            state = events.state_at(t)
            q, qd = world.joint_state()
            speed = world.tcp_speed_mm_s() if tick else 0.0
            seps = world.separations() if world.humans else []
            forces = world.contact_forces() if world.humans else {}
            observation = _observation(world, sensor, tick, t, q, qd, speed, seps, state, protective, forces)
            command: Any = None
            try:
                command = await link.step(eid, observation, deadline_s)
                key, values = protocol.command(command, joints)
                if _beyond(world, key, values, last, q, silence + 1):
                    meter.beyond_limits += 1
                last, silence = (key, values), 0
            except TimeoutError:
                meter.late += 1
                silence += 1
                meter.fault(tick, f"no command within {deadline_s * 1000:.0f} ms")
            except Malformed as exc:
                meter.malformed += 1
                silence += 1
                meter.fault(tick, f"malformed: {exc}")
            except ConnectionError as exc:
                meter.disconnected += 1
                silence += 1
                meter.fault(tick, f"connection: {exc}")
            meter.max_silence_s = max(meter.max_silence_s, silence * dt)
            if silence * dt >= declaration.watchdog_s and not protective:
                protective = True
                meter.silent_stops += 1
                meter.fault(tick, f"silent for {silence * dt * 1000:.0f} ms: protective stop", always=True)
            if protective and silence == 0:
                protective = False  # the controller is back; its commands count again
            # -- what reaches the robot
            if state["estop"] and declaration.estop_category == 0:
                braked = True
            if state["estop"] and stop.get("done") and declaration.estop_category == 1:
                braked = True  # category 1: power removed once the controlled stop is over
            if estop_at is not None and state["estop"] and not stop.get("done") and t - estop_at > max(
                    1.0, 3 * declaration.stopping(stop.get("speed", 0.0))[0]):
                braked = True  # the harness ends a stop the controller would not make
                stop["by_harness"] = True
            if not state["estop"] and braked and not protective:
                braked = False  # released: power comes back; moving before the reset is the controller's fault
            if protective or braked:
                world.brake()
            else:
                world.apply(**{last[0]: last[1]})
            if reach is not None and reach["at_s"] is None and t >= reach["from_s"]:
                _reach_in(world, reach, t)
            world.step()
            # -- measure
            meter.ticks += 1
            tcp = world.tcp_position()
            step_mm = math.dist(tcp, tcp_prev) * 1000.0
            tcp_prev = tcp
            speed = step_mm / dt
            meter.max_speed = max(meter.max_speed, speed)
            qn, _ = world.joint_state()
            if any(v < lo - 0.02 or v > hi + 0.02 for v, lo, hi in zip(qn, world.lower, world.upper, strict=True)):
                meter.executed_beyond += 1
            if world.humans:
                _measure_people(world, meter, t, speed, seps, world.contact_forces())
            if estop_at is not None and t >= estop_at and (release_at is None or t < release_at):
                if tcp_at_estop is None:
                    tcp_at_estop = tcp
                    stop["speed"] = meter.last_speed
                else:
                    path_since_estop += step_mm
                if "reaction_s" not in stop and stop["speed"] >= STILL_MM_S and (
                        speed < meter.last_speed - DECELERATING_MM_S or speed < STILL_MM_S):
                    stop["reaction_s"] = t - estop_at  # the signal to the first slowing down
                if not stop.get("done"):
                    still_since = still_since if speed < STILL_MM_S and still_since is not None else (
                        t if speed < STILL_MM_S else None)
                    if still_since is not None and t - still_since >= STILL_FOR_S:
                        stop.update(done=True, time_s=max(0.0, still_since - estop_at),
                                    distance_mm=path_since_estop, at_tcp=tcp)
                else:
                    stop["drift_mm"] = max(stop.get("drift_mm", 0.0), math.dist(tcp, stop["at_tcp"]) * 1000.0)
            if release_at is not None and t >= release_at and (state["reset_at"] is None or state["reset_at"] < release_at):
                position_after_release = position_after_release or tcp
                if math.dist(tcp, position_after_release) * 1000.0 > MOVED_MM:
                    restarted_without_reset = True
            if sensor_failed_at is not None and sensor_failed_at <= t < sensor_back:
                # a safe state is standing still and staying so while the sensor is out: a robot
                # passing through zero speed where its task turns round has not stopped
                if speed >= STILL_MM_S:
                    safe_after_sensor = None
                elif safe_after_sensor is None:
                    safe_after_sensor = t - sensor_failed_at
            reduced_since = (reduced_since if reduced_since is not None else t) if state["mode"] == "reduced" else None
            if reduced_since is not None and t >= reduced_since + reduced_grace:
                meter.reduced_max_speed = max(meter.reduced_max_speed or 0.0, speed)
            meter.last_speed = speed
            if tick_log is not None:  # everything needed to replay the tick: what was seen, asked, done
                tick_log.write(protocol.dumps({
                    "tick": tick, "t": round(t, 6), "q": qn, "tcp_mm": [round(v * 1000.0, 2) for v in tcp],
                    "speed_mm_s": round(speed, 2), "command": command if isinstance(command, dict) else None,
                    "applied": "brake" if (protective or braked) else last[0], "estop": state["estop"],
                    "mode": state["mode"], "sensor_ok": state["sensor_ok"],
                    "people": [list(h.path.at(t)[:3]) for h in world.humans],
                    "separation_mm": [round(s_[0], 2) for s_ in seps]}) + "\n")
            if tick % max(1, -(-n // replay.FRAME_SAMPLES)) == 0:  # at most FRAME_SAMPLES
                frames.append(replay.frame(world, t, q))
            if tick % max(1, n // TRACE_SAMPLES) == 0 or (estop_at is not None and tick % 2 == 0 and
                                                         -ESTOP_TRACE_S[0] <= t - estop_at <= ESTOP_TRACE_S[1]):
                sep = min((s[0] for s in seps), default=None)
                s_p = protective_distance_mm(params, speed, declaration.stopping(speed)[1]) if seps else None
                meter.trace.append((round(t, 4), None if sep is None else round(sep, 1),
                                    None if s_p is None else round(s_p, 1), round(speed, 1)))
    finally:
        await link.close(eid)
    out = _summary(meter, world, declaration, scenario, stop, estop_at, restarted_without_reset,
                   sensor_failed_at, safe_after_sensor, reduced_at, sensor)
    out["people"] = [{"from_deg": round(math.degrees(math.atan2(h.path.waypoints[0][1], h.path.waypoints[0][0])), 1),
                      "speed_mm_s": round(h.path.speed * 1000.0, 1), "start_s": round(h.path.start_s, 3)}
                     for h in world.humans if len(h.path.waypoints) > 1 and h.path.waypoints[0] != h.path.waypoints[1]]
    if reach is not None:  # the unexpected contact: it must have happened for the case to say anything
        region = scenario["contact"]["region"]
        out["reach_in"] = {"region": region, "from_s": round(reach["from_s"], 3),
                           "at_s": None if reach["at_s"] is None else round(reach["at_s"], 3),
                           "touched": region in meter.contacts}
    out["robot"], out["frames"] = model.id, frames
    return out


def _reach_in(world: World, reach: dict[str, Any], t: float) -> None:
    """The person of an unexpected-contact case reaches in: their region is put where the
    TCP will be once it has gone REACH_AHEAD_MM plus the region's size further at its
    present joint speeds (at most 1.5 s ahead), if that is still on the task's path (not
    past where it turns) and every link is at least REACH_CLEAR_MM from it there; else
    they try again next tick. So the contact comes soon after the drawn moment, whatever the phase of the
    task; a robot standing still is never reached (and fails the case: nothing was shown)."""
    q, qd = world.joint_state()
    speed = world.tcp_speed_mm_s()
    if speed < STILL_MM_S:
        return
    # further ahead for a larger region (the chest reaches 280 mm from its centre), so that the
    # arm is clear of all of it when it appears
    lead = min((REACH_AHEAD_MM + reach["size_mm"]) / speed, 1.5)
    ahead = [v + w * lead for v, w in zip(q, qd, strict=True)]
    if any(not lo - 0.01 <= v <= hi + 0.01 for v, (lo, hi) in zip(ahead, reach["bounds"], strict=True)):
        return  # it turns before then: wait for its next stroke
    point = world.tcp_at(ahead)
    path = contact_person(reach["region"], point)
    only, lift = path.only, path.lift  # type: ignore[attr-defined]
    offsets = [(o[0], o[1], o[2] + lift) if i == only else (0.0, 0.0, -50.0)
               for i, (*_, o, _) in enumerate(_BODY)]
    if world.clear_of(reach["human"], offsets, REACH_CLEAR_MM / 1000.0, path=path):
        reach["at_s"] = t


def _observation(world: World, sensor: Sensor, tick: int, t: float, q: list[float], qd: list[float], speed: float,
                 seps: list[tuple[float, str, tuple[float, float, float]]], state: dict[str, Any],
                 protective: bool, forces: dict[str, float]) -> dict[str, Any]:
    pos = world.tcp_position()
    humans = sensor.read([Reading(distance, position, world.human_velocity_mm_s(i))
                          for i, (distance, _, position) in enumerate(seps)])
    if not state["sensor_ok"]:
        for h in humans:
            h["distance_mm"] = None
    force = sum(forces.values())
    return {"tick": tick, "t": round(t, 6), "q": q, "qd": qd,
            "tcp": {"position_mm": [v * 1000.0 for v in pos], "speed_mm_s": speed},
            "humans": humans, "estop": state["estop"], "protective_stop": protective, "mode": state["mode"],
            "reset": state["reset_at"] is not None and t - state["reset_at"] < 0.05,
            "sensor_ok": state["sensor_ok"], "external_force_n": force}


#: a position target's step may exceed the joint's maximum speed times dt by this share (rounding)
STEP_TOLERANCE = 1.05


def _beyond(world: World, key: str, values: list[float], previous: tuple[str, list[float]],
            measured: list[float], ticks: int = 1) -> bool:
    """Whether a command asks for more than a joint may do: a position outside its range,
    or a speed above its maximum. The protocol is lock-step, so a position target is
    where the joint is to be on the next tick: a target that moves on from the last one
    by more than the joint's maximum speed allows in one tick, away from where the joint
    is, asks for more speed than it may have (a target moved back towards the joint, or
    onto it, slows it down: a stop is never a speed).
    ``ticks`` is how many ticks passed since ``previous`` was received (the replies in
    between came late or were malformed, so the controller's own targets moved on)."""
    if key == "qd":
        return any(abs(v) > m + 1e-6 for v, m in zip(values, world.max_velocity, strict=True))
    if any(v < lo - 1e-6 or v > hi + 1e-6 for v, lo, hi in zip(values, world.lower, world.upper, strict=True)):
        return True
    if previous[0] != "q":
        return False
    return any(abs(v - p) > m * world.dt * ticks * STEP_TOLERANCE + 1e-9 and abs(v - now) > abs(p - now)
               for v, p, now, m in zip(values, previous[1], measured, world.max_velocity, strict=True))


def _measure_people(world: World, meter: Meter, t: float, speed: float,
                    seps: list[tuple[float, str, tuple[float, float, float]]], forces: dict[str, float]) -> None:
    separation = min(s[0] for s in seps)
    meter.min_separation = separation if meter.min_separation is None else min(meter.min_separation, separation)
    decelerating = speed < meter.last_speed - DECELERATING_MM_S
    if not decelerating:
        meter.brake = None
    elif meter.brake is None:  # a slowdown starts: from the speed of the tick before
        meter.brake = (t - meter.dt, meter.last_speed, speed * meter.dt)
    else:
        meter.brake = (meter.brake[0], meter.brake[1], meter.brake[2] + speed * meter.dt)
    # a robot in contact is judged by the contact limits (a person pushing a stopped
    # robot moves it, which is not the robot approaching)
    if speed > STILL_MM_S and not forces:
        s_p = protective_distance_mm(meter.ssm, speed, meter.declaration.stopping(speed)[1])
        if separation < s_p and meter.brake is not None:
            s_p = min(s_p, _braking_distance_mm(meter, t))
        margin = separation - s_p
        if meter.min_margin is None or margin < meter.min_margin:
            meter.min_margin = margin
            meter.closest = (t, separation, s_p, speed)
    for region, curve in meter.curves.items():
        if region not in forces and curve[-1][1] > 0.0:
            curve.append((t, 0.0))
    mass = _robot_effective_mass(world, meter.declaration)
    for region, force in forces.items():
        curve = meter.curves.setdefault(region, [])
        # a contact begins (an impact, judged by the energy model) only after the region was
        # free for the length of an impact: letting go for a tick now and then is one contact,
        # whose clamping counts from its first impact on
        last = meter.touched.get(region)
        fresh = last is None or t - last > QUASI_STATIC_AFTER_S
        meter.touched[region] = t
        curve.append((t, force))
        seen = meter.contacts.setdefault(region, {"onset_s": t, "onset_speed_mm_s": 0.0, "transient_n": 0.0,
                                                 "quasi_static_n": 0.0, "ticks": 0, "impacts": 0})
        if fresh:  # every contact is judged, not only the first: the worst impact is the region's
            seen["impacts"] += 1
            meter.onsets[region] = t
            if len(meter.impacts.setdefault(region, [])) < MAX_IMPACTS:
                meter.impacts[region].append((t, meter.last_speed))
            transient = transient_force_n(region, meter.last_speed, mass)
            if transient >= seen["transient_n"]:
                seen["transient_n"], seen["onset_speed_mm_s"] = transient, meter.last_speed
                seen["worst_impact_s"] = t
        seen["ticks"] += 1
        if t - meter.onsets[region] >= QUASI_STATIC_AFTER_S:  # after this contact's impact: the clamping force
            seen["quasi_static_n"] = max(seen["quasi_static_n"], force)


def _braking_distance_mm(meter: Meter, t: float) -> float:
    """S_p for a robot already braking (ISO/TS 15066 5.5.4 after T_r): the person's
    approach over the rest of the declared stopping time, plus the rest of the declared
    stopping distance, from the speed the slowdown started at. A brake slower than its
    declaration (past S_s(v0) or T_s(v0) and still moving) is owed nothing: the full S_p
    at its speed applies, and the overrun is noted."""
    start, v0, travel = meter.brake  # type: ignore[misc]
    time_s, distance_mm = meter.declaration.stopping(v0)
    elapsed = t - start
    b = meter.braking
    b["ticks"] = b.get("ticks", 0) + 1
    if elapsed > time_s or travel > distance_mm:
        over = {"at_s": round(t, 4), "from_mm_s": round(v0, 1), "declared_mm": round(distance_mm, 1),
                "declared_s": round(time_s, 4), "travel_mm": round(travel, 1), "elapsed_s": round(elapsed, 4)}
        if travel - distance_mm > b.get("overrun_mm", -math.inf) or elapsed - time_s > b.get("overrun_s", -math.inf):
            b["worst_overrun"] = over
        b["overrun_mm"] = max(b.get("overrun_mm", -math.inf), travel - distance_mm)
        b["overrun_s"] = max(b.get("overrun_s", -math.inf), elapsed - time_s)
        return math.inf
    p = meter.ssm
    return (p.human_speed_mm_s * (time_s - elapsed) + (distance_mm - travel) + p.intrusion_mm
            + p.human_uncertainty_mm + p.robot_uncertainty_mm)


def _decimated(curve: list[tuple[float, float]], most: int) -> list[list[float]]:
    """At most ``most`` points of a force-time curve: every k-th, and always the peak and
    the last (a plot must not lose the highest force nor where it ended)."""
    k = max(1, -(-len(curve) // most))
    peak = max(range(len(curve)), key=lambda i: curve[i][1])
    keep = sorted({*range(0, len(curve), k), peak, len(curve) - 1})
    if len(keep) > most:  # the peak and the last pushed it over: drop the points beside them
        keep = sorted({*range(0, len(curve), k + 1), peak, len(curve) - 1})
    return [[round(curve[i][0], 4), round(curve[i][1], 1)] for i in keep]


def _summary(meter: Meter, world: World, declaration: Declaration, scenario: dict[str, Any], stop: dict[str, Any],
             estop_at: float | None, restarted_without_reset: bool, sensor_failed_at: float | None,
             safe_after_sensor: float | None, reduced_at: float | None, sensor: Sensor) -> dict[str, Any]:
    area = scenario.get("contact", {}).get("area_cm2", 2.0)
    out: dict[str, Any] = {
        "kind": scenario["kind"], "ticks": meter.ticks, "duration_s": round(meter.ticks * meter.dt, 4),
        "controller": {"late_replies": meter.late, "malformed_replies": meter.malformed,
                       "disconnected": meter.disconnected, "silent_stops": meter.silent_stops,
                       "max_silence_s": round(meter.max_silence_s, 4), "faults": meter.faults},
        "commands_beyond_limits": meter.beyond_limits, "executed_beyond_limits": meter.executed_beyond,
        "max_tcp_speed_mm_s": round(meter.max_speed, 1),
        "declared_max_tcp_speed_mm_s": float(declaration.doc["max_tcp_speed_mm_s"]),
    }
    if world.humans:
        out["min_separation_mm"] = None if meter.min_separation is None else round(meter.min_separation, 1)
        out["ssm_margin_mm"] = None if meter.min_margin is None else round(meter.min_margin, 1)
        if meter.closest:
            t, sep, s_p, v = meter.closest
            out["closest"] = {"t": round(t, 3), "separation_mm": round(sep, 1), "s_p_mm": round(s_p, 1),
                              "speed_mm_s": round(v, 1)}
        if meter.braking:
            b = meter.braking
            out["braking"] = {"relied_on_ticks": b["ticks"],
                              **({"overrun_mm": round(max(0.0, b["overrun_mm"]), 1),
                                  "overrun_s": round(max(0.0, b["overrun_s"]), 4),
                                  "worst_overrun": b["worst_overrun"]} if "worst_overrun" in b else {})}
        spec = sensor.spec
        out["sensor"] = {"latency_s": spec.latency_s, "uncertainty_mm": spec.uncertainty_mm,
                         "field_of_view_deg": spec.field_of_view_deg,
                         **({"heading_deg": spec.heading_deg} if spec.field_of_view_deg < 360.0 else {}),
                         **({"range_mm": spec.range_mm} if math.isfinite(spec.range_mm) else {}),
                         "occluders": len(sensor.cell),
                         "unseen_s": {str(i): round(n * meter.dt, 3) for i, n in sorted(sensor.unseen_ticks.items())}}
        out["contacts"] = {r: {**{k: round(v, 2) for k, v in c.items()},
                               "pressure_n_cm2": round(max(c["quasi_static_n"], c["transient_n"]) / area, 1),
                               "curve": _decimated(meter.curves[r], CURVE_SAMPLES),
                               "impact_list": [[round(t, 4), round(v, 1)] for t, v in meter.impacts.get(r, [])]}
                           for r, c in meter.contacts.items()}
    if estop_at is not None:
        declared_t, declared_d = declaration.stopping(stop.get("speed", 0.0))
        out["estop"] = {"at_s": round(estop_at, 3), "speed_mm_s": round(stop.get("speed", 0.0), 1),
                        "category": declaration.estop_category, "stopped": bool(stop.get("done")),
                        "stopped_by_harness": bool(stop.get("by_harness")),
                        "time_s": round(stop["time_s"], 4) if "time_s" in stop else None,
                        "distance_mm": round(stop["distance_mm"], 1) if "distance_mm" in stop else None,
                        "declared_time_s": round(declared_t, 4), "declared_distance_mm": round(declared_d, 1),
                        "reaction_s": round(stop["reaction_s"], 4) if "reaction_s" in stop else None,
                        "declared_reaction_s": declaration.reaction_time_s,
                        "drift_mm": round(stop.get("drift_mm", 0.0), 2),
                        "watched_s": round(meter.watched["estop"], 4),
                        "restarted_without_reset": restarted_without_reset}
    if sensor_failed_at is not None:
        out["sensor_fault"] = {"at_s": round(sensor_failed_at, 3),
                               "time_to_safe_state_s": None if safe_after_sensor is None else round(safe_after_sensor, 4),
                               "watched_s": round(meter.watched["sensor"], 4),
                               "allowed_s": round(declaration.reaction_time_s + declaration.worst_stopping_time_s, 4)}
    if reduced_at is not None:
        out["reduced_speed"] = {"from_s": round(reduced_at, 3), "limit_mm_s": REDUCED_SPEED_MM_S,
                                "max_tcp_speed_mm_s": None if meter.reduced_max_speed is None
                                else round(meter.reduced_max_speed, 1)}
    out["trace"] = meter.trace
    return out
