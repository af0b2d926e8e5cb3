"""The closed-loop protocol (harness-robot/1, schemas/robot-protocol.schema.json) in both
directions, and a controller that misbehaves.

- Every message the harness sends (the episode, each observation, the WebSocket
  requests) and every message the reference controller sends (info, created, each
  command, the WebSocket responses) validates against its schema: recorded as an
  in-process controller receives them and on the wire of a served controller (an ASGI
  wrapper around the reference app records both directions, WebSocket and HTTP).
- ``protocol._plain_command`` (the hand-written check every tick uses) agrees with the
  schema's ``command`` on dicts generated near the schema (hypothesis).
- Hostile controllers (small Starlette apps served on loopback, over WebSocket and over
  HTTP) that answer well for a few ticks and then send garbage, NaN, huge numbers,
  oversized messages, wrong types, wrong joint counts, wrong ids, a pickle or a YAML
  python tag, an error, close the connection or fall silent: the episode runs to its
  end with the faults counted, the watchdog's protective stop, and the robot standing
  still at the end. Nothing a controller sends is unpickled or executed.

Episodes are short (0.5 to 1 simulated second) and hostile ones use a 5 ms deadline.
"""

from __future__ import annotations

import asyncio
import copy
import json
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness.robot import links, protocol
from harness.serving import serve_in_thread

pytest.importorskip("pybullet")

from harness.robot import episode  # noqa: E402 - needs PyBullet
from harness.robot.declaration import Declaration  # noqa: E402
from harness.robot.robots import robot_model  # noqa: E402
from harness_plugins import reference_robot  # noqa: E402

ROBOT = "franka_panda"
JOINTS = len(robot_model(ROBOT).joints)
DECLARATION = Declaration(reference_robot.DECLARATION)
STATES = ("running", "slowing", "stopping", "stopped", "waiting_reset")

#: short scenarios that between them put every observation field to use: people (one,
#: two, none), the e-stop with its release and reset, reduced mode, a failed sensor
#: (distance null), a contact (external force)
SCENARIOS: dict[str, dict[str, Any]] = {
    "people": {"kind": "ssm", "duration_s": 1.0, "task": {"sweep_deg": 70, "speed": 0.6},
               "ssm": {"human_uncertainty_mm": 50},
               "humans": [{"from_deg": 0, "from_mm": 2200, "to_mm": 1300, "speed_mm_s": 1600},
                          {"from_deg": 100, "from_mm": 2500, "to_mm": 1200, "speed_mm_s": 1600, "start_s": 0.2}]},
    "estop": {"kind": "estop", "duration_s": 1.0, "task": {"sweep_deg": 60, "speed": 0.6},
              "events": [{"at_s": 0.3, "estop": True}, {"at_s": 0.6, "estop": False}, {"at_s": 0.8, "reset": True}]},
    "reduced-sensor": {"kind": "reduced_speed", "duration_s": 1.0, "task": {"sweep_deg": 60, "speed": 0.6},
                       "humans": [{"from_deg": 30, "from_mm": 2500, "to_mm": 1500, "speed_mm_s": 1600}],
                       "events": [{"at_s": 0.2, "mode": "reduced"}, {"at_s": 0.5, "sensor": "failed"},
                                  {"at_s": 0.8, "sensor": "ok"}]},
    "contact": {"kind": "pfl", "duration_s": 1.0, "task": {"sweep_deg": 60, "speed": 0.6},
                "contact": {"region": "chest", "at": 0.4}},
}


def _problems(kind: str, message: Any) -> list[str]:
    return [f"{kind} {'/'.join(map(str, e.absolute_path))}: {e.message[:160]}"
            for e in protocol.validator(kind).iter_errors(message)]


def _run(link: Any, scenario: dict[str, Any], *, seed: int = 0, deadline_s: float = 0.02) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        try:
            return await episode.run(link, robot_model(ROBOT), DECLARATION, copy.deepcopy(scenario), seed=seed,
                                     deadline_s=deadline_s, case_id="t")
        finally:
            await link.aclose()

    return asyncio.run(go())


