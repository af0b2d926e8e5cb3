"""The address policy (harness.netguard) and its use by FastTransport.

The table tests only call ``check()``: no traffic goes anywhere. The transport tests
talk to a real server on 127.0.0.1 and count the connections it accepts; the only
names resolved are "localhost" and IP literals, and DNS rebinding is simulated with a
scripted resolver. Nothing is ever sent to a non-loopback address.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest

from harness import ConfigError, TargetError, http_errors
from harness.netguard import AddressPolicy, check_url, resolve_checked
from harness.transport import FastTransport

FORBIDDEN = [
    "127.0.0.1", "127.8.9.10", "::1",                           # loopback
    "10.0.0.1", "172.16.0.1", "172.31.255.254", "192.168.1.1",  # private v4
    "fd12:3456::1",                                             # unique local v6
    "169.254.169.254", "fd00:ec2::254",                         # cloud metadata
    "169.254.1.1", "fe80::1",                                   # link-local
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",  # IPv4-mapped
    "2002:a00:1::1", "2002:7f00:1::",                           # 6to4 of 10.0.0.1, 127.0.0.1
    "64:ff9b::a00:1", "64:ff9b::a9fe:a9fe",                     # NAT64 of 10.0.0.1, metadata
    "0.0.0.0", "::",                                            # unspecified
    "224.0.0.1", "239.255.255.250", "ff02::1",                  # multicast
    "100.64.0.1", "100.127.255.254",                            # CGNAT
    "240.0.0.1", "255.255.255.255",                             # reserved, broadcast
    "192.0.2.1", "2001:db8::1",                                 # documentation
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "2001:4860:4860::8888",
          "::ffff:8.8.8.8", "2002:808:808::1", "64:ff9b::808:808"]


@pytest.mark.parametrize("ip", FORBIDDEN)
def test_forbidden_addresses_are_blocked(ip):
    with pytest.raises(TargetError) as info:
        AddressPolicy().check(ip)
    err = info.value
    assert err.kind == "blocked" and not err.retryable
    assert "--allow" in err.message and "HARNESS_ALLOW" in err.message and "is " in err.message


@pytest.mark.parametrize("ip", PUBLIC)
def test_public_addresses_are_allowed(ip):
    AddressPolicy().check(ip)  # no exception, and no traffic: check() only looks at the address


def test_message_names_host_address_and_reason():
    with pytest.raises(TargetError) as info:
        AddressPolicy().check("169.254.169.254", host="metadata.internal")
    msg = info.value.message
    assert "metadata.internal" in msg and "169.254.169.254" in msg and "metadata" in msg.split("is ", 1)[1]
    assert "--allow 169.254.169.254 (or HARNESS_ALLOW=169.254.169.254)" in msg


def test_allowlist_cidrs_and_exact_addresses():
    policy = AddressPolicy(["10.1.0.0/16", "127.0.0.1", "fd00::/8"])
    for ip in ("10.1.2.3", "127.0.0.1", "::ffff:127.0.0.1", "fd00:ec2::254"):
        policy.check(ip)
    for ip in ("10.2.0.1", "127.0.0.2", "169.254.169.254", "::1"):
        with pytest.raises(TargetError):
            policy.check(ip)


def test_an_entry_with_a_port_allows_that_port_only():
    """Allowing a reference target on 127.0.0.1:8000 must not also allow PostgreSQL,
    Redis or the platform itself on the same host."""
    policy = AddressPolicy(["127.0.0.1:8000", "[::1]:8000", "[fd00::/8]:443", "10.1.0.0/16:9000"])
    for ip, port in (("127.0.0.1", 8000), ("::ffff:127.0.0.1", 8000), ("::1", 8000), ("fd00::5", 443),
                     ("10.1.2.3", 9000)):
        policy.check(ip, port=port)
    for ip, port in (("127.0.0.1", 5432), ("127.0.0.1", 6379), ("127.0.0.1", None), ("::1", 8080),
                     ("10.1.2.3", 22)):
        with pytest.raises(TargetError) as info:
            policy.check(ip, port=port)
        if port:  # the message gives the entry that would allow exactly this
            entry = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
            assert f"--allow {entry}" in info.value.message


@pytest.mark.parametrize("entry", ["not-a-network", "127.0.0.1:http", "127.0.0.1:70000", "[::1]8000", "1.2.3.4:0"])
def test_bad_allowlist_entry_is_an_error(entry):
    with pytest.raises(ConfigError, match="is not an address, a network or either with a port") as info:
        AddressPolicy([entry])
    assert "127.0.0.1:8000" in info.value.hint


# -- resolution ---------------------------------------------------------------------------------


def scripted(*answers: list[str]):
    """A resolver that gives the next answer (a list of IPs) at each call."""
    calls: list[str] = []

    async def resolver(host: str, port: int) -> list[tuple[Any, ...]]:
        ips = answers[min(len(calls), len(answers) - 1)]
        calls.append(host)
        return [(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (ip, port) if ":" not in ip else (ip, port, 0, 0)) for ip in ips]

    resolver.calls = calls  # type: ignore[attr-defined]
    return resolver


def test_resolve_checked_returns_allowed_addresses():
    got = asyncio.run(resolve_checked("api.example", 443, AddressPolicy(),
                                      resolver=scripted(["8.8.8.8", "2606:4700::1111"])))
    assert got == [(socket.AF_INET, ("8.8.8.8", 443)), (socket.AF_INET6, ("2606:4700::1111", 443, 0, 0))]


def test_a_name_mixing_public_and_private_answers_is_refused_whole():
    with pytest.raises(TargetError) as info:
        asyncio.run(resolve_checked("mixed.example", 80, AddressPolicy(),
                                    resolver=scripted(["8.8.8.8", "10.0.0.5"])))
    assert info.value.kind == "blocked" and "mixed.example" in info.value.message
    assert "10.0.0.5" in info.value.message


def test_localhost_is_refused_unless_allowlisted():
    with pytest.raises(TargetError) as info:
        asyncio.run(resolve_checked("localhost", 80, AddressPolicy()))
    assert info.value.kind == "blocked" and "localhost" in info.value.message
    allowed = asyncio.run(resolve_checked("localhost", 80, AddressPolicy(["127.0.0.0/8", "::1"])))
    assert allowed and all(sockaddr[0] in ("127.0.0.1", "::1") for _, sockaddr in allowed)


def test_check_url():
    policy = AddressPolicy()
    with pytest.raises(TargetError) as info:
        asyncio.run(check_url("http://localhost:8000/v1", policy))
    assert info.value.kind == "blocked"
    for url in ("http://127.0.0.1/", "https://[::1]:8443/x", "http://[::ffff:10.0.0.1]/"):
        with pytest.raises(TargetError) as info:
            asyncio.run(check_url(url, policy))
        assert info.value.kind == "blocked"
    assert asyncio.run(check_url("https://api.example/v1", policy, resolver=scripted(["8.8.8.8"]))) == [
        (socket.AF_INET, ("8.8.8.8", 443))]
    with pytest.raises(TargetError) as info:
        asyncio.run(check_url("ftp://example.org/", policy))
    assert info.value.kind == "malformed"


# -- the transport with a policy, against a real server on 127.0.0.1 ----------------------------


class Server:
    """Answers every request with 200 "ok"; counts accepted connections."""

    accepted = 0

    async def __aenter__(self) -> Server:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def client(policy: AddressPolicy | None) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=FastTransport(policy=policy), timeout=httpx.Timeout(5.0),
                             trust_env=False)


def run(coro) -> None:
    asyncio.run(asyncio.wait_for(coro, 10))


def test_allowlisted_loopback_gets_through_and_unlisted_is_blocked_before_connecting():
    async def main() -> None:
        async with Server() as srv:
            url = f"http://127.0.0.1:{srv.port}/"
            async with client(AddressPolicy(["127.0.0.1/32"])) as c:
                r = await c.get(url)
                assert r.status_code == 200 and r.text == "ok"
            assert srv.accepted == 1
            async with client(AddressPolicy()) as c:
                with pytest.raises(TargetError) as info:
                    with http_errors("t"):
                        await c.get(url)
            assert info.value.kind == "blocked" and not info.value.retryable
            assert "127.0.0.1" in info.value.message
            await asyncio.sleep(0.05)
            assert srv.accepted == 1  # the blocked request never reached the server
            async with client(None) as c:  # no policy: nothing changes
                assert (await c.get(url)).status_code == 200

    run(main())


def test_localhost_name_is_blocked_at_connect_time():
    async def main() -> None:
        async with Server() as srv:
            async with client(AddressPolicy()) as c:
                with pytest.raises(TargetError) as info:
                    with http_errors("t"):
                        await c.get(f"http://localhost:{srv.port}/")
            assert info.value.kind == "blocked" and "localhost" in info.value.message
            assert srv.accepted == 0

    run(main())


def test_dns_rebinding_is_caught_at_connect_time():
    """The name looks public when the target file is loaded, then resolves to loopback
    when the transport connects: the second answer is refused and nothing connects."""

    async def main() -> None:
        resolver = scripted(["8.8.8.8"], ["127.0.0.1"])
        policy = AddressPolicy()
        await check_url("http://rebind.example/", policy, resolver=resolver)  # load time: fine
        async with Server() as srv:
            with pytest.raises(TargetError) as info:
                await resolve_checked("rebind.example", srv.port, policy, resolver=resolver)
            assert info.value.kind == "blocked" and "rebind.example" in info.value.message
            assert "127.0.0.1" in info.value.message
            assert resolver.calls == ["rebind.example", "rebind.example"]
            assert srv.accepted == 0

    run(main())


def test_transport_connects_to_the_address_it_checked(monkeypatch):
    """The transport resolves once, through resolve_checked, and connects to that IP:
    a resolver that rebinds after the check has no second chance."""

    async def main() -> None:
        async with Server() as srv:
            import harness.transport as transport

            resolver = scripted(["127.0.0.1"], ["10.0.0.1"])

            async def checked(host, port, policy):
                return await resolve_checked(host, port, policy, resolver=resolver)

            monkeypatch.setattr(transport, "resolve_checked", checked)
            async with client(AddressPolicy(["127.0.0.1"])) as c:
                assert (await c.get(f"http://svc.example:{srv.port}/")).text == "ok"
                assert resolver.calls == ["svc.example"] and srv.accepted == 1
                for pool in c._transport.idle.values():  # type: ignore[attr-defined]
                    for conn in pool:  # force a new connection for the next request
                        conn.close()
                with pytest.raises(TargetError) as info:
                    await c.get(f"http://svc.example:{srv.port}/")
                assert info.value.kind == "blocked" and "10.0.0.1" in info.value.message
            assert srv.accepted == 1

    run(main())


def test_a_robot_websocket_is_held_to_the_policy_at_connect_time(monkeypatch):
    """The robot-controller's WebSocket and the robot API's telemetry socket open their
    own connections, outside the HTTP transport: each is checked against the run's
    policy (a blocked address says so, before any connection) and goes to the addresses
    checked, each in turn (the reference robot serves on 127.0.0.1 only)."""
    import harness.netguard as netguard
    from harness_plugins import reference_robot

    from harness.robot.links import WsLink
    from harness.serving import serve_in_thread

    async def main(url: str) -> None:
        base = url.replace("http://", "ws://")
        with pytest.raises(TargetError) as info:
            await WsLink(base, client=client(AddressPolicy())).create({"robot": "franka_panda"})
        assert info.value.kind == "blocked" and "--allow" in info.value.message
        assert (await check_url(base, AddressPolicy(["127.0.0.1"])))[0][1][0] == "127.0.0.1"  # ws URLs too
        # a name whose first answer has no server: the next checked address is tried
        resolver = scripted(["::1", "127.0.0.1"])
        monkeypatch.setattr(netguard, "_getaddrinfo", resolver)
        port = url.rsplit(":", 1)[1]
        allowed = WsLink(f"ws://robot.example:{port}", client=client(AddressPolicy(["127.0.0.1", "::1"])))
        await allowed._open()
        assert allowed._ws is not None and allowed._ws.remote_address[0] == "127.0.0.1"
        assert resolver.calls == ["robot.example"]
        await allowed._ws.close()

    with serve_in_thread(reference_robot.make_app()) as url:
        run(main(url))
