"""A reviewed reply's second answer: whether its content is acceptable, the manual
sampling of generated content that GB/T 45654-2025 (TC260-003 9) asks for. Null where
the profile did not ask.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(sa.Column("acceptable", sa.Boolean))


def downgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.drop_column("acceptable")
