"""What every route depends on: the service, the caller (a bearer token, or the pages'
sign-in cookie with the one CSRF check), and the certifier role."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import HTTPBearer

from ..errors import Forbidden
from .repo import Caller
from .service import Service

TOKEN_COOKIE = "harness_token"

def service(request: Request) -> Service:
    return request.app.state.service


_bearer = HTTPBearer(auto_error=False, description="an API token (hst_...) a certifier made for you")


def caller(request: Request, _: Annotated[Any, Security(_bearer)] = None) -> Caller:
    """The caller of a token in ``Authorization: Bearer`` or the pages' cookie; 401
    otherwise; 429 when the token is over its rate. (``_bearer`` only documents the
    scheme in the OpenAPI; the header is read here, with the cookie as the fallback.)"""
    header = request.headers.get("authorization", "")
    bearer = header[:7].lower() == "bearer "
    token = header[7:].strip() if bearer else request.cookies.get(TOKEN_COOKIE, "")
    if token and not bearer and request.method not in ("GET", "HEAD"):  # the cookie: a browser sent it
        same_origin(request)
    who = request.app.state.service.platform.authenticate(token) if token else None
    if who is None:
        anonymous(request)  # a refused token counts against its address: guessing is slow
        raise HTTPException(401, "a valid API token is needed (Authorization: Bearer TOKEN)",
                            headers={"WWW-Authenticate": "Bearer"})
    _limit(request.app.state.limiter, who.token_id, "this token")
    return who


def anonymous(request: Request) -> None:
    """The rate limit of a caller without a valid token, per client address: the
    public endpoints, signing in and refused tokens (429 with Retry-After)."""
    _limit(request.app.state.anonymous, _address_key(request.client.host if request.client else "?"), "this address")


def _address_key(host: str) -> str:
    """The bucket of a client address: an IPv6 client by its /64, which one subscriber
    usually holds whole (a bucket per address would give it 2**64 of them)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "ip:" + host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return "ip:" + str(address.ipv4_mapped)
        return "ip:" + str(ipaddress.ip_network(f"{address}/64", strict=False))
    return "ip:" + str(address)


def _limit(limiter: Any, key: str, whose: str) -> None:
    wait = limiter.take(key)
    if wait:
        raise HTTPException(429, f"too many requests for {whose}: try again in {wait:.1f} s",
                            headers={"Retry-After": str(max(1, round(wait)))})


def same_origin(request: Request) -> None:
    """CSRF, the one check for the API and the pages: a write that a browser sends
    with the sign-in cookie (SameSite=Strict) must come from this service's own pages,
    so its Origin, when the browser sends one, must be this host."""
    origin = request.headers.get("origin")
    try:
        foreign = origin is not None and urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower()
    except ValueError:  # not even a URL ("http://[::1"): not this host
        foreign = True
    if foreign:
        raise Forbidden("a request from another site cannot use the sign-in cookie",
                        hint="use the forms on this platform's own pages, or an API token in Authorization: Bearer")


def certifier(who: Annotated[Caller, Depends(caller)]) -> Caller:
    if not who.certifier:
        raise Forbidden("only a certifier may do this")
    return who


Svc = Annotated[Service, Depends(service)]
Who = Annotated[Caller, Depends(caller)]
Certifier = Annotated[Caller, Depends(certifier)]
