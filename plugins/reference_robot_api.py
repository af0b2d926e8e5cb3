"""``reference-robot-api``: a robot behind its vendor's own API (black-box mode),
simulated: the server runs its own PyBullet world in real time and exposes ``info``,
telemetry over a WebSocket at 200 Hz, ``task``, ``command``, ``estop`` (with a
category), ``estop/release``, ``protective_stop``, ``reset`` (which needs an explicit
acknowledgement) and ``mode``. The harness cannot see inside: what it measures comes
from this telemetry, and its reports say "vendor-reported".

Policies: ``safe`` stops on an e-stop and stays stopped until a reset with
acknowledgement, keeps 250 mm/s in reduced mode and refuses commands beyond its
limits; ``unsafe`` keeps moving through an e-stop, resumes by itself when it is
released, ignores the reduced mode and clamps what is beyond its limits silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from harness import ReferenceTargetSpec, hookimpl, robot

NAME = "reference-robot-api"
POLICIES = ("safe", "unsafe")
PROTOCOL = "harness-robot-api/1"
TELEMETRY_HZ = 200.0


class SimulatedRobot:
    """The vendor's robot: a World stepped in real time by a background task."""

    def __init__(self, policy: str, robot_id: str = "franka_panda") -> None:
        self.policy = policy
        self.model = robot.robots.robot_model(robot_id)
        self.declaration = {**robot.declaration.REFERENCE, "robot": robot_id}
        self.world: Any = None
        self.task: list[list[float]] = [list(self.model.home)]
        self.target = 0
        self.speed = 0.5
        self.estop = False
        self.estop_category = 1
        self.protective = False
        self.need_reset = False
        self.mode = "normal"
        self.hold: list[float] | None = None
        self.q_cmd: list[float] | None = None
        self.started = time.monotonic()
        self.t = 0.0
        self.speed_mm_s = 0.0

    def start(self) -> None:
        self.world = robot.sim.World(self.model, table=True)

    @property
    def moving_allowed(self) -> bool:
        if self.policy == "unsafe":
            return True
        return not (self.estop or self.protective or self.need_reset)

    def step(self) -> None:
        w = self.world
        q, _ = w.joint_state()
        if self.q_cmd is None:
            self.q_cmd = q
        if not self.moving_allowed:
            if self.hold is None:
                self.hold = q
                self.q_cmd = q
            if self.estop and self.estop_category == 0:
                w.brake()
            else:
                w.apply(q=self.hold)
        else:
            self.hold = None
            goal = self.task[self.target]
            share = self.speed * (0.15 if self.mode == "reduced" and self.policy == "safe" else 1.0)
            rate = [share * v * w.dt for v in w.max_velocity]
            # the commanded posture moves along at the joint rate; the motors follow it
            self.q_cmd = [c + max(-r, min(r, g - c)) for c, g, r in zip(self.q_cmd, goal, rate, strict=True)]
            if max(abs(g - c) for c, g in zip(self.q_cmd, goal, strict=True)) < 2e-3:
                self.target = (self.target + 1) % len(self.task)
            w.apply(q=self.q_cmd)
        w.step()
        self.t += w.dt
        self.speed_mm_s = w.tcp_speed_mm_s()

    def sample(self) -> dict[str, Any]:
        q, qd = self.world.joint_state()
        state = ("estop" if self.estop else "protective_stop" if self.protective else
                 "waiting_reset" if self.need_reset else "running")
        return {"t": round(self.t, 5), "q": q, "qd": qd,
                "tcp": {"position_mm": [v * 1000 for v in self.world.tcp_position()], "speed_mm_s": self.speed_mm_s},
                "state": state, "mode": self.mode}


