"""FastTransport against real servers on 127.0.0.1.

Each test starts a raw ``asyncio.start_server`` inside its own event loop, so the bytes
the server sends are scripted exactly (keep-alive, ``Connection: close``, chunked, gzip,
short bodies, silence, garbage), and counts the TCP connections it accepts. Every test
runs under the standard asyncio loop and under uvloop (what the harness uses for runs).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from harness import TargetError, http_errors
from harness.transport import FastTransport

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a dependency where it builds
    uvloop = None


# -- a scriptable raw HTTP server ------------------------------------------------------------


@dataclass
class Req:
    conn: int
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


def response(body: bytes = b"ok", status: str = "200 OK", headers: tuple[str, ...] = (),
             length: int | None = None) -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body) if length is None else length}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@dataclass
class Conn:
    server: RawServer
    number: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def read_request(self) -> Req | None:
        """The next request on this connection, or None when the client closed it."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            self.server.eof.append(self.number)
            return None
        line, *lines = head.decode("latin-1").split("\r\n")
        method, target, version = line.split(" ")
        assert version == "HTTP/1.1"
        headers: dict[str, str] = {}
        for raw in lines:
            if raw:
                name, _, value = raw.partition(":")
                assert name.lower() not in headers, f"header {name} sent twice"
                headers[name.lower()] = value.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", 0)))
        req = Req(self.number, method, target, headers, body)
        self.server.requests.append(req)
        return req

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def wait_eof(self) -> None:
        """Wait until the client closes the connection (sending nothing more)."""
        try:
            rest = await self.reader.read()
        except ConnectionError:
            rest = b""
        assert rest == b"", f"unexpected bytes from the client: {rest!r}"
        self.server.eof.append(self.number)


Handler = Callable[[Conn], Awaitable[None]]


@dataclass
class RawServer:
    handler: Handler
    accepted: int = 0
    requests: list[Req] = field(default_factory=list)
    eof: list[int] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        for writer in self.writers:  # handlers still reading see EOF and end
            writer.close()
        if self.tasks:
            _, pending = await asyncio.wait(self.tasks, timeout=1)
            for task in pending:
                task.cancel()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self.writers.append(writer)
        try:
            await self.handler(Conn(self, self.accepted, reader, writer))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self.tasks.discard(task)

    async def until(self, condition: Callable[[], bool], timeout: float = 2.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "the server never saw what the test waited for"
            await asyncio.sleep(0.005)


async def keep_alive(conn: Conn) -> None:
    """A well-behaved HTTP/1.1 server: answers every request with its own target."""
    while (req := await conn.read_request()) is not None:
        await conn.send(response(req.target.encode(), headers=("Content-Type: text/plain",)))


def client(timeout: float = 5.0, max_connections: int = 100) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=FastTransport(max_connections=max_connections),
                             timeout=httpx.Timeout(timeout), trust_env=False)


def idle_count(c: httpx.AsyncClient) -> int:
    return sum(len(pool) for pool in c._transport.idle.values())  # type: ignore[attr-defined]


#: The bug behind every test marked with it: ``_Connection.reusable`` (transport.py) asks
#: ``parser.should_keep_alive()`` after the response is complete, but llhttp clears the
#: message's flags once ``on_message_complete`` returns, so the answer is always False for
#: an HTTP/1.1 reply framed by Content-Length or chunked: every request opens a new TCP
#: connection, the pool stays empty and the stale-connection retry never runs.

LOOPS = ["asyncio"] + (["uvloop"] if uvloop is not None else [])


@pytest.fixture(params=LOOPS)
def run(request) -> Callable[[Awaitable[None]], None]:
    """Run a coroutine to the end in a fresh event loop of the parametrised kind."""

    def runner(coro: Awaitable[None]) -> None:
        async def bounded() -> None:
            await asyncio.wait_for(coro, 10)

        if request.param == "uvloop":
            uvloop.run(bounded())
        else:
            asyncio.run(bounded())

    return runner


# -- requests arrive as sent ---------------------------------------------------------------------


def test_get_arrives_with_method_path_query_and_headers(run):
    async def main() -> None:
        async with RawServer(keep_alive) as srv, client() as c:
            r = await c.get(srv.url + "/v1/items?x=1&y=two%20words", headers={"X-Test": "yes"})
            assert r.status_code == 200 and r.http_version == "HTTP/1.1"
            assert r.text == "/v1/items?x=1&y=two%20words"
            assert r.headers["content-type"] == "text/plain"
            (req,) = srv.requests
            assert req.method == "GET" and req.target == "/v1/items?x=1&y=two%20words"
            assert req.headers["host"] == f"127.0.0.1:{srv.port}"
            assert req.headers["x-test"] == "yes"
            assert "content-length" not in req.headers and req.body == b""

    run(main())


