"""Bringing a database to the schema this harness expects.

Opening a store happens on every command, so the usual case (the database is already
at :data:`HEAD`) costs one query and does not import Alembic, which takes longer to
import than the rest of the harness. Only a new or older database runs Alembic.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from harness.errors import StoreError

from ._engine import WRITE_LOCK

#: The newest revision under migrations/versions; a test keeps the two in step.
HEAD = "0006"

MIGRATIONS = Path(__file__).with_name("migrations")

# Any fixed number: PostgreSQL advisory lock that serialises migrations, so that two
# workers starting on an empty database do not both create the tables.
_PG_LOCK_KEY = 0x6861726E657373  # "harness"


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at, or None when it has none (a new database).

    A failing query also counts as none: the migration that follows then meets the
    same problem and reports it properly.
    """
    with engine.connect() as conn:
        try:
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        except sa_exc.DBAPIError:
            return None


def upgrade(engine: sa.Engine) -> None:
    """Run Alembic up to head in one transaction that holds the write lock, so that a
    concurrent opener waits, then finds the schema in place and does nothing."""
    from alembic import command
    from alembic.config import Config
    from alembic.util import CommandError

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        conn.execution_options(**{WRITE_LOCK: True})
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            config.attributes["connection"] = conn
            try:
                command.upgrade(config, "head")
            except CommandError as exc:
                raise StoreError(
                    f"cannot migrate the run store: {exc}",
                    hint="the database was probably written by a newer harness; upgrade the harness",
                ) from exc
