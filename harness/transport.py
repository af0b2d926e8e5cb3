"""A lean HTTP/1.1 transport for ``httpx.AsyncClient``.

httpx's default transport (httpcore) spends over a millisecond of CPU per request in
its pool bookkeeping, which caps a run near 600 requests a second on this kind of
machine: the harness, not the endpoint, would be the bottleneck. This transport keeps
the httpx API that connectors use and does the exchange with asyncio protocols and
the httptools parser (C): keep-alive connections in a LIFO pool, TLS through asyncio,
and errors raised as httpx's own exceptions so the usual translation applies.

What it leaves out on purpose: proxies (the harness never uses them), HTTP/2, request
streaming, and 1xx or upgrade responses. ``read`` timeout covers the whole response.
A connection used for HEAD is closed afterwards (the parser cannot skip a body).
"""

from __future__ import annotations

import asyncio
import ssl
from collections import defaultdict
from functools import cached_property

import httptools
import httpx

from .netguard import AddressPolicy, resolve_checked


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    __slots__ = ("transport", "parser", "waiter", "status", "headers", "body", "closed", "got_bytes",
                 "keep_alive", "framed", "headers_done", "head")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[None] | None = None
        self.closed = False
        self._reset(head=False)

    def _reset(self, head: bool) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.got_bytes = False
        self.keep_alive = False
        self.framed = False
        self.headers_done = False
        self.head = head

    # asyncio.Protocol -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed HTTP response: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is None or self.waiter.done():
            return
        if exc is None and self.headers_done and not self.framed:
            # no Content-Length and not chunked: the body ends where the connection does
            self.waiter.set_result(None)
        else:
            self._fail(httpx.RemoteProtocolError("peer closed connection without sending complete message body"))

    # httptools callbacks ------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        # read here: once the message is complete the parser has forgotten these
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()
        self.headers_done = True
        self.framed = any(n.lower() in (b"content-length", b"transfer-encoding") for n, _ in self.headers)
        if self.head or self.status in (204, 304):
            # no body follows; the parser cannot be told so, hence no reuse after HEAD
            self.framed = True
            self.keep_alive = self.keep_alive and not self.head
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(None)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    # ----------------------------------------------------------------------------------
    def _fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    async def exchange(self, raw: bytes, head: bool = False) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        self._reset(head)
        self.waiter = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.write(raw)
        await self.waiter
        self.waiter = None
        return self.status, self.headers, b"".join(self.body)

    @property
    def reusable(self) -> bool:
        return not self.closed and self.keep_alive

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class FastTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over a pool of keep-alive connections per origin.

    With a ``policy`` every new connection resolves the host itself, refuses it unless
    all its addresses are allowed (``TargetError(kind="blocked")``, see netguard) and
    connects to the address it checked, so DNS cannot answer differently in between."""

    def __init__(self, max_connections: int = 100, policy: AddressPolicy | None = None) -> None:
        self.max_connections = max_connections
        self.policy = policy
        self.closed = False
        self.idle: dict[tuple[bytes, str, int], list[_Connection]] = defaultdict(list)

    @cached_property
    def ssl_context(self) -> ssl.SSLContext:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())

    async def _connect(self, scheme: bytes, host: str, port: int, timeout: float | None) -> _Connection:
        loop = asyncio.get_running_loop()
        tls = self.ssl_context if scheme == b"https" else None
        try:
            async with asyncio.timeout(timeout):
                if self.policy is None:
                    _, conn = await loop.create_connection(_Connection, host, port, ssl=tls,
                                                           server_hostname=host if tls else None)
                else:
                    conn = await self._connect_checked(loop, host, port, tls)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from exc
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        return conn

    async def _connect_checked(self, loop: asyncio.AbstractEventLoop, host: str, port: int,
                               tls: ssl.SSLContext | None) -> _Connection:
        """Connect to the first reachable of ``host``'s checked addresses, by address."""
        assert self.policy is not None
        error: OSError | None = None
        for family, sockaddr in await resolve_checked(host, port, self.policy):
            try:
                # a numeric host: asyncio does no second lookup; TLS still checks ``host``
                _, conn = await loop.create_connection(_Connection, sockaddr[0], port, family=family,
                                                       ssl=tls, server_hostname=host if tls else None)
                return conn
            except OSError as exc:  # includes ssl.SSLError
                error = exc
        assert error is not None
        raise error

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.raw_scheme
        if scheme not in (b"http", b"https"):
            raise httpx.UnsupportedProtocol(f"unsupported scheme {url.scheme!r}")
        port = url.port or (443 if scheme == b"https" else 80)
        origin = (scheme, url.host, port)
        timeouts = request.extensions.get("timeout", {})
        body = await request.aread()
        head = [request.method.encode(), b" ", url.raw_path, b" HTTP/1.1\r\n"]
        for name, value in request.headers.raw:
            head += [name, b": ", value, b"\r\n"]
        if body and "content-length" not in request.headers:
            head += [b"content-length: ", str(len(body)).encode(), b"\r\n"]
        raw = b"".join(head) + b"\r\n" + body

        pool = self.idle[origin]
        while True:
            reused = bool(pool)
            conn = pool.pop() if reused else await self._connect(scheme, url.host, port, timeouts.get("connect"))
            if conn.closed:
                continue
            try:
                async with asyncio.timeout(timeouts.get("read")):
                    status, headers, content = await conn.exchange(raw, head=request.method == "HEAD")
            except TimeoutError as exc:
                conn.close()
                raise httpx.ReadTimeout(f"no complete response within {timeouts.get('read')} s",
                                        request=request) from exc
            except httpx.RemoteProtocolError:
                conn.close()
                # a keep-alive connection the server closed while idle: try once on a new one
                if reused and not conn.got_bytes:
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            break
        if conn.reusable and not self.closed and len(pool) < self.max_connections:
            pool.append(conn)
        else:
            conn.close()
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(content), request=request,
                              extensions={"http_version": b"HTTP/1.1"})

    async def aclose(self) -> None:
        self.closed = True  # a request still in flight closes its connection when done
        for pool in self.idle.values():
            for conn in pool:
                conn.close()
        self.idle.clear()