def test_post_json_body_arrives_with_content_length(run):
    payload = {"model": "m", "messages": [{"role": "user", "content": "héllo ✓"}], "seed": 7}

    async def echo(conn: Conn) -> None:
        while (req := await conn.read_request()) is not None:
            await conn.send(response(req.body, headers=("Content-Type: application/json",)))

    async def main() -> None:
        async with RawServer(echo) as srv, client() as c:
            r = await c.post(srv.url + "/v1/chat/completions?api-version=2", json=payload,
                             headers={"Authorization": "Bearer k"})
            assert r.status_code == 200 and r.json() == payload
            (req,) = srv.requests
            assert req.method == "POST" and req.target == "/v1/chat/completions?api-version=2"
            assert req.headers["host"] == f"127.0.0.1:{srv.port}"
            assert req.headers["content-type"] == "application/json"
            assert req.headers["authorization"] == "Bearer k"
            assert int(req.headers["content-length"]) == len(req.body) > 0
            assert json.loads(req.body) == payload

    run(main())


# -- keep-alive and the pool ------------------------------------------------------------------------


def test_sequential_requests_reuse_one_connection(run):
    async def main() -> None:
        async with RawServer(keep_alive) as srv, client() as c:
            for i in range(3):
                r = await c.get(f"{srv.url}/r{i}")
                assert r.text == f"/r{i}"
            assert srv.accepted == 1
            assert [req.conn for req in srv.requests] == [1, 1, 1]
            assert idle_count(c) == 1

    run(main())


def test_connection_close_gives_a_new_connection_next_time(run):
    async def closing(conn: Conn) -> None:
        req = await conn.read_request()
        assert req is not None
        await conn.send(response(b"bye", headers=("Connection: close",)))
        await conn.wait_eof()  # the server does not close: the client must

    async def main() -> None:
        async with RawServer(closing) as srv, client() as c:
            assert (await c.get(srv.url + "/a")).text == "bye"
            assert idle_count(c) == 0
            await srv.until(lambda: 1 in srv.eof)
            assert (await c.get(srv.url + "/b")).text == "bye"
            assert srv.accepted == 2
            assert [req.conn for req in srv.requests] == [1, 2]

    run(main())


def test_server_closing_an_idle_connection_is_transparent(run):
    async def answer_once_then_close(conn: Conn) -> None:
        req = await conn.read_request()
        assert req is not None
        await conn.send(response(req.target.encode()))  # keep-alive by default, then close anyway

    async def main() -> None:
        async with RawServer(answer_once_then_close) as srv, client() as c:
            assert (await c.get(srv.url + "/first")).text == "/first"
            await asyncio.sleep(0.05)  # the FIN reaches the client while the connection is idle
            assert (await c.get(srv.url + "/second")).text == "/second"
            assert srv.accepted == 2
            assert [(req.conn, req.target) for req in srv.requests] == [(1, "/first"), (2, "/second")]

    run(main())


def test_request_lost_on_a_stale_connection_is_retried_once(run):
    """The race the retry exists for: the server takes the request on a keep-alive
    connection, then closes without a byte of answer. The client resends it once."""

    async def drops_second(conn: Conn) -> None:
        if conn.number == 1:
            first = await conn.read_request()
            assert first is not None
            await conn.send(response(first.target.encode()))
            assert await conn.read_request() is not None
            return  # closed without answering
        await keep_alive(conn)

    async def main() -> None:
        async with RawServer(drops_second) as srv, client() as c:
            assert (await c.get(srv.url + "/one")).text == "/one"
            r = await c.post(srv.url + "/two", json={"n": 2})
            assert r.text == "/two"
            assert [(req.conn, req.target) for req in srv.requests] == [(1, "/one"), (1, "/two"), (2, "/two")]
            assert srv.requests[1].body == srv.requests[2].body == b'{"n":2}'

    run(main())


def test_stale_connection_retry_happens_only_once(run):
    async def answers_only_the_first_request(conn: Conn) -> None:
        req = await conn.read_request()
        assert req is not None
        if conn.number == 1:
            await conn.send(response(b"first"))
            await conn.read_request()
        # every other request is read and dropped without a byte

    async def main() -> None:
        async with RawServer(answers_only_the_first_request) as srv, client() as c:
            assert (await c.get(srv.url + "/a")).text == "first"
            with pytest.raises(httpx.RemoteProtocolError):
                await c.get(srv.url + "/b")
            assert srv.accepted == 2  # the stale one and a single fresh one, no loop
            assert [(req.conn, req.target) for req in srv.requests] == [(1, "/a"), (1, "/b"), (2, "/b")]

    run(main())


