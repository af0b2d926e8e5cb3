"""Fixtures of the platform's tests: the app served by uvicorn on loopback, with its
store on SQLite (embedded workers) and, when HARNESS_TEST_PG_URL is set, on
PostgreSQL; a client per role; reference chat targets to run against."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from harness.serving import serve_in_thread

PG_URL = os.environ.get("HARNESS_TEST_PG_URL")
REDIS_URL = os.environ.get("HARNESS_TEST_REDIS_URL")


@contextmanager
def pg_schema(prefix: str) -> Iterator[str]:
    """A PostgreSQL URL whose tables land in a fresh schema, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield (sa.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
               .render_as_string(hide_password=False))
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def platform_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """None (SQLite in the data folder) or a PostgreSQL URL in a schema of its own."""
    if request.param == "sqlite":
        yield None
        return
    if not PG_URL:
        pytest.skip("set HARNESS_TEST_PG_URL to a PostgreSQL URL to run the PostgreSQL variant")
    with pg_schema("platform") as url:
        yield url


@dataclass
class Client:
    """An httpx client of the platform that holds one token."""

    base: str
    token: str | None
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self.http = httpx.Client(base_url=self.base, headers=headers, timeout=30, trust_env=False)

    def __getattr__(self, name: str) -> Any:  # get, post, delete...
        return getattr(self.http, name)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json() if response.content and "json" in response.headers.get("content-type", "") else response

    def wait(self, run_id: str, timeout: float = 60) -> dict[str, Any]:
        """Poll until the run has ended; its last state."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.ok("GET", f"/api/v1/runs/{run_id}")
            if run["state"] in ("finished", "cancelled", "failed"):
                return run
            assert time.monotonic() < deadline, f"run {run_id} did not end in {timeout} s: {run}"
            time.sleep(0.2)


@dataclass
class Platform:
    base: str
    data_dir: Path
    admin: Client
    #: the store's URL (SQLite in the data folder, or PostgreSQL)
    store_url: str = ""

    def client(self, token: str | None) -> Client:
        return Client(self.base, token)

    def applicant(self, org_name: str | None = None) -> tuple[Client, dict[str, Any]]:
        """A new organisation with one applicant: (their client, the organisation)."""
        org = self.admin.ok("POST", "/api/v1/orgs", json={"name": org_name or f"org-{uuid.uuid4().hex[:8]}"})
        user = self.admin.ok("POST", f"/api/v1/orgs/{org['id']}/users", json={"name": "alice", "role": "applicant"})
        token = self.admin.ok("POST", f"/api/v1/users/{user['id']}/tokens", json={"label": "test"})["token"]
        return self.client(token), org


@contextmanager
def serve_platform(data_dir: Path, db_url: str | None = None, **options: Any) -> Iterator[Platform]:
    from harness.server.app import create_app
    from harness.server.config import ServerConfig

    options.setdefault("allow", ("127.0.0.1",))
    options.setdefault("heartbeat_s", 0.3)
    options.setdefault("lease_s", 5.0)
    # every test client, and each refused-token check, comes from 127.0.0.1: one address
    # standing for many people (the limit itself is tested with its own setting)
    options.setdefault("anonymous_rate_per_minute", 100_000)
    config = ServerConfig(data_dir=data_dir, db_url=db_url, **options)
    with serve_in_thread(create_app(config, sse_interval_s=0.1), lifespan="on") as base:
        token = (data_dir / "admin-token").read_text().strip()
        yield Platform(base, data_dir, Client(base, token), config.store_url)


@pytest.fixture
def platform(tmp_path: Path, platform_db: str | None) -> Iterator[Platform]:
    with serve_platform(tmp_path / "platform", platform_db) as p:
        yield p


@pytest.fixture
def chat_target(reference: Callable[..., str]) -> Callable[..., dict[str, Any]]:
    """``chat_target(client, policy)`` registers a reference chat target served on
    loopback for the client's organisation and returns it."""
    def make(client: Client, policy: str = "safe", latency_ms: float = 0, **settings: Any) -> dict[str, Any]:
        url = reference(policy, latency_ms=latency_ms)
        body = {"name": f"reference-{policy}", "connector": "openai-chat",
                "settings": {"base_url": f"{url}/v1", "model": f"reference-{policy}", "concurrency": 8,
                             "timeout_s": 10, **settings}}
        return client.ok("POST", "/api/v1/targets", json=body)

    return make


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as s:
        yield s
