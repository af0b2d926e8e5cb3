"""The platform's tables (organisations, users, tokens, targets, documents, jobs,
shards, certificates) over the run store's database.

Tenant isolation lives here, once: every read of a tenant's rows takes the caller and
adds ``org_id = caller.org_id`` unless the caller is a certifier. An id of another
organisation's row is "not found", exactly like an id that does not exist.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from harness.errors import Conflict, HarnessError, NotFound
from harness.store import Store
from harness.store.tables import (
    certificates,
    documents,
    jobs,
    orgs,
    results,
    runs,
    shards,
    targets,
    tokens,
    users,
)

from . import vault

ROLES = ("certifier", "applicant")
#: job states after which nothing more happens
FINAL_STATES = ("finished", "cancelled", "failed")




@dataclass(frozen=True)
class Caller:
    """Who is asking: from their token."""

    user_id: str
    user_name: str
    org_id: str
    role: str
    token_id: str

    @property
    def certifier(self) -> bool:
        return self.role == "certifier"

    @property
    def actor(self) -> str:
        """The name the audit log gives this caller."""
        return f"user:{self.user_id}({self.user_name})"


def _row(row: Any) -> dict[str, Any] | None:
    return None if row is None else dict(row._mapping)


class Platform:
    """The platform's data, over an open :class:`Store` (which it does not close)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._tx = store.transaction

    def _scope(self, query: Any, column: Any, caller: Caller | None) -> Any:
        return query if caller is None or caller.certifier else query.where(column == caller.org_id)

    def _one(self, query: Any, what: str) -> dict[str, Any]:
        """The one row ``query`` finds, or NotFound("no {what}"): the same answer for a
        row that does not exist and for one the caller may not see."""
        with self._tx(f"cannot read {what}") as conn:
            row = _row(conn.execute(query).first())
        if row is None:
            raise NotFound(f"no {what}")
        return row

    # -- organisations, users, tokens ---------------------------------------------------

    def create_org(self, name: str) -> dict[str, Any]:
        row = {"id": vault.new_id("org"), "name": name, "created_at": time.time()}
        with self._tx("cannot create the organisation") as conn:
            if conn.execute(sa.select(orgs.c.id).where(orgs.c.name == name)).first():
                raise Conflict(f"an organisation named {name!r} exists", hint="choose another name")
            conn.execute(orgs.insert(), row)
        return row

    def list_orgs(self, caller: Caller) -> list[dict[str, Any]]:
        query = self._scope(sa.select(orgs).order_by(orgs.c.created_at, orgs.c.id), orgs.c.id, caller)
        with self._tx("cannot list organisations") as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def get_org(self, org_id: str, caller: Caller | None = None) -> dict[str, Any]:
        query = self._scope(sa.select(orgs).where(orgs.c.id == org_id), orgs.c.id, caller)
        return self._one(query, f"organisation {org_id}")

    def create_user(self, org_id: str, name: str, role: str) -> dict[str, Any]:
        if role not in ROLES:
            raise HarnessError(f"unknown role {role!r}", hint=f"use one of: {', '.join(ROLES)}")
        self.get_org(org_id)
        row = {"id": vault.new_id("usr"), "org_id": org_id, "name": name, "role": role, "created_at": time.time()}
        with self._tx("cannot create the user") as conn:
            conn.execute(users.insert(), row)
        return row

    def get_user(self, user_id: str, caller: Caller | None = None) -> dict[str, Any]:
        query = self._scope(sa.select(users).where(users.c.id == user_id), users.c.org_id, caller)
        return self._one(query, f"user {user_id}")

    def list_users(self, caller: Caller, org_id: str | None = None) -> list[dict[str, Any]]:
        query = self._scope(sa.select(users), users.c.org_id, caller).order_by(users.c.created_at, users.c.id)
        if org_id:
            query = query.where(users.c.org_id == org_id)
        with self._tx("cannot list users") as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def create_token(self, user_id: str, label: str = "") -> tuple[dict[str, Any], str]:
        """A new token for the user: (its row, the token itself, shown only now)."""
        token = vault.new_token()
        row = {"id": vault.new_id("tok"), "user_id": user_id, "sha256": vault.token_hash(token), "label": label,
               "created_at": time.time(), "revoked_at": None}
        with self._tx("cannot create the token") as conn:
            conn.execute(tokens.insert(), row)
        return row, token

    def list_tokens(self, user_id: str) -> list[dict[str, Any]]:
        query = (sa.select(tokens.c.id, tokens.c.user_id, tokens.c.label, tokens.c.created_at, tokens.c.revoked_at)
                 .where(tokens.c.user_id == user_id).order_by(tokens.c.created_at))
        with self._tx("cannot list tokens") as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def get_token(self, token_id: str, caller: Caller) -> dict[str, Any]:
        """A token's row (no hash), if the caller may manage it: their own, or as a
        certifier any."""
        query = (sa.select(tokens.c.id, tokens.c.user_id, tokens.c.label, tokens.c.created_at,
                           tokens.c.revoked_at, users.c.org_id)
                 .join(users, users.c.id == tokens.c.user_id).where(tokens.c.id == token_id))
        if not caller.certifier:
            query = query.where(tokens.c.user_id == caller.user_id)
        return self._one(query, f"token {token_id}")

    def revoke_token(self, token_id: str, caller: Caller) -> dict[str, Any]:
        row = self.get_token(token_id, caller)
        if row["revoked_at"] is None:
            row["revoked_at"] = time.time()
            with self._tx("cannot revoke the token") as conn:
                conn.execute(tokens.update().where(tokens.c.id == token_id).values(revoked_at=row["revoked_at"]))
        return row

    def authenticate(self, token: str) -> Caller | None:
        """The caller a token belongs to, or None (unknown or revoked)."""
        query = (sa.select(tokens.c.id, tokens.c.revoked_at, users.c.id.label("user_id"), users.c.name,
                           users.c.org_id, users.c.role)
                 .join(users, users.c.id == tokens.c.user_id).where(tokens.c.sha256 == vault.token_hash(token)))
        with self._tx("cannot check the token") as conn:
            row = conn.execute(query).first()
        if row is None or row.revoked_at is not None:
            return None
        return Caller(row.user_id, row.name, row.org_id, row.role, row.id)

    def has_users(self) -> bool:
        with self._tx("cannot read users") as conn:
            return conn.execute(sa.select(users.c.id).limit(1)).first() is not None

    # -- targets --------------------------------------------------------------------------

    def create_target(self, org_id: str, name: str, connector: str, settings: dict[str, Any],
                      secret: bytes | None) -> dict[str, Any]:
        row = {"id": vault.new_id("tgt"), "org_id": org_id, "name": name, "connector": connector,
               "settings": settings, "secret": secret, "created_at": time.time(), "deleted_at": None}
        with self._tx("cannot store the target") as conn:
            conn.execute(targets.insert(), row)
        return row

    def list_targets(self, caller: Caller) -> list[dict[str, Any]]:
        query = self._scope(sa.select(targets).where(targets.c.deleted_at.is_(None)), targets.c.org_id, caller)
        with self._tx("cannot list targets") as conn:
            return [dict(r._mapping) for r in conn.execute(query.order_by(targets.c.created_at, targets.c.id))]

    def get_target(self, target_id: str, caller: Caller | None = None, *, deleted: bool = False) -> dict[str, Any]:
        query = self._scope(sa.select(targets).where(targets.c.id == target_id), targets.c.org_id, caller)
        if not deleted:
            query = query.where(targets.c.deleted_at.is_(None))
        return self._one(query, f"target {target_id}")

    def delete_target(self, target_id: str, caller: Caller) -> None:
        """Mark the target deleted and forget its secret; runs made with it stay."""
        self.get_target(target_id, caller)
        with self._tx("cannot delete the target") as conn:
            conn.execute(targets.update().where(targets.c.id == target_id)
                         .values(deleted_at=time.time(), secret=None))

    # -- uploaded suites and profiles --------------------------------------------------------

    def add_document(self, kind: str, doc_id: str, version: str, text: str, sha256: str,
                     created_by: str) -> tuple[dict[str, Any], bool]:
        """Store a suite or profile; (its row, whether it is new)."""
        row = {"sha256": sha256, "kind": kind, "doc_id": doc_id, "version": version, "text": text,
               "created_at": time.time(), "created_by": created_by}
        with self._tx("cannot store the document", lock=True) as conn:
            old = _row(conn.execute(sa.select(documents).where(documents.c.sha256 == sha256)).first())
            if old is not None:
                return old, False
            conn.execute(documents.insert(), row)
        return row, True

    def list_documents(self, kind: str) -> list[dict[str, Any]]:
        """The newest document of each id of this kind."""
        query = (sa.select(documents.c.doc_id, documents.c.version, documents.c.sha256, documents.c.created_at)
                 .where(documents.c.kind == kind).order_by(documents.c.doc_id, documents.c.created_at.desc()))
        out: dict[str, dict[str, Any]] = {}
        with self._tx("cannot list documents") as conn:
            for r in conn.execute(query):
                out.setdefault(r.doc_id, dict(r._mapping))
        return list(out.values())

    def newest_document(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        query = (sa.select(documents).where(documents.c.kind == kind, documents.c.doc_id == doc_id)
                 .order_by(documents.c.created_at.desc()).limit(1))
        with self._tx("cannot read the document") as conn:
            return _row(conn.execute(query).first())

    def document(self, sha256: str) -> dict[str, Any] | None:
        with self._tx("cannot read the document") as conn:
            return _row(conn.execute(sa.select(documents).where(documents.c.sha256 == sha256)).first())

    # -- jobs and shards ------------------------------------------------------------------------

    def create_job(self, run_id: str, org_id: str, target_id: str, requested_by: str, request: dict[str, Any],
                   total: int, shard_count: int) -> dict[str, Any]:
        now = time.time()
        row = {"run_id": run_id, "org_id": org_id, "target_id": target_id, "requested_by": requested_by,
               "request": request, "state": "queued", "total": total, "done": None, "errors": None,
               "shards": shard_count, "finisher": None,
               "error": None, "decision": None, "decision_note": None, "created_at": now, "updated_at": now}
        with self._tx("cannot queue the run") as conn:
            conn.execute(jobs.insert(), row)
            conn.execute(shards.insert(), [{"run_id": run_id, "idx": i, "state": "queued", "owner": None,
                                            "heartbeat": None, "attempts": 0} for i in range(shard_count)])
        return row

    def get_job(self, run_id: str, caller: Caller | None = None) -> dict[str, Any]:
        """The job with its run's verdict and status (not its report: status polls are
        frequent and a report can be megabytes)."""
        query = self._scope(sa.select(jobs, runs.c.verdict, runs.c.status.label("run_status"))
                            .join(runs, runs.c.id == jobs.c.run_id).where(jobs.c.run_id == run_id),
                            jobs.c.org_id, caller)
        return self._one(query, f"run {run_id}")

    def list_jobs(self, caller: Caller, *, states: tuple[str, ...] | None = None, limit: int = 100,
                  org_id: str | None = None) -> list[dict[str, Any]]:
        query = self._scope(sa.select(jobs, runs.c.verdict, runs.c.status.label("run_status"))
                            .join(runs, runs.c.id == jobs.c.run_id), jobs.c.org_id, caller)
        if states:
            query = query.where(jobs.c.state.in_(states))
        if org_id:
            query = query.where(jobs.c.org_id == org_id)
        query = query.order_by(jobs.c.created_at.desc(), jobs.c.run_id).limit(limit)
        with self._tx("cannot list runs") as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def set_job(self, run_id: str, **values: Any) -> None:
        values["updated_at"] = time.time()
        with self._tx("cannot update the run") as conn:
            conn.execute(jobs.update().where(jobs.c.run_id == run_id).values(values))

    def move_job(self, run_id: str, from_states: tuple[str, ...], to: str, **values: Any) -> bool:
        """Change the job's state only if it is in one of ``from_states``: the one
        atomic step that settles races between workers and a cancel."""
        with self._tx("cannot update the run") as conn:
            return conn.execute(jobs.update().where(jobs.c.run_id == run_id, jobs.c.state.in_(from_states))
                                .values(state=to, updated_at=time.time(), **values)).rowcount == 1

    def progress(self, run_id: str) -> dict[str, int]:
        """Attempts stored so far and how many were errors."""
        c = results.c
        query = (sa.select(sa.func.count(), sa.func.count().filter(c.status == "error"))
                 .where(c.run_id == run_id))
        with self._tx("cannot read progress") as conn:
            done, errors = conn.execute(query).one()
        return {"done": int(done), "errors": int(errors or 0)}

    def progress_of(self, run_ids: list[str]) -> dict[str, dict[str, int]]:
        """:meth:`progress` of many runs in one grouped query (a listing's live runs)."""
        if not run_ids:
            return {}
        c = results.c
        query = (sa.select(c.run_id, sa.func.count(), sa.func.count().filter(c.status == "error"))
                 .where(c.run_id.in_(run_ids)).group_by(c.run_id))
        with self._tx("cannot read progress") as conn:
            found = {r[0]: {"done": int(r[1]), "errors": int(r[2] or 0)} for r in conn.execute(query)}
        return {run_id: found.get(run_id, {"done": 0, "errors": 0}) for run_id in run_ids}

    def shards(self, run_id: str) -> list[dict[str, Any]]:
        with self._tx("cannot read shards") as conn:
            return [dict(r._mapping) for r in conn.execute(
                sa.select(shards).where(shards.c.run_id == run_id).order_by(shards.c.idx))]

    def claim(self, run_id: str, idx: int, owner: str, lease_s: float) -> bool:
        """Take the lease on a shard that is not done, if nobody holds a live one:
        a dead worker's lease runs out and the next claim wins it."""
        now = time.time()
        with self._tx("cannot claim the shard") as conn:
            return conn.execute(
                shards.update()
                .where(shards.c.run_id == run_id, shards.c.idx == idx, shards.c.state != "done",
                       sa.or_(shards.c.owner.is_(None), shards.c.owner == owner, shards.c.heartbeat < now - lease_s))
                .values(owner=owner, heartbeat=now, attempts=shards.c.attempts + 1,
                        state=sa.case((shards.c.state == "queued", "running"), else_=shards.c.state))
            ).rowcount == 1

    def renew(self, run_id: str, idx: int, owner: str) -> bool:
        """Renew the lease; False when another worker has taken the shard over."""
        with self._tx("cannot renew the lease") as conn:
            return conn.execute(shards.update().where(shards.c.run_id == run_id, shards.c.idx == idx,
                                                      shards.c.owner == owner)
                                .values(heartbeat=time.time())).rowcount == 1

    def set_shard(self, run_id: str, idx: int, owner: str, state: str, *, release: bool = False) -> None:
        values: dict[str, Any] = {"state": state}
        if release:
            values.update(owner=None, heartbeat=None)
        with self._tx("cannot update the shard") as conn:
            conn.execute(shards.update().where(shards.c.run_id == run_id, shards.c.idx == idx,
                                               shards.c.owner == owner).values(values))

    def elect_finisher(self, run_id: str, idx: int) -> bool:
        """Whether shard ``idx`` finishes the run: the first shard to see every shard
        sent wins, once; a shard that won keeps winning (its retry after a crash)."""
        pending = (sa.select(sa.func.count()).select_from(shards)
                   .where(shards.c.run_id == run_id, shards.c.state.not_in(("sent", "done"))).scalar_subquery())
        with self._tx("cannot elect the finisher", lock=True) as conn:
            if conn.execute(jobs.update().where(jobs.c.run_id == run_id, jobs.c.finisher.is_(None), pending == 0)
                            .values(finisher=idx)).rowcount:
                return True
            return conn.execute(sa.select(jobs.c.finisher).where(jobs.c.run_id == run_id)).scalar() == idx

    def runnable(self, lease_s: float, limit: int = 20) -> list[tuple[str, int]]:
        """Shards a worker may take now: of live jobs, not done, with no live lease."""
        now = time.time()
        query = (sa.select(shards.c.run_id, shards.c.idx).join(jobs, jobs.c.run_id == shards.c.run_id)
                 .where(jobs.c.state.in_(("queued", "running")), shards.c.state != "done",
                        sa.or_(shards.c.owner.is_(None), shards.c.heartbeat < now - lease_s))
                 .order_by(jobs.c.created_at, shards.c.idx).limit(limit))
        with self._tx("cannot read the queue") as conn:
            return [(r.run_id, r.idx) for r in conn.execute(query)]

    # -- certificates ---------------------------------------------------------------------------

    def add_certificate(self, row: dict[str, Any]) -> str | None:
        """Store a certificate unless its run already has one in force (not revoked, not
        expired at ``row["issued_at"]``): the check and the insert are one transaction
        under the write lock (SQLite) and the run's job row locked (PostgreSQL), so two
        certifiers issuing at once cannot both succeed. Returns the id in force that
        stopped it, or None when stored."""
        c = certificates.c
        with self._tx("cannot store the certificate", lock=True) as conn:
            conn.execute(sa.select(jobs.c.run_id).where(jobs.c.run_id == row["run_id"]).with_for_update())
            held = conn.execute(sa.select(c.id).where(c.run_id == row["run_id"], c.revoked_at.is_(None),
                                                      c.expires_at > row["issued_at"]).limit(1)).scalar()
            if held is not None:
                return str(held)
            conn.execute(certificates.insert(), row)
        return None

    def get_certificate(self, cert_id: str, caller: Caller | None = None) -> dict[str, Any]:
        query = self._scope(sa.select(certificates).where(certificates.c.id == cert_id),
                            certificates.c.org_id, caller)
        return self._one(query, f"certificate {cert_id}")

    def list_certificates(self, caller: Caller, run_id: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        query = self._scope(sa.select(certificates), certificates.c.org_id, caller)
        if run_id:
            query = query.where(certificates.c.run_id == run_id)
        with self._tx("cannot list certificates") as conn:
            return [dict(r._mapping) for r in conn.execute(query.order_by(certificates.c.issued_at.desc())
                                                           .limit(limit))]

    def revoke_certificate(self, cert_id: str, reason: str) -> bool:
        with self._tx("cannot revoke the certificate") as conn:
            return conn.execute(certificates.update().where(certificates.c.id == cert_id,
                                                            certificates.c.revoked_at.is_(None))
                                .values(revoked_at=time.time(), revoked_reason=reason)).rowcount == 1