async def jittery_keep_alive(conn: Conn) -> None:
    while (req := await conn.read_request()) is not None:
        await asyncio.sleep(0.001 * (int(req.target.rsplit("/", 1)[1]) % 3))
        await conn.send(response(req.target.encode()))


async def two_hundred_at_32(srv: RawServer, c: httpx.AsyncClient) -> int:
    """200 requests, 32 at a time, each checked; returns the most idle connections seen."""
    gate = asyncio.Semaphore(32)
    most_idle = 0

    async def one(i: int) -> str:
        nonlocal most_idle
        async with gate:
            r = await c.get(f"{srv.url}/n/{i}")
            most_idle = max(most_idle, idle_count(c))
            assert r.status_code == 200
            return r.text

    texts = await asyncio.gather(*(one(i) for i in range(200)))
    assert texts == [f"/n/{i}" for i in range(200)]
    assert sorted(req.target for req in srv.requests) == sorted(f"/n/{i}" for i in range(200))
    return most_idle


def test_many_concurrent_requests_are_all_answered_and_the_idle_pool_is_bounded(run):
    async def main() -> None:
        async with RawServer(jittery_keep_alive) as srv, client(max_connections=8) as c:
            most_idle = await two_hundred_at_32(srv, c)
            assert most_idle <= 8 and idle_count(c) <= 8
            assert srv.accepted >= 2  # it did go concurrent

    run(main())


def test_concurrent_requests_fill_the_idle_pool_up_to_max_connections(run):
    async def main() -> None:
        async with RawServer(jittery_keep_alive) as srv, client(max_connections=8) as c:
            most_idle = await two_hundred_at_32(srv, c)
            assert most_idle == idle_count(c) == 8  # full, never over
            assert srv.accepted < 200  # connections were reused

    run(main())


def test_aclose_closes_idle_connections(run):
    async def answer_when_three_are_open(conn: Conn) -> None:
        # no answer before three connections are open: the three requests overlap
        await conn.server.until(lambda: conn.server.accepted == 3)
        await keep_alive(conn)

    async def main() -> None:
        async with RawServer(answer_when_three_are_open) as srv:
            c = client()
            texts = await asyncio.gather(*(c.get(f"{srv.url}/{i}") for i in range(3)))
            assert [r.text for r in texts] == ["/0", "/1", "/2"]
            assert srv.accepted == 3 and idle_count(c) == 3 and srv.eof == []
            await c.aclose()
            await srv.until(lambda: sorted(srv.eof) == [1, 2, 3])
            assert idle_count(c) == 0

    run(main())


# -- bodies ---------------------------------------------------------------------------------------


def test_chunked_response_is_decoded_and_connection_kept(run):
    async def chunked(conn: Conn) -> None:
        while await conn.read_request() is not None:
            await conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n")
            for piece in (b"5\r\nhello\r\n", b"6\r\n wor", b"ld\r\n", b"1;ext=1\r\n!\r\n", b"0\r\n\r\n"):
                await conn.send(piece)
                await asyncio.sleep(0.002)  # separate TCP segments: the parser sees them one by one

    async def main() -> None:
        async with RawServer(chunked) as srv, client() as c:
            for _ in range(2):
                r = await c.get(srv.url + "/stream")
                assert r.status_code == 200 and r.text == "hello world!"

    run(main())


def test_gzip_content_encoding_is_decoded_by_httpx(run):
    payload = {"choices": [{"message": {"content": "compressed " * 50}}]}

    async def gzipped(conn: Conn) -> None:
        while (req := await conn.read_request()) is not None:
            assert "gzip" in req.headers.get("accept-encoding", "")
            await conn.send(response(gzip.compress(json.dumps(payload).encode()),
                                     headers=("Content-Encoding: gzip", "Content-Type: application/json")))

    async def main() -> None:
        async with RawServer(gzipped) as srv, client() as c:
            r = await c.get(srv.url + "/z")
            assert r.headers["content-encoding"] == "gzip"
            assert r.json() == payload
            assert (await c.get(srv.url + "/z")).json() == payload

    run(main())


def test_connection_reused_after_chunked_and_gzip_bodies(run):
    async def mixed(conn: Conn) -> None:
        while (req := await conn.read_request()) is not None:
            if req.target == "/chunked":
                await conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
            elif req.target == "/gzip":
                await conn.send(response(gzip.compress(b"zipped"), headers=("Content-Encoding: gzip",)))
            else:
                await conn.send(response(b"plain"))

    async def main() -> None:
        async with RawServer(mixed) as srv, client() as c:
            texts = [(await c.get(srv.url + path)).text for path in ("/chunked", "/gzip", "/plain", "/chunked")]
            assert texts == ["abc", "zipped", "plain", "abc"]
            assert srv.accepted == 1

    run(main())