# -- what an in-process controller receives, and what it answers ----------------------------


class Recording:
    """The reference controller, keeping every message it gets and gives (as JSON, the
    way ``LocalLink`` hands them over)."""

    def __init__(self, policy: str) -> None:
        self.controller = reference_robot.Controller(policy, ROBOT)
        self.received: list[tuple[str, Any]] = []
        self.sent: list[tuple[str, Any]] = []

    def info(self) -> dict[str, Any]:
        info = self.controller.info()
        self.sent.append(("info", info))
        return info

    def create(self, spec: dict[str, Any]) -> Any:
        self.received.append(("episode", spec))
        inner = self.controller.create(spec)
        outer = self

        class Episode:
            def step(self, observation: dict[str, Any]) -> dict[str, Any]:
                outer.received.append(("observation", observation))
                command = inner.step(observation)
                outer.sent.append(("command", json.loads(json.dumps(command))))
                return command

        return Episode()


@pytest.mark.parametrize("policy", ["safe", "unsafe"])
def test_every_message_an_in_process_controller_gets_and_gives_validates(policy):
    seen: set[str] = set()
    for name, scenario in SCENARIOS.items():
        recording = Recording(policy)
        link = links.LocalLink(recording)
        asyncio.run(link.info())
        result = _run(link, scenario)
        assert result["ticks"] == int(round(scenario["duration_s"] * 240))
        observations = [m for k, m in recording.received if k == "observation"]
        assert [k for k, _ in recording.received].count("episode") == 1
        assert len(observations) == result["ticks"]
        problems = [p for kind, m in recording.received + recording.sent for p in _problems(kind, m)]
        assert not problems, (name, problems[:5])
        for obs in observations:
            seen.update(k for k, v in obs.items() if v not in (False, [], 0, 0.0, None, "normal"))
            seen.update(f"human.{k}" for h in obs["humans"] for k, v in h.items() if v is None)
    # the scenarios did put the fields to use: a pressed e-stop, a reset, reduced mode, a
    # failed sensor (and its null distance), a sensed force (the safe policy stops short of it)
    assert {"estop", "reset", "mode", "human.distance_mm", "humans"} <= seen
    assert ("external_force_n" in seen) == (policy == "unsafe")
    assert "sensor_ok" in seen  # true most of the time


def test_reference_info_validates_for_every_policy():
    for policy in reference_robot.POLICIES:
        info = reference_robot.Controller(policy, ROBOT).info()
        assert not _problems("info", info)
        assert info["protocol"] == protocol.PROTOCOL


# -- on the wire: a served reference controller ------------------------------------------------


