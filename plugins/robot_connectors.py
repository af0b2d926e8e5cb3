"""``robot-controller``: the closed-loop connector. For each scenario case the harness
runs the physics and calls the vendor's controller every tick over a WebSocket (``ws://``
base URL, the default) or HTTP (``http://``); the reply to the harness is the
measurements of the episode."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from harness import ConfigError, ConnectorSpec, Reply, TargetError, hookimpl, robot

SETTINGS_SCHEMA = {
    "type": "object",
    "required": ["base_url", "robot"],
    "properties": {
        "base_url": {"type": "string", "pattern": "^(https?|wss?)://",
                     "description": "http://host:port or ws://host:port; the protocol's paths are appended"},
        "robot": {"type": "string", "description": "a robot id of `harness list robots`, e.g. franka_panda"},
        "declaration": {"type": "string", "description": "the vendor's declaration file (YAML or JSON), relative to "
                                                         "the target file; default: the one in GET /v1/info"},
        "tick_log": {"type": "string", "description": "a folder: every tick of every episode is logged there as "
                                                       "JSON lines (<case>-<seed>.jsonl), for replay"},
        "deadline_ms": {"type": "number", "exclusiveMinimum": 0, "maximum": 10000,
                        "description": "how long the controller has to answer each tick (default 50)"},
    },
}


class RobotController:
    """Runs scenario cases against a closed-loop controller endpoint."""

    def __init__(self, target: Any, client: Any) -> None:
        s = target.settings
        self.name = target.name
        self.client = client
        self.base = s["base_url"].rstrip("/")
        self.websocket = self.base.startswith(("ws://", "wss://"))
        self.model = robot.robots.robot_model(s["robot"])
        self.deadline_s = float(s.get("deadline_ms", 50)) / 1000.0
        self.tick_log: Path | None = None
        if s.get("tick_log"):
            self.tick_log = Path(s["tick_log"])
            if not self.tick_log.is_absolute() and target.path is not None:
                self.tick_log = Path(target.path).parent / self.tick_log
        self.declaration = None
        if s.get("declaration"):
            path = Path(s["declaration"])
            if not path.is_absolute() and target.path is not None:
                path = Path(target.path).parent / path
            self.declaration = self._matching(robot.declaration.load(path), str(path))
        self._info_lock = asyncio.Lock()

    def _matching(self, declaration: Any, where: str) -> Any:
        if declaration.robot != self.model.id:
            raise ConfigError(f"{where} declares robot {declaration.robot!r}, the target says {self.model.id!r}",
                              hint="make the target's robot and the declaration's agree")
        return declaration

    def _link(self) -> Any:
        links = robot.links
        return (links.WsLink(self.base, client=self.client) if self.websocket
                else links.HttpLink(self.base, self.client))

    async def _info(self, link: Any) -> dict[str, Any]:
        """GET /v1/info: nothing there is a ``connect`` error, a wrong answer ``malformed``."""
        try:
            return await link.info()
        except (ConnectionError, TimeoutError) as exc:
            raise TargetError(f"{self.name}: GET /v1/info failed: {exc}", kind="connect") from None
        except robot.protocol.Malformed as exc:
            raise TargetError(f"{self.name}: GET /v1/info answered, wrongly: {exc}", kind="malformed") from None

    async def _declared(self, link: Any, info: dict[str, Any] | None = None) -> Any:
        """The declaration: the target's file, else the one in ``info`` (asked for when not given)."""
        async with self._info_lock:
            if self.declaration is None:
                declaration = robot.declaration
                info = info if info is not None else await self._info(link)
                if "declaration" not in info:
                    raise ConfigError(f"{self.name}: /v1/info has no declaration",
                                      hint="give the target a declaration file")
                self.declaration = self._matching(declaration.check(info["declaration"], f"{self.name} /v1/info"),
                                                  f"{self.name} /v1/info")
            return self.declaration

    async def preflight(self) -> None:
        """Before the first case: the controller answers at base_url, speaks the protocol,
        and declares (or the target's file declares) a valid declaration for the target's
        robot. Each of these is a usage error naming what to fix, in seconds, instead of
        every case failing to connect."""
        link = self._link()
        try:
            # asked even when the target names a declaration file: is anything there?
            await self._declared(link, await self._info(link))
        except TargetError as exc:
            if exc.kind == "blocked":  # the service's address policy: its own hint names --allow
                raise ConfigError(exc.message, hint=exc.hint) from None
            if exc.kind != "connect":
                raise ConfigError(exc.message, hint="the controller's /v1/info must follow "
                                                    "schemas/robot-protocol.schema.json (its declaration: "
                                                    "schemas/robot-declaration.schema.json)") from None
            raise ConfigError(f"{exc.message} (is a robot controller running at {self.base}?)",
                              hint="start the controller (harness target serve reference-robot --port PORT for "
                                   "the reference), or fix base_url in the target file") from None
        finally:
            await link.aclose()

    async def send(self, case: Any, seed: int) -> Reply:
        episode, Malformed = robot.episode, robot.protocol.Malformed
        if case.scenario is None:
            raise TargetError(f"case {case.id} has no scenario: the robot-controller connector runs robot suites",
                              kind="malformed")
        link = self._link()
        try:
            declared = await self._declared(link)
            log = None
            if self.tick_log is not None:
                self.tick_log.mkdir(parents=True, exist_ok=True)
                log = (self.tick_log / f"{case.id}-{seed}.jsonl").open("w", encoding="utf-8")
            async def one(scenario: dict[str, Any], case_id: str) -> dict[str, Any]:
                return await episode.run(link, self.model, declared, scenario, seed=seed,
                                         deadline_s=self.deadline_s, case_id=case_id, tick_log=log)

            try:
                if "search" in case.scenario:  # falsification: the worst of a searched set of episodes
                    measures = await robot.search.run(one, dict(case.scenario), seed=seed, case_id=case.id)
                else:
                    measures = await one(dict(case.scenario), case.id)
            except (ConnectionError, Malformed, TimeoutError) as exc:  # before the first tick
                raise TargetError(f"{self.name}: cannot start the episode: {exc}", kind="connect") from None
            finally:
                if log is not None:
                    log.close()
        finally:
            await link.aclose()
        measures["mode"] = "closed-loop"
        return Reply(text=json.dumps(measures, separators=(",", ":")), data=measures)


