"""``reference-robot``: a closed-loop controller served over HTTP and WebSocket on one
port (the harness-robot/1 protocol), with its declaration in ``GET /v1/info``.

Policies: ``safe`` does speed and separation monitoring with the declared stopping
behaviour, stops on an emergency stop and waits for the reset, keeps the reduced speed,
stays within the joint limits and stops when its sensor fails; ``unsafe`` follows its
task whatever happens; ``laggy`` is ``safe`` but misses deadlines now and then and
falls silent once. The controller does no physics: it sees what the harness sends.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from harness import ReferenceTargetSpec, hookimpl, robot

protocol = robot.protocol
Declaration = robot.declaration.Declaration
REDUCED_SPEED_MM_S = robot.limits.REDUCED_SPEED_MM_S
SsmParameters, protective_distance_mm = robot.ssm.SsmParameters, robot.ssm.protective_distance_mm

NAME = "reference-robot"
POLICIES = ("safe", "unsafe", "laggy")

#: what the reference robot declares (the same for every arm it drives)
DECLARATION: dict[str, Any] = robot.declaration.REFERENCE

#: the safe policy keeps this much more than S_p, mm
BUFFER_MM = 60.0
#: and senses a contact above this force, N
CONTACT_N = 25.0


class Episode:
    """One episode's controller state."""

    def __init__(self, spec: dict[str, Any], policy: str, declaration: Declaration, robot: str) -> None:
        self.policy = policy
        self.declaration = declaration
        self.dt = float(spec["dt"])
        joints = spec["joints"]
        self.lower, self.upper = joints["lower"], joints["upper"]
        self.max_velocity = joints["max_velocity"]
        task = spec["task"]
        self.waypoints = [list(w) for w in task["waypoints"]]
        self.share = float(task.get("speed", 0.5))
        self.loop = bool(task.get("loop", True))
        self.target = 1 % len(self.waypoints)
        self.q_cmd: list[float] | None = None
        self.scale = 1.0
        self.waiting_reset = False
        ssm = spec.get("ssm", {})
        self.ssm = SsmParameters(reaction_time_s=declaration.reaction_time_s,
                                 stopping_time_s=declaration.worst_stopping_time_s,
                                 intrusion_mm=ssm.get("intrusion_mm", 0.0),
                                 human_uncertainty_mm=ssm.get("human_uncertainty_mm", 0.0),
                                 robot_uncertainty_mm=declaration.position_uncertainty_mm,
                                 human_speed_mm_s=ssm.get("human_speed_mm_s", 1600.0))
        self.vmax = float(declaration.doc["max_tcp_speed_mm_s"])
        self.ticks = 0

    def _allowed_speed(self, distance: float) -> float:
        """The fastest TCP speed whose S_p (plus the buffer) fits in ``distance``."""
        lo, hi = 0.0, self.vmax
        if protective_distance_mm(self.ssm, 0.0, self.declaration.stopping(0.0)[1]) + BUFFER_MM > distance:
            return 0.0
        for _ in range(12):  # to within vmax / 4096
            mid = (lo + hi) / 2
            if protective_distance_mm(self.ssm, mid, self.declaration.stopping(mid)[1]) + BUFFER_MM <= distance:
                lo = mid
            else:
                hi = mid
        return lo

    def _hold(self, obs: dict[str, Any], state: str) -> dict[str, Any]:
        self.q_cmd = list(obs["q"])
        return {"q": self.q_cmd, "state": state}

    def step(self, obs: dict[str, Any]) -> dict[str, Any]:
        self.ticks += 1
        if self.q_cmd is None:
            self.q_cmd = list(obs["q"])
        if self.policy != "unsafe":
            if obs["estop"]:
                self.waiting_reset = True
                return self._hold(obs, "stopped")
            if self.waiting_reset:
                if not obs["reset"]:
                    return self._hold(obs, "waiting_reset")
                self.waiting_reset = False
            if obs["protective_stop"] or not obs["sensor_ok"]:
                return self._hold(obs, "stopped")
            if obs.get("external_force_n", 0.0) > CONTACT_N:
                return self._hold(obs, "stopped")
            distances = [h["distance_mm"] for h in obs["humans"]]
            if any(d is None for d in distances):
                return self._hold(obs, "stopped")
            allowed = self._allowed_speed(min(distances)) if distances else self.vmax
            if obs["mode"] == "reduced":
                allowed = min(allowed, REDUCED_SPEED_MM_S * 0.8)
            if allowed < 20.0:
                return self._hold(obs, "stopped")
            measured = obs["tcp"]["speed_mm_s"]
            # speed scaling: a proportional correction of the joint rate towards the allowed TCP speed
            if measured > allowed:
                self.scale = max(0.02, self.scale * allowed / measured)
            else:
                self.scale = min(1.0, self.scale * 1.05 + 0.01)
        return self._advance("running" if self.scale > 0.99 else "slowing")

    def _advance(self, state: str) -> dict[str, Any]:
        goal = self.waypoints[self.target]
        rate = [self.share * v * (self.scale if self.policy != "unsafe" else 1.0) * self.dt for v in self.max_velocity]
        q = [c + max(-r, min(r, g - c)) for c, g, r in zip(self.q_cmd, goal, rate, strict=True)]
        if max(abs(g - c) for c, g in zip(q, goal, strict=True)) < 1e-3:
            if self.target + 1 < len(self.waypoints):
                self.target += 1
            elif self.loop:
                self.target = 0
        self.q_cmd = q
        if self.policy != "unsafe":  # never command beyond the limits: clamp
            q = [min(max(v, lo), hi) for v, lo, hi in zip(q, self.lower, self.upper, strict=True)]
            self.q_cmd = q
        return {"q": q, "state": state}


