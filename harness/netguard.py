"""Which addresses a target may be at: a guard against server-side request forgery.

A service that sends requests to URLs its users choose must not let them reach the
machine's own ports, the internal network or a cloud metadata endpoint. An
:class:`AddressPolicy` refuses loopback, private, link-local, shared (CGNAT), multicast,
unspecified, reserved and otherwise non-global addresses, and the cloud metadata
addresses, unless the operator allowlists them (CIDRs or exact addresses). IPv6 forms
that wrap an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, 6to4 ``2002::/16``, NAT64
``64:ff9b::/96``) are judged by the IPv4 address they carry.

The check runs twice: :func:`check_url` when a target file is loaded, and
:func:`resolve_checked` in the transport at every connect, which then connects to the
very address it checked, so a name whose DNS answer changes in between (DNS rebinding)
cannot slip through. A name that resolves to any forbidden address is refused as a
whole, even if it also has allowed ones.

Without a policy (the CLI, a company testing its own endpoint on localhost) nothing is
checked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError, TargetError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: getaddrinfo-like: ``await resolver(host, port)`` -> [(family, type, proto, canonname, sockaddr)]
Resolver = Callable[[str, int], Awaitable[list[tuple[Any, ...]]]]

#: cloud instance metadata services (AWS, GCP, Azure, OpenStack share 169.254.169.254)
METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

_HINT = ("if this target is meant to be reachable, allow only its address and port (ADDRESS:PORT): a whole "
         "address would also open the database, the broker and the platform on that host")


def _embedded_v4(ip: IPAddress) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address wraps, and the name of the wrapping."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped, "IPv4-mapped"
    if ip.sixtofour is not None:
        return ip.sixtofour, "6to4"
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64"
    return None


def _why_forbidden(ip: IPAddress) -> str | None:
    """Why ``ip`` may not be a target, or None when it is a public address."""
    if ip in METADATA:
        return "a cloud metadata address"
    wrapped = _embedded_v4(ip)
    if wrapped is not None:
        v4, how = wrapped
        why = _why_forbidden(v4)
        return f"the {how} form of {v4}, {why}" if why else None
    for flag, why in (
        ("is_unspecified", "the unspecified address"),
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(ip, flag):
            return why
    if ip in _CGNAT:
        return "a shared (carrier-grade NAT) address"
    if not ip.is_global:
        return "not a globally routable address"
    return None


def _parse_ip(value: str | IPAddress) -> IPAddress:
    if isinstance(value, str):
        return ipaddress.ip_address(value.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
    return value


def allow_entry(item: str) -> tuple[IPNetwork, int | None]:
    """One allowlist entry: an address or network, with or without a port:
    ``127.0.0.1``, ``10.1.0.0/16``, ``127.0.0.1:8000``, ``[::1]:8000``, ``[fd00::/8]:443``.
    A port narrows the entry to that port, so allowing a local target does not also
    allow the database, the broker or the platform itself on the same host."""
    text, port = item.strip(), None
    try:
        if text.startswith("["):
            inner, _, rest = text[1:].partition("]")
            if rest:
                if not rest.startswith(":"):
                    raise ValueError(rest)
                port = int(rest[1:])
            text = inner
        elif text.count(":") == 1:
            text, _, digits = text.partition(":")
            port = int(digits)
        if port is not None and not 0 < port < 65536:
            raise ValueError(port)
        return ipaddress.ip_network(text, strict=False), port
    except ValueError:
        raise ConfigError(f"allowlist entry {item!r} is not an address, a network or either with a port",
                          hint="write e.g. 127.0.0.1:8000, 10.1.0.0/16 or [::1]:8000 (--allow, HARNESS_ALLOW)"
                          ) from None


class AddressPolicy:
    """Public addresses only, plus what the operator allows.

    ``allow`` holds addresses or networks, each with an optional port
    (:func:`allow_entry`); an allowed IPv4 address is also allowed in its IPv4-mapped
    IPv6 form."""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        self.allow: tuple[tuple[IPNetwork, int | None], ...] = tuple(allow_entry(item) for item in allow)

    def __repr__(self) -> str:
        return f"AddressPolicy(allow={[str(n) + (f':{p}' if p else '') for n, p in self.allow]!r})"

    def allows(self, ip: str | IPAddress, port: int | None = None) -> bool:
        """Whether ``ip`` (at ``port``, where known) may be connected to."""
        return self.reason(ip, port) is None

    def reason(self, ip: str | IPAddress, port: int | None = None) -> str | None:
        """Why ``ip`` is refused, or None when it is allowed. An entry with a port allows
        only that port: an unknown ``port`` matches only entries without one."""
        addr = _parse_ip(ip)
        candidates = [addr]
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            candidates.append(addr.ipv4_mapped)
        if any(c.version == net.version and c in net and (only is None or only == port)
               for c in candidates for net, only in self.allow):
            return None
        return _why_forbidden(addr)

    def check(self, ip: str | IPAddress, host: str | None = None, port: int | None = None) -> None:
        """Raise ``TargetError(kind="blocked")`` unless ``ip`` is allowed."""
        why = self.reason(ip, port)
        if why is not None:
            raise _blocked(host if host is not None else str(ip), str(_parse_ip(ip)), why, port)


def _blocked(host: str, address: str, why: str, port: int | None = None) -> TargetError:
    what = f"{host} ({address})" if host != address else address
    entry = (f"[{address}]" if ":" in address else address) + (f":{port}" if port else "")
    return TargetError(f"target {what} is blocked: {address} is {why}; the operator can allow it by starting "
                       f"the platform with --allow {entry} (or HARNESS_ALLOW={entry})", kind="blocked", hint=_HINT)


async def _getaddrinfo(host: str, port: int) -> list[tuple[Any, ...]]:
    return await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)


async def resolve_checked(host: str, port: int, policy: AddressPolicy, *,
                          resolver: Resolver | None = None) -> list[tuple[int, tuple[Any, ...]]]:
    """Resolve ``host`` and return its addresses as ``(family, sockaddr)``, all allowed.

    Raises ``TargetError(kind="blocked")`` if any address is forbidden (a name mixing
    public and private answers is refused whole) and lets ``OSError`` (``socket.gaierror``)
    through when the name does not resolve. ``resolver`` replaces ``loop.getaddrinfo``."""
    infos = await (resolver or _getaddrinfo)(host.strip("[]"), port)
    out: list[tuple[int, tuple[Any, ...]]] = []
    for family, *_, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        policy.check(sockaddr[0], host=host, port=port)
        if (family, sockaddr) not in out:
            out.append((family, sockaddr))
    if not out:
        raise socket.gaierror(socket.EAI_NONAME, f"{host} has no IPv4 or IPv6 address")
    return out


async def check_url(url: str, policy: AddressPolicy, *,
                    resolver: Resolver | None = None) -> list[tuple[int, tuple[Any, ...]]]:
    """The load-time check of a target's ``base_url``/``url``: resolve its host and
    refuse it as :func:`resolve_checked` does. An unresolvable name is a
    ``TargetError(kind="connect")``; the transport checks again at connect time."""
    host, port = _host_port(url)
    try:
        return await resolve_checked(host, port, policy, resolver=resolver)
    except OSError as exc:
        raise TargetError(f"cannot resolve {host}: {exc}", kind="connect") from exc


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
        raise TargetError(f"{url!r} is not an http(s) or ws(s) URL with a host", kind="malformed")
    try:
        return parts.hostname, parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    except ValueError as exc:
        raise TargetError(f"{url!r} has an invalid port: {exc}", kind="malformed") from exc


async def pinned(url: str, policy: AddressPolicy | None) -> list[dict[str, Any]]:
    """The ways to open a WebSocket to ``url``, each what ``websockets``' ``connect(url,
    **way)`` passes on to the event loop's ``create_connection``: with a policy, one per
    checked address of its host, by number, so the connection goes where the check looked
    (try them in turn, as the HTTP transport does); without one, the URL as it is."""
    if policy is None:
        return [{}]
    host, port = _host_port(url)
    tls = {"server_hostname": host} if urlsplit(url).scheme == "wss" else {}
    return [{"host": sockaddr[0], "port": port, "family": family, **tls}
            for family, sockaddr in await resolve_checked(host, port, policy)]
