"""Each result's grader confidence and flags (``degenerate``, ``judged``): the refusal
grader v3 labels every reply with a calibrated confidence and marks replies with nothing
usable, which the metrics count per suite, category and language.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("confidence", sa.Float))
        batch.add_column(sa.Column("flags", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("results") as batch:
        batch.drop_column("flags")
        batch.drop_column("confidence")
