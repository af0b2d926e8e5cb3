"""The run store: runs and their attempt results, in SQLite or PostgreSQL.

SQLAlchemy Core rather than the ORM: results are written by the thousand per second
and read back by the hundred thousand, and Core with executemany costs a fraction of
what ORM objects would. Every public method is one short transaction on a pooled
connection, so one Store serves one writer thread and, in the server, several readers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime
from operator import attrgetter
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from harness.errors import StoreError
from harness.models import AttemptResult, Status

from ._engine import WRITE_LOCK, make_engine, to_store_error, translated
from ._migrate import HEAD, current_revision, upgrade
from ._records import RUN_STATUSES, RunRecord, RunStatus
from ._schema import RESULT_FIELDS
from ._schema import audit as audit_t
from ._schema import results as results_t
from ._schema import reviews as reviews_t
from ._schema import runs as runs_t

# Every column of runs but the report, in RunRecord's order.
_RUN_COLUMNS = tuple(runs_t.c[f.name] for f in fields(RunRecord) if f.name != "report")
_RESULT_COLUMNS = ("run_id", "created_at", *RESULT_FIELDS)
_result_values = attrgetter(*RESULT_FIELDS)
_STREAM_BATCH = 1000
# PostgreSQL advisory lock that serialises audit appends (SQLite: BEGIN IMMEDIATE).
# An advisory lock rather than SELECT ... FOR UPDATE, which locks nothing while the
# log is empty.
_PG_AUDIT_LOCK_KEY = 0x6861726E657374  # "harnest"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Store:
    """Runs and their results. Make one with :meth:`open`; close it (or use ``with``)."""

    def __init__(self, engine: sa.Engine) -> None:
        """Use :meth:`open`, which also migrates the database."""
        self._engine = engine
        #: The database URL, password hidden: safe to print.
        self.url: str = engine.url.render_as_string(hide_password=True)
        if engine.dialect.name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        # ON CONFLICT DO NOTHING on the key only: unlike INSERT OR IGNORE it still
        # fails loudly on a bad status or an unknown run.
        self._insert_results = insert(results_t).on_conflict_do_nothing(index_elements=["run_id", "key"])

    @classmethod
    def open(cls, url: str) -> Store:
        """Open the store at ``url`` (``sqlite:///runs.db``, a bare path, or
        ``postgresql://...``), creating and migrating it as needed."""
        engine = make_engine(url)
        try:
            with translated("cannot open the run store", engine):
                if current_revision(engine) != HEAD:
                    upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    def close(self) -> None:
        """Close the pooled connections."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def _connection(self, action: str, *, write: bool = False) -> Iterator[sa.Connection]:
        """A pooled connection, in a transaction committed at the end when ``write``;
        database errors inside become StoreErrors that start with ``action``."""
        with translated(action, self._engine), self._engine.begin() if write else self._engine.connect() as conn:
            yield conn

    @contextmanager
    def transaction(self, action: str, *, lock: bool = False) -> Iterator[sa.Connection]:
        """A connection in one transaction, committed at the end, for the platform's
        tables (harness.store.tables); ``lock`` takes the store's write lock first (SQLite:
        BEGIN IMMEDIATE), so a read-then-write cannot race another writer. Database errors
        become StoreErrors that start with ``action``."""
        with translated(action, self._engine), self._engine.connect() as conn:
            if lock:
                conn.execution_options(**{WRITE_LOCK: True})
            with conn.begin():
                yield conn

    # -- runs ---------------------------------------------------------------------

    def create_run(self, run_id: str, manifest: dict[str, Any], inputs_sha256: str) -> None:
        """Record a new run with status ``created``; a StoreError if the id is taken."""
        now = _now()
        row = {
            "id": run_id,
            "created_at": now,
            "updated_at": now,
            "status": "created",
            "inputs_sha256": inputs_sha256,
            "manifest": manifest,
        }
        try:
            with self._engine.begin() as conn:
                conn.execute(runs_t.insert(), row)
        except sa_exc.IntegrityError as exc:
            raise StoreError(
                f"a run with id {run_id!r} already exists",
                hint=f"choose another --run-id, or continue that run with --resume {run_id}",
            ) from exc
        except sa_exc.SQLAlchemyError as exc:
            raise to_store_error(f"cannot create run {run_id!r}", exc, self._engine) from exc

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run with this id, report included, or None."""
        with self._connection(f"cannot read run {run_id!r}") as conn:
            row = conn.execute(sa.select(*_RUN_COLUMNS, runs_t.c.report).where(runs_t.c.id == run_id)).first()
        return None if row is None else RunRecord(*row)

    def list_runs(self, limit: int = 50) -> list[RunRecord]:
        """The newest ``limit`` runs, newest first; ``report`` is left out (None) to keep
        listings cheap: :meth:`get_run` has it."""
        query = sa.select(*_RUN_COLUMNS).order_by(runs_t.c.created_at.desc(), runs_t.c.id.desc()).limit(limit)
        with self._connection("cannot list runs") as conn:
            return [RunRecord(*row, None) for row in conn.execute(query)]

    def set_status(
        self,
        run_id: str,
        status: RunStatus,
        *,
        stop_reason: str | None = None,
        verdict: str | None = None,
        report: dict[str, Any] | None = None,
        finished: bool = False,
    ) -> None:
        """Move a run to ``status``. ``stop_reason`` describes the new status, so it is
        always written (None clears it); ``verdict`` and ``report`` are written only when
        given; ``finished`` stamps ``finished_at``."""
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}; expected one of {', '.join(RUN_STATUSES)}")
        now = _now()
        values: dict[str, Any] = {"status": status, "updated_at": now, "stop_reason": stop_reason}
        if verdict is not None:
            values["verdict"] = verdict
        if report is not None:
            values["report"] = report
        if finished:
            values["finished_at"] = now
        with self._connection(f"cannot update run {run_id!r}", write=True) as conn:
            updated = conn.execute(runs_t.update().where(runs_t.c.id == run_id).values(values)).rowcount
        if not updated:
            raise StoreError(f"there is no run {run_id!r} in {self.url}", hint="check the run id")

    # -- results ------------------------------------------------------------------

    def add_results(self, run_id: str, results: Sequence[AttemptResult]) -> int:
        """Store a batch of results in one transaction; keys already stored for the run
        are skipped, so a batch may be written twice. Returns how many rows were new."""
        if not results:
            return 0
        prefix = (run_id, _now())
        rows = [dict(zip(_RESULT_COLUMNS, prefix + _result_values(r), strict=True)) for r in results]
        try:
            with self._engine.begin() as conn:
                return conn.execution_options(preserve_rowcount=True).execute(self._insert_results, rows).rowcount
        except sa_exc.SQLAlchemyError as exc:
            hint = None
            if isinstance(exc, sa_exc.IntegrityError):
                hint = "the run must exist (create_run) and each status must be pass, fail or error"
            raise to_store_error(f"cannot store results of run {run_id!r}", exc, self._engine, hint=hint) from exc

    def done_keys(self, run_id: str) -> set[str]:
        """The keys of the run's stored attempts: what a resumed run skips."""
        query = sa.select(results_t.c.key).where(results_t.c.run_id == run_id)
        with self._connection(f"cannot read results of run {run_id!r}") as conn:
            return set(conn.execute(query).scalars())

    def count_results(self, run_id: str) -> int:
        """How many attempts of the run are stored."""
        query = sa.select(sa.func.count()).select_from(results_t).where(results_t.c.run_id == run_id)
        with self._connection(f"cannot count results of run {run_id!r}") as conn:
            return conn.execute(query).scalar_one()

    def aggregate(self, run_id: str) -> list[tuple[str, str, str, Status, str | None, str | None, int]]:
        """Counts of the run's attempts per (suite, category, lang, status, label,
        error_kind), sorted by those; metrics come from these without loading rows."""
        c = results_t.c
        groups = (c.suite, c.category, c.lang, c.status, c.label, c.error_kind)
        query = (
            sa.select(*groups, sa.func.count())
            .where(c.run_id == run_id)
            .group_by(*groups)
            .order_by(*(g.asc().nulls_first() for g in groups))
        )
        with self._connection(f"cannot aggregate results of run {run_id!r}") as conn:
            return [tuple(row) for row in conn.execute(query)]

    def flag_counts(self, run_id: str) -> list[tuple[str, str, str, str, str, int]]:
        """(suite, category, lang, status, flags, count) of the run's flagged attempts (a
        grader's marks, comma-separated: ``degenerate``, ``judged``), for the metrics."""
        c = results_t.c
        groups = (c.suite, c.category, c.lang, c.status, c.flags)
        query = (sa.select(*groups, sa.func.count()).where(c.run_id == run_id, c.flags.is_not(None))
                 .group_by(*groups).order_by(*groups))
        with self._connection(f"cannot count flags of run {run_id!r}") as conn:
            return [tuple(row) for row in conn.execute(query)]

    def measures(self, run_id: str) -> list[tuple[str, str, float, float, int]]:
        """(suite, category, min, max, count) of the run's measured values, per group
        that has any (robot suites measure each attempt: ``ssm_margin_mm``...)."""
        c = results_t.c
        query = (sa.select(c.suite, c.category, sa.func.min(c.measure), sa.func.max(c.measure), sa.func.count(c.measure))
                 .where(c.run_id == run_id, c.measure.is_not(None)).group_by(c.suite, c.category)
                 .order_by(c.suite, c.category))
        with self._connection(f"cannot read measures of run {run_id!r}") as conn:
            return [tuple(row) for row in conn.execute(query)]

    def iter_results(
        self, run_id: str, *, status: Status | None = None, limit: int | None = None
    ) -> Iterator[AttemptResult]:
        """The run's attempts in key order, optionally only those with ``status``,
        fetched in batches so memory stays flat however large the run."""
        query = sa.select(*(results_t.c[f] for f in RESULT_FIELDS)).where(results_t.c.run_id == run_id)
        if status is not None:
            query = query.where(results_t.c.status == status)
        query = query.order_by(results_t.c.key).limit(limit)
        with self._connection(f"cannot read results of run {run_id!r}") as conn:
            for row in conn.execution_options(yield_per=_STREAM_BATCH).execute(query):
                yield AttemptResult(*row)

    def outcomes(self, run_id: str) -> Iterator[tuple[str, str, int, str]]:
        """(suite, case_id, epoch, status) of every attempt, in key order, without the
        responses: one line per case in the reports."""
        c = results_t.c
        query = (sa.select(c.suite, c.case_id, c.epoch, c.status)
                 .where(c.run_id == run_id).order_by(c.key))
        with self._connection(f"cannot read results of run {run_id!r}") as conn:
            for row in conn.execution_options(yield_per=_STREAM_BATCH).execute(query):
                yield tuple(row)

    # -- reviews --------------------------------------------------------------------

    def add_reviews(self, run_id: str, rows: Sequence[dict[str, Any]]) -> int:
        """Append people's labels (``key``, ``label``, ``grader_label``, ``reviewer``,
        optional ``acceptable`` and ``note``) in one transaction; earlier labels of a key
        stay stored and the newest counts. Returns how many were added."""
        if not rows:
            return 0
        now = _now()
        values = [{"run_id": run_id, "key": r["key"], "label": r["label"], "grader_label": r.get("grader_label"),
                   "acceptable": r.get("acceptable"), "reviewer": r["reviewer"], "note": r.get("note"),
                   "created_at": now} for r in rows]
        with self._connection(f"cannot store reviews of run {run_id!r}", write=True) as conn:
            conn.execute(reviews_t.insert(), values)
        return len(values)

    def _latest_reviews(self, run_id: str) -> Any:
        """The newest review of each key of the run, as a subquery."""
        r = reviews_t.c
        newest = (sa.select(r.key, sa.func.max(r.seq).label("seq")).where(r.run_id == run_id)
                  .group_by(r.key).subquery())
        return (sa.select(r.key, r.label, r.acceptable, r.reviewer, r.created_at)
                .join(newest, sa.and_(r.key == newest.c.key, r.seq == newest.c.seq)).subquery())

    def reviews(self, run_id: str) -> dict[str, dict[str, Any]]:
        """The answer that counts for each reviewed key: ``{key: {label, acceptable,
        reviewer, at}}``."""
        latest = self._latest_reviews(run_id)
        with self._connection(f"cannot read reviews of run {run_id!r}") as conn:
            return {key: {"label": label, "acceptable": acceptable, "reviewer": who, "at": at}
                    for key, label, acceptable, who, at in conn.execute(sa.select(latest))}

    def review_counts(self, run_id: str
                      ) -> list[tuple[str, str, str, str, str | None, str | None, str, bool | None, int]]:
        """(suite, category, lang, status, grader label, error_kind, person's label,
        acceptable, count) over the reviewed attempts, newest review of each: what the
        metrics need for prediction-powered rates, the grader's agreement with people and
        the acceptable share that people found."""
        latest = self._latest_reviews(run_id)
        c = results_t.c
        groups = (c.suite, c.category, c.lang, c.status, c.label, c.error_kind, latest.c.label, latest.c.acceptable)
        query = (sa.select(*groups, sa.func.count()).select_from(results_t.join(latest, latest.c.key == c.key))
                 .where(c.run_id == run_id).group_by(*groups).order_by(*(g.asc().nulls_first() for g in groups)))
        with self._connection(f"cannot count reviews of run {run_id!r}") as conn:
            return [tuple(row) for row in conn.execute(query)]

    # -- audit log ------------------------------------------------------------------

    def append_audit(self, actor: str, action: str, subject: str, data: Any = None) -> dict[str, Any]:
        """Append an entry to the audit log and return it (seq, at, actor, action,
        subject, data, prev_sha256, sha256). The last entry's hash is read and the new
        entry written in one transaction under the write lock, so concurrent writers,
        in this process or others, form one chain."""
        from harness.audit import GENESIS, entry_hash, normalise

        data = normalise({} if data is None else data)
        with translated(f"cannot append to the audit log ({action} {subject})", self._engine):
            with self._engine.connect() as conn:
                conn.execution_options(**{WRITE_LOCK: True})
                with conn.begin():
                    if conn.dialect.name == "postgresql":
                        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_AUDIT_LOCK_KEY})
                    last = conn.execute(
                        sa.select(audit_t.c.seq, audit_t.c.sha256).order_by(audit_t.c.seq.desc()).limit(1)
                    ).first()
                    seq, prev = (1, GENESIS) if last is None else (last.seq + 1, last.sha256)
                    entry = {"seq": seq, "at": _now(), "actor": actor, "action": action, "subject": subject,
                             "data": data, "prev_sha256": prev}
                    entry["sha256"] = entry_hash(prev, seq, entry["at"], actor, action, subject, data)
                    conn.execute(audit_t.insert(), entry)
        return entry

    def iter_audit(self, *, after: int = 0, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """The audit log's entries in seq order, those after seq ``after`` (at most
        ``limit``), fetched in batches."""
        columns = ("seq", "at", "actor", "action", "subject", "data", "prev_sha256", "sha256")
        query = (sa.select(*(audit_t.c[c] for c in columns)).where(audit_t.c.seq > after)
                 .order_by(audit_t.c.seq).limit(limit))
        with self._connection("cannot read the audit log") as conn:
            for row in conn.execution_options(yield_per=_STREAM_BATCH).execute(query):
                yield dict(zip(columns, row, strict=True))