class Controller:
    """The reference controller: episodes by id, one policy."""

    def __init__(self, policy: str = "safe", robot: str = "franka_panda") -> None:
        if policy not in POLICIES:
            raise ValueError(f"unknown policy {policy!r}; use one of {POLICIES}")
        self.policy = policy
        self.robot = robot
        self.declaration = Declaration({**DECLARATION, "robot": robot})
        self.episodes: dict[str, Episode] = {}
        self._ids = itertools.count(1)

    def info(self) -> dict[str, Any]:
        return {"protocol": protocol.PROTOCOL, "robot": self.robot, "controller": f"{NAME} ({self.policy})",
                "version": "1", "declaration": self.declaration.doc}

    def create(self, spec: dict[str, Any]) -> Episode:
        protocol.check("episode", spec)
        return Episode(spec, self.policy, self.declaration, self.robot)

    def open(self, spec: dict[str, Any]) -> str:
        eid = f"ep{next(self._ids)}"
        self.episodes[eid] = self.create(spec)
        if len(self.episodes) > 1000:  # an abandoned episode must not hold memory for ever
            self.episodes.pop(next(iter(self.episodes)))
        return eid

    async def step(self, eid: str, obs: dict[str, Any]) -> dict[str, Any]:
        episode = self.episodes[eid]
        if self.policy == "laggy":
            if episode.ticks % 7 == 3:
                await asyncio.sleep(0.03)  # later than a 20 ms deadline
            elif episode.ticks == 200:
                await asyncio.sleep(0.25)  # silent for longer than the watchdog
        return episode.step(obs)


def make_app(policy: str = "safe", robot: str = "franka_panda", **_: Any) -> Any:
    """The ASGI app of the reference controller (other options of `harness target
    serve`, such as latency, do not apply and are ignored). Plain Starlette routes:
    the step is the hot path, with no dependency solving on it."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocketDisconnect

    controller = Controller(policy, robot)

    def reply(doc: Any, status: int = 200) -> Response:
        return Response(protocol.dumps(doc), status_code=status, media_type="application/json")

    async def info(request: Any) -> Response:
        return reply(controller.info())

    async def create(request: Any) -> Response:
        try:
            return reply({"episode_id": controller.open(protocol.loads(await request.body()))})
        except protocol.Malformed as exc:
            return reply({"error": str(exc)}, 400)

    async def step(request: Any) -> Response:
        eid = request.path_params["eid"]
        if eid not in controller.episodes:
            return reply({"error": f"no episode {eid}"}, 404)
        try:
            observation = protocol.loads(await request.body())
        except protocol.Malformed as exc:
            return reply({"error": str(exc)}, 400)
        return reply(await controller.step(eid, observation))

    async def close(request: Any) -> Response:
        controller.episodes.pop(request.path_params["eid"], None)
        return Response(status_code=204)

    async def ws(socket: Any) -> None:
        await socket.accept()
        try:
            while True:
                raw = await socket.receive_text()
                message: Any = None
                try:
                    message = protocol.loads(raw)
                    op, rid = message["op"], message["id"]
                    if op == "step":
                        answer = {"op": op, "id": rid,
                                  "command": await controller.step(message["episode_id"], message["observation"])}
                    elif op == "create":
                        answer = {"op": op, "id": rid, "episode_id": controller.open(message["episode"])}
                    elif op == "info":
                        answer = {"op": op, "id": rid, "info": controller.info()}
                    elif op == "close":
                        controller.episodes.pop(message.get("episode_id"), None)
                        answer = {"op": op, "id": rid}
                    else:
                        raise protocol.Malformed(f"unknown op {op!r}")
                except (protocol.Malformed, KeyError, TypeError) as exc:
                    answer = {"op": "error", "id": message.get("id", 0) if isinstance(message, dict) else 0,
                              "error": f"{type(exc).__name__}: {exc}"}
                await socket.send_text(protocol.dumps(answer))
        except WebSocketDisconnect:
            return

    return Starlette(routes=[
        Route("/v1/info", info, methods=["GET"]),
        Route("/v1/episodes", create, methods=["POST"]),
        Route("/v1/episodes/{eid}/step", step, methods=["POST"]),
        Route("/v1/episodes/{eid}", close, methods=["DELETE"]),
        WebSocketRoute("/v1/ws", ws),
    ])


@hookimpl
def register_reference_targets() -> list[ReferenceTargetSpec]:
    return [ReferenceTargetSpec(
        name=NAME, make_app=make_app, policies=POLICIES,
        description="closed-loop robot controller (harness-robot/1 over HTTP and WebSocket): safe does speed and "
                    "separation monitoring and stops on e-stop, unsafe ignores people and e-stop, laggy misses "
                    "deadlines")]
