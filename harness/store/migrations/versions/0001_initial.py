"""The first schema: runs and their attempt results.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.Column("finished_at", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("stop_reason", sa.Text),
        sa.Column("inputs_sha256", sa.Text, nullable=False),
        sa.Column("manifest", sa.JSON, nullable=False),
        sa.Column("verdict", sa.Text),
        sa.Column("report", sa.JSON),
        sa.CheckConstraint("status IN ('created', 'running', 'stopped', 'finished', 'aborted')", name="ck_runs_status"),
    )
    op.create_table(
        "results",
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("suite", sa.Text, nullable=False),
        sa.Column("case_id", sa.Text, nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("lang", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("label", sa.Text),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("response", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("error_kind", sa.Text),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("tries", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "key", name="pk_results"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_results_run", ondelete="CASCADE"),
        sa.CheckConstraint("status IN ('pass', 'fail', 'error')", name="ck_results_status"),
    )
    op.create_index(
        "ix_results_aggregate",
        "results",
        ["run_id", "suite", "category", "lang", "status", "label", "error_kind"],
    )


def downgrade() -> None:
    op.drop_table("results")
    op.drop_table("runs")
