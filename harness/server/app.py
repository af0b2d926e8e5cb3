"""``create_app(config)``: the FastAPI application of the platform, with its limits
(request size, rate per token), its one error format, the embedded workers and the
first certifier's token on a new database."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from harness.errors import HarnessError

from .config import ServerConfig
from .queue import Queue
from .service import Service

log = logging.getLogger("harness.server")

BOOTSTRAP_FILE = "admin-token"


class RateLimiter:
    """A token bucket per API token: ``per_minute`` requests a minute, bursts of as
    many. In memory, per server process."""

    #: buckets kept before the full ones are dropped (a full bucket is what a new key gets)
    KEEP = 10_000

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 when the request may go; else the seconds until it may."""
        now = time.monotonic()
        with self.lock:
            if len(self.buckets) > self.KEEP:
                self.buckets = {k: (lvl, t) for k, (lvl, t) in self.buckets.items()
                                if lvl + (now - t) * self.rate < self.capacity}
            level, stamp = self.buckets.get(key, (self.capacity, now))
            level = min(self.capacity, level + (now - stamp) * self.rate)
            if level >= 1:
                self.buckets[key] = (level - 1, now)
                return 0.0
            self.buckets[key] = (level, now)
            return (1 - level) / self.rate


#: routes that take a whole suite or profile: their body may hold a document of the
#: document limit written as JSON, where ``\uXXXX`` escapes can double its size
UPLOADS = ("/api/v1/suites", "/api/v1/profiles")


def upload_body_limit(max_document_bytes: int) -> int:
    """The body limit of the upload routes: a document at the document limit always
    fits, so an upload too large is told about the document's limit, not the body's."""
    return 2 * max_document_bytes + 64 * 1024


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413 (``uploads`` over the upload
    routes' own limit), by Content-Length or, for a body without one (chunked), as soon
    as it has grown past the limit."""

    def __init__(self, app: Any, limit: int, uploads: int | None = None) -> None:
        self.app, self.default, self.uploads = app, limit, max(limit, uploads or 0)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.uploads if scope.get("path") in UPLOADS else self.default
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:  # the server delivers no more than Content-Length
            if not length.isdigit() or int(length) > limit:
                return await self._too_large(send, limit)
            return await self.app(scope, receive, send)
        # Without a length the body is read here, before the app runs: an error raised
        # from receive() inside the app would reach FastAPI's body parsing, which turns
        # any exception into 400 "There was an error parsing the body".
        messages: list[dict[str, Any]] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > limit:
                return await self._too_large(send, limit)
            if not message.get("more_body"):
                break

        async def replay() -> dict[str, Any]:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Any, limit: int) -> None:
        setting = "HARNESS_MAX_DOCUMENT_BYTES" if limit == self.uploads != self.default else "HARNESS_MAX_BODY_BYTES"
        response = JSONResponse({"error": f"the request body is larger than {limit} bytes",
                                 "hint": f"send less, or ask the operator to raise {setting}"},
                                status_code=413)
        await response({"type": "http"}, None, send)  # type: ignore[arg-type]


def _offline_docs(app: FastAPI) -> None:
    """The API's interactive docs at /docs with Swagger UI served from this service (the
    copy the fastapi-offline package ships), not from a CDN: a certification body's
    network may have no way out, and a page that loads code from elsewhere is one more
    thing to trust."""
    from importlib.resources import files

    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    app.mount("/docs/assets", StaticFiles(directory=str(files("fastapi_offline") / "static")), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title}: API",
                                   swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/assets/swagger-ui.css",
                                   swagger_favicon_url="/docs/assets/favicon.png")


def bootstrap(svc: Service) -> str | None:
    """On a database without users: the certification body's organisation, its first
    certifier and a token, written to ``data_dir/admin-token`` (mode 0600) and
    returned. None when there are users already."""
    p = svc.platform
    if p.has_users():
        return None
    org = p.create_org(svc.config.extra.get("org_name", "Certification body"))
    user = p.create_user(org["id"], "admin", "certifier")
    _, token = p.create_token(user["id"], "bootstrap")
    svc.store.append_audit("server", "platform.bootstrapped", org["id"], {"certifier": user["id"]})
    path = svc.config.data_dir / BOOTSTRAP_FILE
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    log.warning("new platform: the first certifier's token is in %s", path)
    return token


_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _allowed_methods(request: Request) -> str | None:
    """The methods the OpenAPI documents for the request's path. FastAPI's 405 names only
    those of the first route of the path, and a path has a route per method, but
    RFC 9110 (15.5.6) wants Allow to list them all. None for a path outside the API."""
    for template, item in request.app.openapi().get("paths", {}).items():
        if re.fullmatch(re.sub(r"\\\{[^/]*?\\\}", "[^/]+", re.escape(template)), request.url.path):
            return ", ".join(sorted(m.upper() for m in item if m in _METHODS)) or None
    return None


def create_app(config: ServerConfig | None = None, *, sse_interval_s: float = 0.5) -> FastAPI:
    """The platform's app. The store opens and the embedded workers start when the app
    starts (its lifespan), and stop with it."""
    config = config or ServerConfig.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from .jobs import run_worker_loop

        svc = Service(config)
        bootstrap(svc)
        svc.signing_key  # noqa: B018 - made now, before any worker races to make it
        app.state.service = svc
        app.state.queue = Queue(config)
        stop = threading.Event()
        threads = []
        if not config.broker_url:
            for n in range(config.embedded_workers):
                t = threading.Thread(target=run_worker_loop, args=(svc, stop), name=f"harness-worker-{n}",
                                     daemon=True)
                t.start()
                threads.append(t)
        try:
            yield
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
            app.state.queue.close()
            svc.close()

    from harness import __version__

    from . import api, pages

    app = FastAPI(title="Sandbox harness: certification platform", version=__version__, lifespan=lifespan,
                  description="Applicants register targets and ask for runs; certifiers run the sandbox, decide "
                              "and issue certificates. Authenticate with `Authorization: Bearer TOKEN`.",
                  docs_url=None, redoc_url=None)
    _offline_docs(app)
    app.state.limiter = RateLimiter(config.rate_per_minute)
    app.state.anonymous = RateLimiter(config.anonymous_rate_per_minute)
    app.state.sse_interval_s = sse_interval_s
    app.state.config = config
    app.include_router(api.router)
    app.include_router(api.public)
    app.include_router(pages.router)

    @app.get("/healthz", tags=["service"], include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.exception_handler(HarnessError)
    async def harness_error(request: Request, exc: HarnessError) -> JSONResponse:
        status = exc.status if exc.status < 500 else 400
        if getattr(exc, "kind", None):  # a TargetError at registration: the address check
            status = 400
        return JSONResponse({"error": exc.message, "hint": exc.hint}, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405 and (allowed := _allowed_methods(request)):
            headers["Allow"] = allowed
        return JSONResponse({"error": str(exc.detail), "hint": None}, status_code=exc.status_code,
                            headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # the input is never echoed: it may hold an API key
        where = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
                          for e in exc.errors()[:10])
        return JSONResponse({"error": f"the request does not match its schema: {where}",
                             "hint": "see /docs for the request's schema"}, status_code=422)

    app.add_middleware(BodyLimit, limit=config.max_body_bytes,  # type: ignore[arg-type]
                       uploads=upload_body_limit(config.max_document_bytes))
    return app
