"""The audit log: hash-chained entries, one per state change.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("prev_sha256", sa.Text, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.UniqueConstraint("sha256", name="uq_audit_sha256"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("audit")