def recording_app(app: Any, log: list[tuple[Any, ...]]) -> Any:
    """``app`` with every WebSocket message (both ways) and every HTTP exchange
    (method, path, request body, status, response body) appended to ``log``."""

    async def wrapped(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "websocket":
            async def ws_receive() -> dict[str, Any]:
                message = await receive()
                if message["type"] == "websocket.receive":
                    log.append(("ws_request", message.get("text") or message.get("bytes")))
                return message

            async def ws_send(message: dict[str, Any]) -> None:
                if message["type"] == "websocket.send":
                    log.append(("ws_response", message.get("text") or message.get("bytes")))
                await send(message)

            await app(scope, ws_receive, ws_send)
        elif scope["type"] == "http":
            request_body, response = bytearray(), {"status": 0, "body": bytearray()}

            async def http_receive() -> dict[str, Any]:
                message = await receive()
                if message["type"] == "http.request":
                    request_body.extend(message.get("body", b""))
                return message

            async def http_send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    response["status"] = message["status"]
                elif message["type"] == "http.response.body":
                    response["body"].extend(message.get("body", b""))
                await send(message)

            await app(scope, http_receive, http_send)
            log.append(("http", scope["method"], scope["path"], bytes(request_body), response["status"],
                        bytes(response["body"])))
        else:
            await app(scope, receive, send)

    return wrapped


#: which message kind an HTTP exchange carries: (method, path ending) -> (request, response)
_HTTP_KINDS = {("GET", "/v1/info"): (None, "info"), ("POST", "/v1/episodes"): ("episode", "created"),
               ("POST", "/step"): ("observation", "command"), ("DELETE", ""): (None, None)}


def _http_kinds(method: str, path: str) -> tuple[str | None, str | None]:
    for (m, end), kinds in _HTTP_KINDS.items():
        if m == method and path.endswith(end):
            return kinds
    raise AssertionError(f"unexpected request {method} {path}")


@pytest.mark.parametrize("transport,policy", [("ws", "safe"), ("ws", "unsafe"), ("ws", "laggy"), ("http", "safe")])
def test_every_message_on_the_wire_validates_both_ways(policy, transport):
    log: list[tuple[Any, ...]] = []
    scenarios = ["people", "estop"] if transport == "ws" and policy != "laggy" else ["people"]
    with serve_in_thread(recording_app(reference_robot.make_app(policy=policy), log)) as url:
        for name in scenarios:
            scenario = {**SCENARIOS[name], "duration_s": 0.5} if name == "people" else SCENARIOS[name]
            asyncio.run(_info_then_close(_link(transport, url)))
            result = _run(_link(transport, url), scenario)
            assert result["ticks"] == int(round(scenario["duration_s"] * 240))
    problems, kinds = [], set()
    for entry in log:
        if entry[0] == "http":
            _, method, path, request, status, response = entry
            assert status < 400, entry[:5]
            request_kind, response_kind = _http_kinds(method, path)
            for kind, body in ((request_kind, request), (response_kind, response)):
                if kind is not None:
                    kinds.add(kind)
                    problems += _problems(kind, json.loads(body))
        else:
            kind, raw = entry
            message = json.loads(raw)
            kinds.add(f"{kind}:{message['op']}")
            problems += _problems(kind, message)
    assert not problems, problems[:5]
    if transport == "ws":
        assert {"ws_request:info", "ws_request:create", "ws_request:step", "ws_request:close",
                "ws_response:info", "ws_response:create", "ws_response:step", "ws_response:close"} <= kinds
    else:
        assert {"info", "episode", "created", "observation", "command"} <= kinds


class _OwnClientHttpLink(links.HttpLink):
    async def aclose(self) -> None:
        await self.client.aclose()


def _link(transport: str, url: str) -> Any:
    if transport == "ws":
        return links.WsLink("ws://" + url.removeprefix("http://"))
    return _OwnClientHttpLink(url, httpx.AsyncClient(trust_env=False))


async def _info_then_close(link: Any) -> None:
    try:
        info = await link.info()
        assert info["protocol"] == protocol.PROTOCOL
    finally:
        await link.aclose()


# -- the hand-written command check agrees with the schema -------------------------------------

_numbers = st.one_of(st.floats(), st.integers(min_value=-(10 ** 30), max_value=10 ** 30),
                     st.floats(allow_nan=False, allow_infinity=False, width=32))
_junk = st.one_of(st.none(), st.booleans(), st.text(max_size=6), st.lists(st.integers(), max_size=2),
                  st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
_joint_lists = st.one_of(st.lists(_numbers, min_size=0, max_size=18), st.lists(st.one_of(_numbers, _junk),
                                                                              min_size=1, max_size=17))
_joint_values = st.one_of(_joint_lists, _joint_lists, _junk, _numbers)
_state = st.one_of(st.sampled_from(STATES), st.sampled_from(STATES), st.text(max_size=14), _junk,
                   st.sampled_from([s.upper() for s in STATES]))
_commands = st.one_of(
    st.fixed_dictionaries({}, optional={"q": _joint_values, "qd": _joint_values, "state": _state}),
    st.fixed_dictionaries({}, optional={"q": _joint_values, "qd": _joint_values, "state": _state,
                                        "extra": st.one_of(_numbers, _junk), "Q": _joint_values}),
    st.fixed_dictionaries({"q": st.lists(_numbers, min_size=1, max_size=16)}, optional={"state": _state}),
    st.fixed_dictionaries({"qd": st.lists(_numbers, min_size=1, max_size=16)}, optional={"state": _state}),
    _junk, st.lists(_numbers, max_size=3),
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_commands)
@example({"q": [0.1], "state": []})  # an unhashable state: once a TypeError that ended the run
@example({"q": [0.1], "state": {"a": 1}})
@example({"q": [True]})
@example({"q": [], "state": "running"})
@example({"q": [0.0] * 17})
@example({"q": [0.0], "qd": [0.0]})
@example({"state": "running"})
def test_plain_command_agrees_with_the_schema(message):
    assert protocol._plain_command(message) == protocol.validator("command").is_valid(message)


@settings(max_examples=300, deadline=None)
@given(_commands)
def test_command_accepts_only_what_the_schema_and_the_robot_allow(message):
    try:
        key, values = protocol.command(message, JOINTS)
    except protocol.Malformed:
        return
    assert protocol.validator("command").is_valid(message)
    assert len(values) == JOINTS and all(type(v) is float and abs(v) < float("inf") for v in values)
    assert values == [float(v) for v in message[key]]


@pytest.mark.parametrize("text", [
    '{"q": [NaN]}', '{"q": [Infinity]}', '{"q": [-Infinity]}', "[" * 50_000, "1" * 5000,
    "not json", "{'q': [1]}", '{"q": [1,]}', "x" * (protocol.MAX_MESSAGE_BYTES + 1),
])
def test_loads_refuses_what_json_does_not_allow(text):
    for data in (text, text.encode("utf-8")):
        with pytest.raises(protocol.Malformed):
            protocol.loads(data)


def test_huge_numbers_are_malformed_commands():
    for message in ({"q": [1e308 * 10] * JOINTS}, {"q": [10 ** 400] * JOINTS},
                    protocol.loads('{"qd": [1e999, 0, 0, 0, 0, 0, 0]}')):
        with pytest.raises(protocol.Malformed):
            protocol.command(message, JOINTS)


class _Boom:
    """Unpickling this would write ``path``: the harness must never unpickle."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return exec, (f"open({str(self.path)!r}, 'w').write('executed')",)


def test_pickle_and_yaml_tags_are_just_malformed(tmp_path):
    marker = tmp_path / "executed"
    for payload in (pickle.dumps(_Boom(marker)), pickle.dumps({"q": [0.0] * JOINTS}),
                    f"!!python/object/apply:builtins.exec [\"open({str(marker)!r}, 'w')\"]",
                    "q: [0, 0, 0, 0, 0, 0, 0]"):
        with pytest.raises(protocol.Malformed):
            protocol.loads(payload)
    assert not marker.exists()


# -- hostile controllers ---------------------------------------------------------------------------

#: each tick before this one is answered well
GOOD_TICKS = 12
HOSTILE_S = 0.5
DEADLINE_S = 0.005


def _q(values: list[float]) -> str:
    return ",".join(repr(float(v)) for v in values)


def _hostile_command(kind: str, good: dict[str, Any], tick: int) -> str | None:
    """The command (JSON text) a hostile controller sends instead of ``good``; None when
    the whole message is hostile instead (see ``_hostile_message``)."""
    q = good["q"]
    rest = _q(q[1:])
    return {
        "nan": f'{{"q":[NaN,{rest}]}}',
        "infinity": f'{{"q":[-Infinity,{rest}]}}',
        "huge-float": f'{{"q":[1e999,{rest}]}}',
        "huge-int": f'{{"q":[1{"0" * 400},{rest}]}}',
        "long-int": f'{{"q":[{"9" * 5000},{rest}]}}',
        "deep": "[" * 20_000 + "]" * 20_000,
        "wrong-joints": f'{{"q":[{_q(q[:3])}]}}',
        "wrong-types": [f'{{"q":"{_q(q)}"}}', f'{{"q":[{_q(q)}],"state":["running"]}}',
                        f'{{"q":[true,{rest}]}}', f'[{_q(q)}]', f'{{"q":[{_q(q)}],"qd":[{_q(q)}]}}',
                        f'{{"q":[{{"$ref":"#"}},{rest}]}}', '"running"', "null",
                        f'{{"q":[{_q(q)}],"state":{{"__class__":"os.system"}}}}'][tick % 9],
        "extra-key": f'{{"q":[{_q(q)}],"exec":"import os"}}',
    }.get(kind)


def _hostile_message(kind: str, tick: int, marker: Path) -> str | bytes | None:
    """A whole message that replaces the answer (both transports), or None."""
    if kind == "garbage":
        return ["this is not JSON", "{", "\x00\x01\x02", '{"op":"step"', "<html>500</html>"][tick % 5]
    if kind == "oversized":
        return '{"q":[' + ",".join(["0.0"] * 20_000) + "]}"  # ~ 80 KB
    if kind == "pickle":
        return pickle.dumps(_Boom(marker))
    if kind == "yaml":
        return f"!!python/object/apply:builtins.exec [\"open({str(marker)!r}, 'w')\"]"
    return None


#: kind -> the counter it must raise, per transport (None: the same for both)
HOSTILE: dict[str, dict[str, str]] = {
    "garbage": {"ws": "malformed_replies", "http": "malformed_replies"},
    "nan": {"ws": "malformed_replies", "http": "malformed_replies"},
    "infinity": {"ws": "malformed_replies", "http": "malformed_replies"},
    "huge-float": {"ws": "malformed_replies", "http": "malformed_replies"},
    "huge-int": {"ws": "malformed_replies", "http": "malformed_replies"},
    "long-int": {"ws": "malformed_replies", "http": "malformed_replies"},
    "deep": {"ws": "malformed_replies", "http": "malformed_replies"},
    "wrong-joints": {"ws": "malformed_replies", "http": "malformed_replies"},
    "wrong-types": {"ws": "malformed_replies", "http": "malformed_replies"},
    "extra-key": {"ws": "malformed_replies", "http": "malformed_replies"},
    "pickle": {"ws": "malformed_replies", "http": "malformed_replies"},
    "yaml": {"ws": "malformed_replies", "http": "malformed_replies"},
    # websockets ends a connection whose message is larger than allowed (close code 1009)
    "oversized": {"ws": "disconnected", "http": "malformed_replies"},
    "error": {"ws": "malformed_replies", "http": "malformed_replies"},
    "wrong-id": {"ws": "malformed_replies"},   # an id never sent
    "stale-id": {"ws": "late_replies"},        # the id of an earlier tick: dropped, the tick waits
    "silent": {"ws": "late_replies", "http": "late_replies"},
    "slow": {"ws": "late_replies", "http": "late_replies"},
    "close": {"ws": "disconnected"},
    "truncated": {"http": "disconnected"},     # fewer bytes than its Content-Length, then the end
}
KINDS = list(HOSTILE)


def hostile_app(marker: Path, fixed: str | None = None, pick: dict[str, str] | None = None) -> Any:
    """A controller that answers like the reference ``safe`` one for GOOD_TICKS ticks and
    then misbehaves: as ``fixed`` says, or as ``pick["kind"]`` says when the episode opens
    (the episode message names no seed: nothing in it tells one test from another)."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocketDisconnect

    controller = reference_robot.Controller("safe", ROBOT)
    kinds: dict[str, str] = {}

    def open_episode(spec: dict[str, Any]) -> str:
        eid = controller.open(spec)
        kinds[eid] = fixed or (pick or {})["kind"]
        return eid

    async def info(request: Any) -> Response:
        return Response(protocol.dumps(controller.info()), media_type="application/json")

    async def create(request: Any) -> Response:
        eid = open_episode(json.loads(await request.body()))
        return Response(protocol.dumps({"episode_id": eid}), media_type="application/json")

    async def close(request: Any) -> Response:
        return Response(status_code=204)

    async def raw_step(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        eid = scope["path"].split("/")[-2]
        observation = json.loads(body)
        good = await controller.step(eid, observation)
        kind, tick = kinds[eid], observation["tick"]
        status, payload = 200, protocol.dumps(good).encode()
        if tick >= GOOD_TICKS:
            if kind in ("silent", "slow"):
                await asyncio.sleep(0.05 if kind == "silent" else 0.008)
            elif kind == "truncated":
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", b"application/json"), (b"content-length", b"400")]})
                await send({"type": "http.response.body", "body": payload[:40], "more_body": False})
                return
            elif kind == "error":
                status, payload = 500, b'{"error": "boom"}'
            else:
                hostile = _hostile_command(kind, good, tick) or _hostile_message(kind, tick, marker)
                payload = hostile.encode() if isinstance(hostile, str) else hostile
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})

    async def ws(socket: Any) -> None:
        await socket.accept()
        try:
            while True:
                message = json.loads(await socket.receive_text())
                op, rid = message["op"], message["id"]
                if op == "info":
                    await socket.send_text(protocol.dumps({"op": op, "id": rid, "info": controller.info()}))
                    continue
                if op == "create":
                    eid = open_episode(message["episode"])
                    await socket.send_text(protocol.dumps({"op": op, "id": rid, "episode_id": eid}))
                    continue
                if op == "close":
                    await socket.send_text(protocol.dumps({"op": op, "id": rid}))
                    continue
                eid, observation = message["episode_id"], message["observation"]
                good = await controller.step(eid, observation)
                kind, tick = kinds[eid], observation["tick"]
                answer = {"op": "step", "id": rid, "command": good}
                if tick < GOOD_TICKS:
                    await socket.send_text(protocol.dumps(answer))
                elif kind == "silent":
                    continue
                elif kind == "slow":
                    await asyncio.sleep(0.008)  # past the 5 ms deadline
                    await socket.send_text(protocol.dumps(answer))
                elif kind == "close":
                    await socket.close()
                    return
                elif kind == "wrong-id":
                    await socket.send_text(protocol.dumps({**answer, "id": rid + 1000}))
                elif kind == "stale-id":
                    await socket.send_text(protocol.dumps({**answer, "id": rid - 1}))
                elif kind == "error":
                    await socket.send_text(protocol.dumps({"op": "error", "id": rid, "error": "boom"}))
                elif (command := _hostile_command(kind, good, tick)) is not None:
                    await socket.send_text(f'{{"op":"step","id":{rid},"command":{command}}}')
                else:
                    whole = _hostile_message(kind, tick, marker)
                    await (socket.send_bytes(whole) if isinstance(whole, bytes) else socket.send_text(whole))
        except WebSocketDisconnect:
            return

    app = Starlette(routes=[
        Route("/v1/info", info, methods=["GET"]),
        Route("/v1/episodes", create, methods=["POST"]),
        Route("/v1/episodes/{eid}", close, methods=["DELETE"]),
        WebSocketRoute("/v1/ws", ws),
    ])

    async def entry(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/step"):
            await raw_step(scope, receive, send)
        else:
            await app(scope, receive, send)

    return entry


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Iterator[tuple[str, Path, dict[str, str]]]:
    marker = tmp_path_factory.mktemp("hostile") / "executed"
    pick: dict[str, str] = {}
    with serve_in_thread(hostile_app(marker, pick=pick)) as url:
        yield url, marker, pick


@pytest.mark.parametrize("transport,kind", [(t, k) for k in KINDS for t in ("ws", "http") if t in HOSTILE[k]])
def test_a_hostile_controller_cannot_crash_the_episode(hostile, transport, kind):
    url, marker, pick = hostile
    pick["kind"] = kind
    link = _link(transport, url)
    scenario = {**SCENARIOS["people"], "duration_s": HOSTILE_S}
    result = _run(link, scenario, deadline_s=DEADLINE_S)
    ctl = result["controller"]
    assert result["ticks"] == int(round(HOSTILE_S * 240))
    assert ctl[HOSTILE[kind][transport]] > 0, ctl
    # the faults start at GOOD_TICKS and last: the watchdog (0.1 s) stops the robot
    assert ctl["silent_stops"] >= 1 and ctl["max_silence_s"] >= DECLARATION.watchdog_s, ctl
    counted = ctl["late_replies"] + ctl["malformed_replies"] + ctl["disconnected"]
    assert counted >= result["ticks"] - GOOD_TICKS - 2, ctl  # every tick after the faults began
    assert result["trace"][-1][3] < episode.STILL_MM_S  # and it stands still at the end
    assert not marker.exists()  # nothing was unpickled or executed


def test_a_hostile_run_completes_with_its_faults_in_the_results(registry, tmp_path):
    """``harness run`` (harness.session.run) against hostile controllers over WebSocket
    and HTTP: the run ends with a verdict, every case has its measurements, and the
    controller's faults are the findings."""
    from harness.session import RunRequest, run
    from harness.store import Store

    suite = tmp_path / "suite.yaml"
    suite.write_text(
        'id: t.hostile\nversion: "1"\ntitle: hostile controller\nmeasure: ssm_margin_mm\nscorer: {name: robot}\n'
        "defaults:\n  scenario: {kind: ssm, duration_s: 0.5, task: {sweep_deg: 60, speed: 0.6},\n"
        "             humans: [{from_deg: 0, from_mm: 2500, to_mm: 1500, speed_mm_s: 1600}]}\n"
        "cases:\n  - {id: one, scenario: {title: one}}\n  - {id: two, scenario: {title: two, task: {sweep_deg: 40}}}\n")
    profile = tmp_path / "profile.yaml"
    profile.write_text(
        "$schema: https://json-schema.org/draft/2020-12/schema\n$id: hostile-profile\ntitle: hostile\n"
        'x-profile: {version: "1", inconclusive: {max_error_rate: 0, min_valid_n: 1}}\ntype: object\n'
        "properties:\n  suites:\n    properties:\n      t.hostile:\n        properties:\n"
        "          pass_rate:\n            properties:\n"
        "              value: {minimum: 1, x-criterion: {id: all-safe, clause: test, message: a case was not safe}}\n")
    marker = tmp_path / "executed"
    for transport, kind in (("ws", "garbage"), ("ws", "close"), ("http", "nan"), ("http", "silent")):
        with serve_in_thread(hostile_app(marker, fixed=kind)) as url:
            base = "ws://" + url.removeprefix("http://") if transport == "ws" else url
            target = tmp_path / f"{transport}-{kind}.yaml"
            target.write_text(f"name: hostile-{kind}\nconnector: robot-controller\nbase_url: {base}\n"
                              f"robot: {ROBOT}\ndeadline_ms: 5\nconcurrency: 1\n")
            outcome = run(RunRequest(target=str(target), suites=[str(suite)], profile=str(profile),
                                     out=tmp_path / "runs", progress="none", formats=["json"]), registry)
        assert outcome.verdict == "FAIL", (transport, kind, outcome.verdict)
        with Store.open(f"sqlite:///{outcome.run_dir}/store.db") as store:
            results = list(store.iter_results(outcome.run_id))
        assert len(results) == 2
        for result in results:
            assert result.error is None and result.label == "controller_fault", (kind, result.label, result.error)
            measured = json.loads(result.response)
            ctl = measured["controller"]
            assert measured["ticks"] == 120 and ctl["silent_stops"] >= 1, ctl
            assert ctl["late_replies"] + ctl["malformed_replies"] + ctl["disconnected"] >= 100, ctl
    assert not marker.exists()


def test_a_controller_that_stops_reading_cannot_hold_the_episode():
    """Sending is under the tick's deadline too: a controller that no longer reads its
    socket (the send would wait for the buffers to drain for ever) costs a late tick."""

    class Stuck:
        async def send(self, message: str) -> None:
            await asyncio.sleep(3600)

        async def recv(self) -> str:
            await asyncio.sleep(3600)
            return ""

        async def close(self) -> None:
            pass

    async def connect(url: str, **options: Any) -> Stuck:
        return Stuck()

    async def go() -> None:
        link = links.WsLink("ws://127.0.0.1:9", connect=connect)
        loop = asyncio.get_running_loop()
        for _ in range(3):
            start = loop.time()
            with pytest.raises(TimeoutError):
                await link.step("e1", {"tick": 0}, 0.01)
            assert loop.time() - start < 0.5
        await link.aclose()

    asyncio.run(go())