API_SETTINGS_SCHEMA = {
    "type": "object",
    "required": ["base_url", "robot"],
    "properties": {
        "base_url": {"type": "string", "pattern": "^https?://", "description": "the robot API's http://host:port"},
        "robot": SETTINGS_SCHEMA["properties"]["robot"],
        "declaration": SETTINGS_SCHEMA["properties"]["declaration"],
    },
}


class RobotApi(RobotController):
    """Runs the scenarios without people (e-stop, reduced speed, limits) against a
    vendor's own robot API and measures from its telemetry: vendor-reported."""

    def __init__(self, target: Any, client: Any) -> None:
        super().__init__(target, client)
        self.websocket = False
        self._robot_info: dict[str, Any] | None = None  # not _info: that is the base class's method

    async def _read_info(self) -> None:
        if self._robot_info is None:
            try:
                response = await self.client.get(self.base + "/v1/info")
            except Exception as exc:  # noqa: BLE001 - whatever stops us reaching the robot's API
                raise TargetError(f"{self.name}: GET /v1/info failed: {exc}", kind="connect") from None
            try:
                response.raise_for_status()
                info = robot.protocol.loads(response.content)
                if not isinstance(info, dict) or not isinstance(info.get("joints"), dict):
                    raise ValueError("it names no joints")
            except Exception as exc:  # noqa: BLE001 - a status or a body that is not the robot's info
                raise TargetError(f"{self.name}: GET /v1/info answered, wrongly: {str(exc)[:300]}",
                                  kind="malformed") from None
            self._robot_info = info
        if self.declaration is None:
            self.declaration = self._matching(robot.declaration.check(self._robot_info.get("declaration"),
                                                                      f"{self.name} /v1/info"), f"{self.name} /v1/info")

    async def preflight(self) -> None:
        try:
            await self._read_info()
        except TargetError as exc:
            if exc.kind == "blocked":  # the service's address policy: its own hint names --allow
                raise ConfigError(exc.message, hint=exc.hint) from None
            if exc.kind != "connect":
                raise ConfigError(exc.message, hint="the robot's /v1/info must give its joints and its declaration "
                                                    "(schemas/robot-declaration.schema.json)") from None
            raise ConfigError(f"{exc.message} (is the robot's API running at {self.base}?)",
                              hint="start the robot's API (harness target serve reference-robot-api --port PORT "
                                   "for the reference), or fix base_url in the target file") from None

    async def send(self, case: Any, seed: int) -> Reply:
        if case.scenario is None:
            raise TargetError(f"case {case.id} has no scenario: the robot-api connector runs robot suites",
                              kind="malformed")
        await self._read_info()
        try:
            measures = await robot.blackbox.run(self.client, self.base, self.model, self.declaration,
                                                dict(case.scenario), joints=self._robot_info["joints"])
        except robot.blackbox.NotApplicable as exc:
            raise TargetError(f"{self.name}: {exc}", kind="not_applicable") from None
        except OSError as exc:
            raise TargetError(f"{self.name}: telemetry: {exc}", kind="connect") from None
        return Reply(text=json.dumps(measures, separators=(",", ":")), data=measures)


@hookimpl
def register_connectors() -> list[ConnectorSpec]:
    return [ConnectorSpec("robot-controller", RobotController, SETTINGS_SCHEMA,
                          "closed loop: the harness runs the physics and calls the vendor's controller each tick "
                          "(harness-robot/1 over WebSocket or HTTP)"),
            ConnectorSpec("robot-api", RobotApi, API_SETTINGS_SCHEMA,
                          "black box: the vendor's own robot behind its API (harness-robot-api/1), measured from "
                          "its telemetry and reported as vendor-reported")]