# -- failures become httpx's exceptions, then TargetError kinds -----------------------------------


def test_truncated_body_is_a_protocol_error_and_a_reset(run):
    async def short(conn: Conn) -> None:
        assert await conn.read_request() is not None
        await conn.send(response(b"only part", length=100))
        # and close: 91 bytes are never coming

    async def main() -> None:
        async with RawServer(short) as srv, client() as c:
            with pytest.raises(httpx.RemoteProtocolError):
                await c.get(srv.url + "/")
            with pytest.raises(TargetError) as info:
                with http_errors("t"):
                    await c.get(srv.url + "/")
            assert info.value.kind == "reset" and info.value.retryable and info.value.label == "reset"
            assert srv.accepted == 2  # a got-some-bytes failure is never retried
            assert idle_count(c) == 0

    run(main())


def test_no_answer_is_a_read_timeout_and_the_connection_is_dropped(run):
    async def silent(conn: Conn) -> None:
        assert await conn.read_request() is not None
        await conn.wait_eof()

    async def main() -> None:
        async with RawServer(silent) as srv, client(timeout=0.2) as c:
            started = time.monotonic()
            with pytest.raises(httpx.ReadTimeout):
                await c.get(srv.url + "/")
            assert 0.15 <= time.monotonic() - started < 2
            with pytest.raises(TargetError) as info:
                with http_errors("t"):
                    await c.post(srv.url + "/", json={})
            assert info.value.kind == "timeout" and info.value.retryable
            await srv.until(lambda: sorted(srv.eof) == [1, 2])  # the client closed both
            assert idle_count(c) == 0

    run(main())


def test_refused_port_is_a_connect_error(run):
    async def main() -> None:
        with socket.socket() as sock:  # bound but not listening: the kernel refuses
            sock.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
            async with client() as c:
                with pytest.raises(httpx.ConnectError):
                    await c.get(url)
                with pytest.raises(TargetError) as info:
                    with http_errors("t"):
                        await c.get(url)
                assert info.value.kind == "connect" and info.value.retryable

    run(main())


@pytest.mark.parametrize("status_line", [b"HTTP/1.1 OK\r\n", b"HTTP/1.1 2x0 OK\r\n", b"SPDY/9 200 OK\r\n"])
def test_malformed_status_line_is_a_protocol_error(run, status_line):
    async def garbage(conn: Conn) -> None:
        assert await conn.read_request() is not None
        await conn.send(status_line + b"Content-Length: 2\r\n\r\nok")
        await conn.wait_eof()  # the client must give up on the connection itself

    async def main() -> None:
        async with RawServer(garbage) as srv, client() as c:
            with pytest.raises(httpx.RemoteProtocolError, match="malformed"):
                await c.get(srv.url + "/")
            with pytest.raises(TargetError) as info:
                with http_errors("t"):
                    await c.get(srv.url + "/")
            assert info.value.kind == "reset"
            await srv.until(lambda: sorted(srv.eof) == [1, 2])
            assert idle_count(c) == 0

    run(main())


def test_unsupported_scheme(run):
    async def main() -> None:
        async with client() as c:
            with pytest.raises(httpx.UnsupportedProtocol):
                await c.get("ftp://127.0.0.1/x")

    run(main())


# -- known gaps ----------------------------------------------------------------------------------


@pytest.mark.parametrize("head", [b"HTTP/1.0 200 OK\r\n\r\n", b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"])
def test_body_delimited_by_connection_close(run, head):
    async def until_close(conn: Conn) -> None:
        assert await conn.read_request() is not None
        await conn.send(head + b"hello")
        # then close: RFC 9112 6.3 (8), the body is everything up to the close

    async def main() -> None:
        async with RawServer(until_close) as srv, client() as c:
            r = await c.get(srv.url + "/")
            assert r.status_code == 200 and r.text == "hello"

    run(main())


def test_head_request(run):
    async def head_aware(conn: Conn) -> None:
        while (req := await conn.read_request()) is not None:
            reply = response(b"body")
            await conn.send(reply[: -len(b"body")] if req.method == "HEAD" else reply)

    async def main() -> None:
        async with RawServer(head_aware) as srv, client(timeout=0.3) as c:
            r = await c.head(srv.url + "/abc")
            assert r.status_code == 200 and r.headers["content-length"] == "4" and r.content == b""

    run(main())
