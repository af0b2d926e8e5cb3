"""From a ``--db`` URL to an Engine tuned for the store, and from SQLAlchemy's errors
to StoreErrors that say what to do.

SQLite is the default: one file, nothing to start. WAL lets readers (the server, a
report) work while the runner writes; ``synchronous=NORMAL`` is durable across process
crashes in WAL mode and much faster than FULL; ``busy_timeout`` makes a second writer
wait instead of failing at once. The sqlite3 driver's own transaction handling is
switched off in favour of explicit BEGINs, so DDL is transactional too (a migration
interrupted half way leaves nothing behind) and a migration can take the write lock
up front with BEGIN IMMEDIATE.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from harness.errors import StoreError

#: Execution option: begin the SQLite transaction with BEGIN IMMEDIATE (take the
#: write lock now), for work that reads before it writes.
WRITE_LOCK = "harness_write_lock"

_BUSY_TIMEOUT_MS = 10_000
_PG_CONNECT_TIMEOUT_S = 10
# Keep Chinese text readable in the database rather than \u-escaped.
_dumps = functools.partial(json.dumps, ensure_ascii=False)


def make_engine(url: str) -> sa.Engine:
    """An Engine for ``url``: ``sqlite:///file``, a bare file path (taken as SQLite),
    ``postgresql://`` or ``postgresql+psycopg://``. Creates a SQLite file's folder."""
    hint = "use sqlite:///path/to/runs.db or postgresql://user@host:5432/dbname"
    try:
        parsed = sa.make_url(url) if "://" in url else sa.URL.create("sqlite", database=url)
    except (sa_exc.ArgumentError, ValueError) as exc:
        # The URL is not echoed: it may hold a password.
        raise StoreError(f"cannot read the database URL: {exc}", hint=hint) from exc
    backend = parsed.get_backend_name()
    try:
        if backend in ("postgresql", "postgres"):
            return _postgres_engine(parsed)
        if backend == "sqlite":
            return _sqlite_engine(parsed)
    except (sa_exc.ArgumentError, ValueError) as exc:
        shown = parsed.render_as_string(hide_password=True)
        raise StoreError(f"cannot use the database URL {shown}: {exc}", hint=hint) from exc
    raise StoreError(f"the run store does not support {backend!r} databases", hint=hint)


def _use_wal(cursor: Any) -> None:
    """Put the file in WAL mode. The mode is stored in the file, so only its first
    opener switches it; that switch takes an exclusive lock and does not wait on
    busy_timeout, so when several processes open a new file at once it is retried."""
    import sqlite3
    import time

    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _sqlite_engine(url: sa.URL) -> sa.Engine:
    if url.database in (None, "", ":memory:") or url.query.get("mode") == "memory":
        # Each pooled connection would see its own empty database, and one shared
        # connection cannot carry a streaming read and a write at once.
        raise StoreError(
            "the run store needs a SQLite file, not an in-memory database",
            hint="pass a file path, e.g. sqlite:///runs.db (a file in a temporary folder is as fast for tests)",
        )
    path = Path(url.database)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the folder {str(path.parent)!r} for the run store: {exc.strerror}",
            hint="pass --db with a path in a folder you can write to",
        ) from exc
    engine = sa.create_engine(url, json_serializer=_dumps)

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: object) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        immediate = connection.get_execution_options().get(WRITE_LOCK)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _postgres_engine(url: sa.URL) -> sa.Engine:
    url = url.set(drivername="postgresql+psycopg")
    connect_args = {} if "connect_timeout" in url.query else {"connect_timeout": _PG_CONNECT_TIMEOUT_S}
    # pre_ping: the server keeps a store open for days; connections dropped by the
    # database or a proxy in between are replaced instead of failing a request.
    return sa.create_engine(url, json_serializer=_dumps, connect_args=connect_args, pool_pre_ping=True)


@contextmanager
def translated(action: str, engine: sa.Engine) -> Iterator[None]:
    """Turn SQLAlchemy errors raised inside into a StoreError ``"{action}: {reason}"``."""
    try:
        yield
    except sa_exc.SQLAlchemyError as exc:
        raise to_store_error(action, exc, engine) from exc


def to_store_error(action: str, exc: Exception, engine: sa.Engine, *, hint: str | None = None) -> StoreError:
    """A StoreError ``"{action}: {reason}"`` for ``exc``, with ``hint`` or one guessed
    from the reason. Shows the driver's first line only: never the SQL parameters
    (responses, manifests) nor a password from the URL."""
    orig = getattr(exc, "orig", None) or exc
    reason = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    return StoreError(f"{action}: {reason}", hint=hint or _hint(reason.lower(), engine))


def _hint(reason: str, engine: sa.Engine) -> str:
    where = engine.url.render_as_string(hide_password=True)
    if engine.dialect.name == "sqlite":
        path = engine.url.database
        if "unable to open" in reason or "readonly" in reason or "read-only" in reason:
            return f"check that you can write to {path} and its folder (SQLite keeps -wal and -shm files beside it)"
        if "locked" in reason or "busy" in reason:
            return (
                f"another process kept {path} locked for {_BUSY_TIMEOUT_MS // 1000} s; "
                "try again, or use PostgreSQL for many writers"
            )
        if "not a database" in reason or "malformed" in reason:
            return f"{path} is not a SQLite database of the harness; pass --db with another path"
    elif "connection" in reason or "timeout" in reason or "could not" in reason:
        return (
            f"check that PostgreSQL is running and reachable at {engine.url.host or 'localhost'}:"
            f"{engine.url.port or 5432}, and that the user, password and database in {where} are right"
        )
    return f"check the database at {where}"
