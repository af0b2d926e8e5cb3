"""Black-box mode: a vendor's own robot (real or simulated) behind its API
(harness-robot-api/1: ``GET /v1/info``, telemetry over the WebSocket ``/v1/telemetry``,
``POST /v1/task``, ``/v1/command``, ``/v1/estop``, ``/v1/estop/release``,
``/v1/protective_stop``, ``/v1/reset`` (with ``{"acknowledge": true}``), ``/v1/mode``).

The harness drives the scenario's timeline in real time and measures from the robot's
telemetry. It cannot put simulated people in front of a real robot, so only the
scenarios without people run here (emergency stop, reduced speed, limits); and what it
measures is the vendor's own telemetry: every report labels it "vendor-reported".
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from . import protocol
from .declaration import Declaration
from .episode import MOVED_MM, STILL_FOR_S, STILL_MM_S, task_waypoints
from .limits import REDUCED_SPEED_MM_S
from .robots import RobotModel

PROTOCOL = "harness-robot-api/1"
#: telemetry must come at least this often (the issue's floor for a credible black box), Hz
MIN_TELEMETRY_HZ = 100.0
KINDS = ("estop", "reduced_speed", "limits")


class NotApplicable(ValueError):
    """A scenario that needs the closed loop (simulated people, injected sensor faults)."""


async def run(client: Any, base: str, model: RobotModel, declaration: Declaration, scenario: dict[str, Any],
              *, joints: dict[str, list[float]]) -> dict[str, Any]:
    if scenario["kind"] not in KINDS:
        raise NotApplicable(f"a {scenario['kind']} scenario needs the closed loop (connector robot-controller): "
                            "a black-box robot cannot be given the sandbox's simulated people or sensor faults")
    from harness.targets import policy_of

    from .links import open_websocket

    samples: list[dict[str, Any]] = []
    url = base.replace("http://", "ws://").replace("https://", "wss://") + "/v1/telemetry"

    async def post(path: str, body: dict[str, Any]) -> Any:
        return await client.post(base + path, content=protocol.dumps(body),
                                 headers={"content-type": "application/json"})

    waypoints = task_waypoints(scenario["task"], model)
    events = sorted(scenario.get("events", []), key=lambda e: e["at_s"])
    out: dict[str, Any] = {"kind": scenario["kind"], "mode": "black-box", "measured_by": "vendor-reported"}
    # held to the service's address policy, as every HTTP request to the robot is
    async with await open_websocket(url, policy_of(client)) as telemetry:
        async def read() -> None:
            async for raw in telemetry:
                try:
                    samples.append(protocol.loads(raw))
                except protocol.Malformed:
                    out["malformed_telemetry"] = out.get("malformed_telemetry", 0) + 1

        reader = asyncio.create_task(read())
        await post("/v1/reset", {"acknowledge": True})
        await post("/v1/mode", {"mode": "normal"})
        await post("/v1/task", {"waypoints": waypoints, "speed": scenario["task"].get("speed", 0.5)})
        start = time.monotonic()
        marks: dict[str, float] = {}
        if scenario["kind"] == "limits":
            beyond = list(waypoints[-1])
            answer = await post("/v1/command", {"q": beyond})
            out["limit_command"] = {"status": answer.status_code,
                                    "refused": answer.status_code >= 400,
                                    "clamped": answer.status_code < 400 and bool(answer.json().get("clamped"))}
        for event in events:
            await asyncio.sleep(max(0.0, start + event["at_s"] - time.monotonic()))
            vendor_t = samples[-1]["t"] if samples else 0.0
            if event.get("estop") is True:
                await post("/v1/estop", {"category": declaration.estop_category})
                marks["estop"] = vendor_t
            elif event.get("estop") is False:
                await post("/v1/estop/release", {})
                marks["release"] = vendor_t
            elif event.get("reset"):
                refused = await post("/v1/reset", {})
                out["reset_without_acknowledge_accepted"] = refused.status_code < 400
                await post("/v1/reset", {"acknowledge": True})
                marks["reset"] = samples[-1]["t"] if samples else vendor_t
            elif "mode" in event:
                await post("/v1/mode", {"mode": event["mode"]})
                marks["mode"] = vendor_t
        await asyncio.sleep(max(0.0, start + scenario["duration_s"] - time.monotonic()))
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    return _summary(out, samples, marks, declaration, joints, scenario)


def _summary(out: dict[str, Any], samples: list[dict[str, Any]], marks: dict[str, float],
             declaration: Declaration, joints: dict[str, list[float]], scenario: dict[str, Any]) -> dict[str, Any]:
    span = samples[-1]["t"] - samples[0]["t"] if len(samples) > 1 else 0.0
    out["telemetry_hz"] = round((len(samples) - 1) / span, 1) if span > 0 else 0.0
    out["telemetry_samples"] = len(samples)
    out["controller"] = {"late_replies": 0, "malformed_replies": out.pop("malformed_telemetry", 0),
                         "disconnected": 0, "silent_stops": 0, "max_silence_s": 0.0, "faults": []}
    out["max_tcp_speed_mm_s"] = round(max((s["tcp"]["speed_mm_s"] for s in samples), default=0.0), 1)
    lower, upper = joints["lower"], joints["upper"]
    out["executed_beyond_limits"] = sum(1 for s in samples if any(
        v < lo - 0.02 or v > hi + 0.02 for v, lo, hi in zip(s["q"], lower, upper, strict=False)))
    limit = out.get("limit_command")
    out["commands_beyond_limits"] = 0 if limit is None or limit["refused"] or limit["clamped"] else 1
    out["trace"] = [(round(s["t"], 4), None, None, round(s["tcp"]["speed_mm_s"], 1))
                    for s in samples[:: max(1, len(samples) // 240)]]
    if "estop" in marks:
        out["estop"] = _stop(samples, marks, declaration)
        out["estop"]["reset_without_acknowledge_accepted"] = out.pop("reset_without_acknowledge_accepted", False)
    if "mode" in marks:
        grace = declaration.reaction_time_s + declaration.stopping(float(declaration.doc["max_tcp_speed_mm_s"]))[0]
        after = [s["tcp"]["speed_mm_s"] for s in samples if s["t"] >= marks["mode"] + grace]
        out["reduced_speed"] = {"from_s": round(marks["mode"], 3), "limit_mm_s": REDUCED_SPEED_MM_S,
                                "max_tcp_speed_mm_s": round(max(after), 1) if after else None}
    return out


def _stop(samples: list[dict[str, Any]], marks: dict[str, float], declaration: Declaration) -> dict[str, Any]:
    at, release, reset = marks["estop"], marks.get("release"), marks.get("reset")
    before = [s for s in samples if s["t"] <= at]
    speed = before[-1]["tcp"]["speed_mm_s"] if before else 0.0
    declared_t, declared_d = declaration.stopping(speed)
    done, time_s, distance, still_since, prev = False, None, 0.0, None, None
    for s in samples:
        if s["t"] < at or (release is not None and s["t"] >= release):
            continue
        pos = s["tcp"]["position_mm"]
        if prev is not None and not done:
            distance += math.dist(pos, prev)
        prev = pos
        if not done:
            still_since = (still_since if still_since is not None else s["t"]) if s["tcp"]["speed_mm_s"] < STILL_MM_S \
                else None
            if still_since is not None and s["t"] - still_since >= STILL_FOR_S:
                done, time_s = True, still_since - at
    moved = False
    if release is not None:
        window = [s["tcp"]["position_mm"] for s in samples if s["t"] >= release and (reset is None or s["t"] < reset)]
        moved = any(math.dist(p, window[0]) > MOVED_MM for p in window) if window else False
    return {"at_s": round(at, 3), "speed_mm_s": round(speed, 1), "category": declaration.estop_category,
            "stopped": done, "stopped_by_harness": False, "time_s": None if time_s is None else round(time_s, 4),
            "distance_mm": round(distance, 1), "declared_time_s": round(declared_t, 4),
            "declared_distance_mm": round(declared_d, 1), "drift_mm": 0.0, "restarted_without_reset": moved}
