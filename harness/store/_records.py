"""What the store hands back about a run.

Kept free of SQLAlchemy so that ``import harness.store`` stays cheap: commands that
never open a database (``--help``, ``validate``, ``grade``) should not pay for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

RunStatus = Literal["created", "running", "stopped", "finished", "aborted"]
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One row of the ``runs`` table.

    Times are ISO 8601 UTC strings of fixed width (``2025-01-31T12:00:00.000000Z``), so
    they read the same from SQLite and PostgreSQL and sort as they read.
    """

    id: str
    status: RunStatus
    created_at: str
    updated_at: str
    finished_at: str | None
    stop_reason: str | None
    inputs_sha256: str
    manifest: dict[str, Any]
    verdict: str | None
    report: dict[str, Any] | None
