"""The certification platform: organisations, users, API tokens, targets, uploaded
documents, queued jobs with their shards, and certificates; and each result's value of
its suite's measure (robot suites: ssm_margin_mm...).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("measure", sa.Float))
    op.create_table(
        "orgs",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("name", name="uq_orgs_name"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("org_id", sa.Text, sa.ForeignKey("orgs.id", name="fk_users_org"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.CheckConstraint("role IN ('certifier', 'applicant')", name="ck_users_role"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("user_id", sa.Text, sa.ForeignKey("users.id", name="fk_tokens_user"), nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("revoked_at", sa.Float),
        sa.UniqueConstraint("sha256", name="uq_tokens_sha256"),
    )
    op.create_table(
        "targets",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("org_id", sa.Text, sa.ForeignKey("orgs.id", name="fk_targets_org"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("connector", sa.Text, nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("secret", sa.LargeBinary),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("deleted_at", sa.Float),
    )
    op.create_table(
        "documents",
        sa.Column("sha256", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("doc_id", sa.Text, nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.CheckConstraint("kind IN ('suite', 'profile')", name="ck_documents_kind"),
    )
    op.create_index("ix_documents_kind_id", "documents", ["kind", "doc_id", "created_at"])
    op.create_table(
        "jobs",
        sa.Column("run_id", sa.Text, sa.ForeignKey("runs.id", name="fk_jobs_run", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("org_id", sa.Text, sa.ForeignKey("orgs.id", name="fk_jobs_org"), nullable=False),
        sa.Column("target_id", sa.Text, sa.ForeignKey("targets.id", name="fk_jobs_target"), nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("done", sa.Integer),
        sa.Column("errors", sa.Integer),
        sa.Column("shards", sa.Integer, nullable=False),
        sa.Column("finisher", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("decision", sa.Text),
        sa.Column("decision_note", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.CheckConstraint("state IN ('queued', 'running', 'finished', 'cancelled', 'failed')", name="ck_jobs_state"),
    )
    op.create_index("ix_jobs_org", "jobs", ["org_id", "created_at"])
    op.create_index("ix_jobs_state", "jobs", ["state"])
    op.create_table(
        "shards",
        sa.Column("run_id", sa.Text, sa.ForeignKey("jobs.run_id", name="fk_shards_job", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("idx", sa.Integer, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("owner", sa.Text),
        sa.Column("heartbeat", sa.Float),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("run_id", "idx", name="pk_shards"),
        sa.CheckConstraint("state IN ('queued', 'running', 'sent', 'done')", name="ck_shards_state"),
    )
    op.create_table(
        "certificates",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("run_id", sa.Text, sa.ForeignKey("runs.id", name="fk_certificates_run"), nullable=False),
        sa.Column("org_id", sa.Text, sa.ForeignKey("orgs.id", name="fk_certificates_org"), nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("issued_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("revoked_at", sa.Float),
        sa.Column("revoked_reason", sa.Text),
    )


def downgrade() -> None:
    with op.batch_alter_table("results") as batch:
        batch.drop_column("measure")
    op.drop_table("certificates")
    op.drop_table("shards")
    op.drop_table("jobs")
    op.drop_table("documents")
    op.drop_table("targets")
    op.drop_table("tokens")
    op.drop_table("users")
    op.drop_table("orgs")
