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
    sa.Column("measure", sa.Float),
    sa.Column("confidence", sa.Float),
    sa.Column("flags", sa.Text),
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

#: People's labels of attempts (the reviewed sample of issue 13): appended, never edited;
#: a correction is a new row, and the newest row of a (run, key) is the one that counts.
#: ``grader_label`` keeps what the grader said when the person labelled, for the audit.
reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Text, sa.ForeignKey("runs.id", name="fk_reviews_run", ondelete="CASCADE"), nullable=False),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("grader_label", sa.Text),
    # the person's second answer where the profile asks it (x-profile.review.content):
    # is the reply acceptable content (TC260-003 9)? None where it was not asked
    sa.Column("acceptable", sa.Boolean),
    sa.Column("reviewer", sa.Text, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Index("ix_reviews_run_key", "run_id", "key", "seq"),
    sqlite_autoincrement=True,
)

# -- the certification platform (harness serve) ----------------------------------------
# Times here are epoch seconds (float): leases and expiry are compared as numbers.

#: Organisations: the sandbox's own (certifiers) and applicant companies.
orgs = sa.Table(
    "orgs",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("name", name="uq_orgs_name"),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("org_id", sa.Text, sa.ForeignKey("orgs.id", name="fk_users_org"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.CheckConstraint("role IN ('certifier', 'applicant')", name="ck_users_role"),
)

#: API tokens: only the sha256 of each is kept; the token is shown once.
tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("user_id", sa.Text, sa.ForeignKey("users.id", name="fk_tokens_user"), nullable=False),
    sa.Column("sha256", sa.Text, nullable=False),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float),
    sa.UniqueConstraint("sha256", name="uq_tokens_sha256"),
)

#: Targets registered by applicants; the API key is encrypted with the server's key.
targets = sa.Table(
    "targets",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("org_id", sa.Text, sa.ForeignKey("orgs.id", name="fk_targets_org"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("connector", sa.Text, nullable=False),
    sa.Column("settings", sa.JSON, nullable=False),
    sa.Column("secret", sa.LargeBinary),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("deleted_at", sa.Float),
)

#: Suites and profiles uploaded by certifiers, immutable, addressed by their sha256.
documents = sa.Table(
    "documents",
    metadata,
    sa.Column("sha256", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("doc_id", sa.Text, nullable=False),
    sa.Column("version", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.CheckConstraint("kind IN ('suite', 'profile')", name="ck_documents_kind"),
    sa.Index("ix_documents_kind_id", "kind", "doc_id", "created_at"),
)

#: A run asked for through the service: who asked, for which target, and where the
#: queue is with it. The run itself (manifest, results, report) is in runs/results.
jobs = sa.Table(
    "jobs",
    metadata,
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
    sa.Index("ix_jobs_org", "org_id", "created_at"),
    sa.Index("ix_jobs_state", "state"),
)

#: The shards of a job: each a share of its attempts, leased by one worker at a time.
shards = sa.Table(
    "shards",
    metadata,
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

#: Certificates issued for PASS runs, signed; revocation is a stamp, never a delete.
certificates = sa.Table(
    "certificates",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("run_id", sa.Text, sa.ForeignKey("runs.id", name="fk_certificates_run"), nullable=False),
    sa.Column("org_id", sa.Text, sa.ForeignKey("orgs.id", name="fk_certificates_org"), nullable=False),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("issued_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float),
    sa.Column("revoked_reason", sa.Text),
)
