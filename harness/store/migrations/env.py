"""Alembic environment of the run store.

``Store.open`` runs it with a connection already inside a transaction, passed as
``config.attributes["connection"]``; Alembic then adds no transaction of its own. When
there is none (a developer running the ``alembic`` command against a scratch
database, ``sqlalchemy.url`` in their own alembic.ini, to autogenerate the next
revision), it connects to that URL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from harness.store._schema import metadata


def _run(connection: sa.Connection) -> None:
    # Batch mode renders ALTERs that SQLite cannot do as copy-and-move; PostgreSQL runs
    # the same operations directly.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    with sa.create_engine(context.config.get_main_option("sqlalchemy.url")).connect() as connection:
        _run(connection)
