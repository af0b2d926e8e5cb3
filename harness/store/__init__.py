"""The run store: runs and their attempt results in SQLite (default) or PostgreSQL.

``Store`` loads lazily: importing SQLAlchemy takes a noticeable part of a second, which
commands that never open a database should not pay. Import ``Store`` where it is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._records import RUN_STATUSES, RunRecord, RunStatus

if TYPE_CHECKING:
    from ._db import Store

__all__ = ["RUN_STATUSES", "RunRecord", "RunStatus", "Store"]


def __getattr__(name: str) -> Any:
    if name == "Store":
        from ._db import Store

        return Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
