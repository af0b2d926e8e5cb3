"""How the harness reaches a vendor's controller: over a WebSocket (the default: one
connection per episode, request ids, lock-step), over HTTP, or in process. Each link
returns the controller's reply as parsed JSON, or raises ``TimeoutError`` when the
tick's deadline passed (a late reply is then discarded by its id), ``Malformed`` when
the reply is not JSON the protocol allows, or ``ConnectionError`` when the controller
is gone. Nothing a controller sends is ever unpickled or executed."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, Protocol

from . import protocol
from .protocol import Malformed


class Link(Protocol):
    async def info(self) -> dict[str, Any]: ...
    async def create(self, episode: dict[str, Any]) -> str: ...
    async def step(self, episode_id: str, observation: dict[str, Any], timeout: float) -> Any: ...
    async def close(self, episode_id: str) -> None: ...
    async def aclose(self) -> None: ...


class HttpLink:
    """``GET /v1/info``, ``POST /v1/episodes``, ``POST /v1/episodes/{id}/step``,
    ``DELETE /v1/episodes/{id}`` with one httpx client (the run's, so its address
    policy and connection pool apply)."""

    def __init__(self, base_url: str, client: Any) -> None:
        self.base = base_url.rstrip("/")
        self.client = client

    async def _call(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Any:
        import httpx

        try:
            request = self._exchange(method, path, None if body is None else protocol.dumps(body))
            content = await (asyncio.wait_for(request, timeout) if timeout else request)
        except httpx.HTTPError as exc:
            raise ConnectionError(f"{method} {path}: {type(exc).__name__}: {exc}") from None
        return protocol.loads(content) if content else None

    async def _exchange(self, method: str, path: str, content: str | None) -> bytes:
        """The response's body, read no further than MAX_MESSAGE_BYTES: a controller's
        answer is held in memory only up to the size the protocol allows."""
        limit = protocol.MAX_MESSAGE_BYTES
        async with self.client.stream(method, self.base + path, content=content,
                                      headers={"content-type": "application/json",
                                               "accept-encoding": "identity"}) as response:
            if response.status_code >= 400:
                raise Malformed(f"{method} {path} answered HTTP {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise Malformed(f"{method} {path}: the answer has {declared} bytes, more than {limit}")
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise Malformed(f"{method} {path}: the answer has more than {limit} bytes")
                chunks.append(chunk)
            return b"".join(chunks)

    async def info(self) -> dict[str, Any]:
        return protocol.check("info", await self._call("GET", "/v1/info", timeout=10))

    async def create(self, episode: dict[str, Any]) -> str:
        return protocol.check("created", await self._call("POST", "/v1/episodes", episode, timeout=10))["episode_id"]

    async def step(self, episode_id: str, observation: dict[str, Any], timeout: float) -> Any:
        return await self._call("POST", f"/v1/episodes/{episode_id}/step", observation, timeout)

    async def close(self, episode_id: str) -> None:
        try:
            await self._call("DELETE", f"/v1/episodes/{episode_id}", timeout=5)
        except (ConnectionError, Malformed, TimeoutError):
            pass  # the episode is over either way

    async def aclose(self) -> None:
        pass  # the client belongs to the run


async def open_websocket(url: str, policy: Any, *, connect: Any = None, **options: Any) -> Any:
    """A WebSocket to ``url`` (``websockets``' client connection), held to ``policy`` (the
    service's address policy, None outside it): to each address the policy checked in
    turn, by number, as the HTTP transport connects; never through a proxy from the
    environment. ``connect`` replaces ``websockets``' own (tests); ``options`` go to it.
    Raises ``TargetError(kind="blocked")`` before connecting, else the last ``OSError``."""
    from websockets.asyncio.client import connect as ws_connect

    from harness.netguard import pinned

    ways = await pinned(url, policy)
    for i, way in enumerate(ways):
        try:
            return await (connect or ws_connect)(url, max_size=protocol.MAX_MESSAGE_BYTES, open_timeout=10,
                                                 proxy=None, **options, **way)
        except OSError:
            if i == len(ways) - 1:
                raise
    raise AssertionError("pinned() gives at least one way")


class WsLink:
    """The protocol over one WebSocket (``/v1/ws``): every request carries an ``op`` and
    an ``id``; a reply is matched to its request by id, so a late reply to an earlier
    tick is recognised and dropped. Lock-step: one request at a time, whose reply is
    read right there (no reader task between the socket and the episode)."""

    def __init__(self, url: str, *, connect: Any = None, client: Any = None) -> None:
        from harness.targets import policy_of

        self.url = url.rstrip("/") + "/v1/ws"
        self._connect = connect
        # the run's HTTP client's address policy (in the service: harness.netguard): the
        # WebSocket is held to it as every HTTP request is, checked at each connect
        self.policy = policy_of(client)
        self._ws: Any = None
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()

    async def _open(self) -> None:
        if self._ws is not None:
            return
        from harness.errors import TargetError

        try:
            self._ws = await open_websocket(self.url, self.policy, connect=self._connect, compression=None,
                                            close_timeout=2)
        except Exception as exc:  # noqa: BLE001 - any failure to connect
            if isinstance(exc, TargetError) and exc.kind == "blocked":  # said as such, not as a failed connection
                raise
            raise ConnectionError(f"cannot open {self.url}: {type(exc).__name__}: {exc}") from None

    async def _request(self, op: str, timeout: float | None, **fields: Any) -> dict[str, Any]:
        async with self._lock:
            await self._open()
            rid = next(self._ids)
            try:
                async with asyncio.timeout(timeout):  # the deadline covers sending too: a controller
                    try:                              # that stops reading must not hold the episode
                        await self._ws.send(protocol.dumps({"op": op, "id": rid, **fields}))
                    except Exception as exc:  # noqa: BLE001 - closed, broken: the controller is gone
                        raise ConnectionError(f"cannot send to {self.url}: {exc}") from None
                    while True:
                        raw = await self._ws.recv()  # cancelling recv() loses no message
                        reply = protocol.loads(raw)  # garbage (Malformed) answers the request waiting
                        if type(reply) is not dict:
                            raise Malformed(f"the reply to {op} is not an object")
                        rid_back = reply.get("id")
                        if type(rid_back) is int and rid_back == rid:
                            break
                        if type(rid_back) is int and 0 < rid_back < rid:
                            continue  # a late reply to a tick already given up on: dropped
                        raise Malformed(f"the reply to {op} has id {str(rid_back)[:40]}, not {rid}")
            except TimeoutError:
                raise TimeoutError(f"no reply to {op} within {timeout * 1000:.0f} ms") from None
            except (Malformed, ConnectionError):
                raise
            except Exception as exc:  # noqa: BLE001 - the connection closed or broke
                raise ConnectionError(f"the controller closed the WebSocket: {type(exc).__name__}") from None
        if reply.get("op") == "error":
            raise Malformed(f"the controller answered {op} with an error: {str(reply.get('error'))[:200]}")
        return reply

    async def info(self) -> dict[str, Any]:
        return protocol.check("info", (await self._request("info", 10)).get("info"))

    async def create(self, episode: dict[str, Any]) -> str:
        reply = await self._request("create", 10, episode=episode)
        return protocol.check("created", {"episode_id": reply.get("episode_id")})["episode_id"]

    async def step(self, episode_id: str, observation: dict[str, Any], timeout: float) -> Any:
        return (await self._request("step", timeout, episode_id=episode_id, observation=observation)).get("command")

    async def close(self, episode_id: str) -> None:
        try:
            await self._request("close", 5, episode_id=episode_id)
        except (ConnectionError, Malformed, TimeoutError):
            pass

    async def aclose(self) -> None:
        if self._ws is not None:
            try:
                await self._ws.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass
        self._ws = None


class LocalLink:
    """A controller object in this process (``info()``, ``create(episode)`` ->
    episode, ``episode.step(observation)`` -> command): for tests and the benchmark's
    baseline. Messages still go through JSON, so the controller sees what it would
    see on the wire."""

    def __init__(self, controller: Any) -> None:
        self.controller = controller
        self.episodes: dict[str, Any] = {}

    async def info(self) -> dict[str, Any]:
        return protocol.check("info", self.controller.info())

    async def create(self, episode: dict[str, Any]) -> str:
        eid = str(len(self.episodes) + 1)
        self.episodes[eid] = self.controller.create(protocol.loads(protocol.dumps(episode)))
        return eid

    async def step(self, episode_id: str, observation: dict[str, Any], timeout: float) -> Any:
        reply = self.episodes[episode_id].step(protocol.loads(protocol.dumps(observation)))
        if asyncio.iscoroutine(reply):
            reply = await asyncio.wait_for(reply, timeout)
        return protocol.loads(protocol.dumps(reply)) if not isinstance(reply, (bytes, str)) else protocol.loads(reply)

    async def close(self, episode_id: str) -> None:
        self.episodes.pop(episode_id, None)

    async def aclose(self) -> None:
        pass