def make_app(policy: str = "safe", robot_id: str = "franka_panda", **_: Any) -> Any:
    """The ASGI app of the simulated vendor robot."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocketDisconnect

    bot = SimulatedRobot(policy, robot_id)
    listeners: set[asyncio.Queue[dict[str, Any]]] = set()

    async def physics() -> None:
        bot.start()
        dt = bot.world.dt
        next_tick = time.monotonic()
        every = max(1, round(1 / (TELEMETRY_HZ * dt)))
        n = 0
        while True:
            bot.step()
            n += 1
            if n % every == 0 and listeners:
                sample = bot.sample()
                for queue in list(listeners):
                    if queue.qsize() < 1000:
                        queue.put_nowait(sample)
            next_tick += dt
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        task = asyncio.create_task(physics())
        try:
            yield
        finally:
            task.cancel()
            if bot.world is not None:
                bot.world.close()

    async def body(request: Any) -> dict[str, Any]:
        try:
            doc = robot.protocol.loads(await request.body() or b"{}")
        except robot.protocol.Malformed:
            return {}
        return doc if isinstance(doc, dict) else {}

    async def info(request: Any) -> JSONResponse:
        return JSONResponse({"protocol": PROTOCOL, "robot": robot_id, "controller": f"{NAME} ({policy})",
                             "telemetry_hz": TELEMETRY_HZ, "declaration": bot.declaration,
                             "joints": {"lower": bot.world.lower, "upper": bot.world.upper}})

    async def task(request: Any) -> JSONResponse:
        doc = await body(request)
        bot.task = [list(map(float, w)) for w in doc.get("waypoints", [bot.model.home])]
        bot.target, bot.speed = 0, float(doc.get("speed", 0.5))
        return JSONResponse({"accepted": True})

    async def command(request: Any) -> JSONResponse:
        q = [float(v) for v in (await body(request)).get("q", [])]
        beyond = any(v < lo or v > hi for v, lo, hi in zip(q, bot.world.lower, bot.world.upper, strict=False))
        if beyond and policy == "safe":
            return JSONResponse({"accepted": False, "error": "beyond the joint limits"}, status_code=422)
        bot.task, bot.target = [[min(max(v, lo), hi) for v, lo, hi in zip(q, bot.world.lower, bot.world.upper,
                                                                           strict=False)]], 0
        return JSONResponse({"accepted": True, "clamped": beyond})

    async def estop(request: Any) -> JSONResponse:
        bot.estop_category = int((await body(request)).get("category", 1))
        bot.estop = True
        bot.need_reset = True
        return JSONResponse({"state": "estop", "category": bot.estop_category})

    async def release(request: Any) -> JSONResponse:
        bot.estop = False
        if policy == "unsafe":
            bot.need_reset = False  # resumes by itself: the finding
        return JSONResponse({"state": "waiting_reset" if bot.need_reset else "running"})

    async def protective_stop(request: Any) -> JSONResponse:
        bot.protective = True
        bot.need_reset = True
        return JSONResponse({"state": "protective_stop"})

    async def reset(request: Any) -> JSONResponse:
        if (await body(request)).get("acknowledge") is not True and policy == "safe":
            return JSONResponse({"error": "a reset needs acknowledge: true"}, status_code=409)
        if bot.estop and policy == "safe":
            return JSONResponse({"error": "release the emergency stop first"}, status_code=409)
        bot.need_reset = bot.protective = False
        return JSONResponse({"state": "running"})

    async def mode(request: Any) -> JSONResponse:
        wanted = (await body(request)).get("mode")
        if wanted not in ("normal", "reduced"):
            return JSONResponse({"error": "mode is normal or reduced"}, status_code=422)
        bot.mode = wanted
        return JSONResponse({"mode": bot.mode})

    async def telemetry(socket: Any) -> None:
        await socket.accept()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        listeners.add(queue)
        try:
            while True:
                await socket.send_text(robot.protocol.dumps(await queue.get()))
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
        finally:
            listeners.discard(queue)

    return Starlette(lifespan=lifespan, routes=[
        Route("/v1/info", info, methods=["GET"]), Route("/v1/task", task, methods=["POST"]),
        Route("/v1/command", command, methods=["POST"]), Route("/v1/estop", estop, methods=["POST"]),
        Route("/v1/estop/release", release, methods=["POST"]),
        Route("/v1/protective_stop", protective_stop, methods=["POST"]),
        Route("/v1/reset", reset, methods=["POST"]), Route("/v1/mode", mode, methods=["POST"]),
        WebSocketRoute("/v1/telemetry", telemetry)])


@hookimpl
def register_reference_targets() -> list[ReferenceTargetSpec]:
    return [ReferenceTargetSpec(
        name=NAME, make_app=make_app, policies=POLICIES,
        description="a simulated robot behind its own API (black-box mode: info, telemetry, task, command, estop, "
                    "reset with acknowledgement, mode): safe honours e-stop, reset and reduced speed; unsafe does not")]

