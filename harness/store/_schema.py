"""The store's tables as SQLAlchemy Core objects, which the queries are built from.

Migrations do not import this module (a revision is a frozen copy of the schema of its
day); a test checks that the migrated database matches what is declared here.
"""

from __future__ import annotations

from dataclasses import fields

import sqlalchemy as sa

from harness.models import AttemptResult

from ._records import RUN_STATUSES

metadata = sa.MetaData()

runs = sa.Table(
    "runs",
    metadata,
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
    sa.CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in RUN_STATUSES) + ")", name="ck_runs_status"),
)

results = sa.Table(
    "results",
    metadata,
    sa.Column("run_id", sa.Text, sa.ForeignKey("runs.id", name="fk_results_run", ondelete="CASCADE"), nullable=False),
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
    sa.CheckConstraint("status IN ('pass', 'fail', 'error')", name="ck_results_status"),
    # Covers aggregate(): the GROUP BY reads this index only, never the rows with
    # their long responses.
    sa.Index("ix_results_aggregate", "run_id", "suite", "category", "lang", "status", "label", "error_kind"),
)

#: AttemptResult's fields in declaration order: rows selected in this order rebuild
#: an AttemptResult positionally, the cheapest way to make one.
RESULT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(AttemptResult))

#: The audit log: one row per state change, each hash-chained to the one before it
#: (see harness.audit). Rows are only ever appended.
audit = sa.Table(
    "audit",
    metadata,
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
