"""The HTTP API, ``/api/v1``, its routes: documented by its OpenAPI at ``/docs``. The
bodies are in :mod:`.schemas`; the caller, its role and the CSRF check in :mod:`.deps`.

Every route takes the caller from a bearer token (or the pages' cookie) and passes it
down to :mod:`.repo`, which scopes every read to the caller's organisation unless the
caller is a certifier. Handlers are plain functions: FastAPI runs them in its thread
pool, where the store's blocking calls belong.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import re
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from harness import audit as audit_chain
from harness.errors import ConfigError, HarnessError, SuiteError
from harness.netguard import check_url

from ..errors import Conflict, NotFound
from ..files import parse
from . import certificates, deps, jobs
from .deps import Certifier, Svc, Who
from .repo import FINAL_STATES, Caller
from .schemas import (
    ERRORS,
    AuditCheck,
    AuditEntry,
    Certificate,
    CertificateIn,
    CertificateStatus,
    DecisionIn,
    Document,
    DocumentIn,
    Id,
    Me,
    Org,
    OrgIn,
    ReviewIn,
    RevokeIn,
    Run,
    RunIn,
    TargetIn,
    TargetOut,
    Token,
    TokenCreated,
    TokenIn,
    User,
    UserIn,
)
from .service import KEY_ENV, Service

router = APIRouter(prefix="/api/v1", responses=ERRORS)


# -- who am I, organisations, users, tokens -------------------------------------------------


@router.get("/me", response_model=Me, tags=["identity"])
def me(svc: Svc, who: Who) -> dict[str, Any]:
    """The caller: user, organisation and the token in use."""
    return {"user": svc.platform.get_user(who.user_id), "org": svc.platform.get_org(who.org_id),
            "token_id": who.token_id}


@router.get("/orgs", response_model=list[Org], tags=["identity"])
def list_orgs(svc: Svc, who: Who) -> list[dict[str, Any]]:
    """Organisations: all of them for a certifier, the caller's own otherwise."""
    return svc.platform.list_orgs(who)


@router.post("/orgs", response_model=Org, status_code=201, tags=["identity"])
def create_org(body: OrgIn, svc: Svc, who: Certifier) -> dict[str, Any]:
    """Register an applicant organisation (certifiers)."""
    row = svc.platform.create_org(body.name)
    svc.store.append_audit(who.actor, "org.created", row["id"], {"name": body.name})
    return row


@router.get("/orgs/{org_id}/users", response_model=list[User], tags=["identity"])
def list_users(org_id: Id, svc: Svc, who: Who) -> list[dict[str, Any]]:
    svc.platform.get_org(org_id, who)
    return svc.platform.list_users(who, org_id)


@router.post("/orgs/{org_id}/users", response_model=User, status_code=201, tags=["identity"])
def create_user(org_id: Id, body: UserIn, svc: Svc, who: Certifier) -> dict[str, Any]:
    """Add a user to an organisation (certifiers)."""
    row = svc.platform.create_user(org_id, body.name, body.role)
    svc.store.append_audit(who.actor, "user.created", row["id"], {"org": org_id, "role": body.role})
    return row


@router.get("/users/{user_id}/tokens", response_model=list[Token], tags=["identity"])
def list_tokens(user_id: Id, svc: Svc, who: Who) -> list[dict[str, Any]]:
    """A user's tokens, without the tokens themselves: the caller's own, or any (certifiers)."""
    _own_or_certifier(svc, who, user_id)
    return svc.platform.list_tokens(user_id)


@router.post("/users/{user_id}/tokens", response_model=TokenCreated, status_code=201, tags=["identity"])
def create_token(user_id: Id, body: TokenIn, svc: Svc, who: Who) -> dict[str, Any]:
    """A new API token for the caller or (certifiers) any user; the token is in this
    answer only."""
    _own_or_certifier(svc, who, user_id)
    row, token = svc.platform.create_token(user_id, body.label)
    svc.store.append_audit(who.actor, "token.created", row["id"], {"user": user_id})
    return {**row, "token": token}


@router.delete("/tokens/{token_id}", response_model=Token, tags=["identity"])
def revoke_token(token_id: Id, svc: Svc, who: Who) -> dict[str, Any]:
    """Revoke a token at once: the caller's own, or any (certifiers)."""
    row = svc.platform.revoke_token(token_id, who)
    svc.store.append_audit(who.actor, "token.revoked", token_id, {"user": row["user_id"]})
    return row


def _own_or_certifier(svc: Service, who: Caller, user_id: str) -> None:
    if user_id != who.user_id:
        if not who.certifier:
            raise NotFound(f"no user {user_id}")
        svc.platform.get_user(user_id)


# -- targets -----------------------------------------------------------------------------

_CREDENTIAL_HEADER = re.compile(r"authorization|cookie|token|key|secret|password", re.I)


def _target_out(row: dict[str, Any]) -> dict[str, Any]:
    return {**{k: row[k] for k in ("id", "org_id", "name", "connector", "settings", "created_at")},
            "has_api_key": row["secret"] is not None}


def _check_address(svc: Service, settings: dict[str, Any]) -> None:
    url = settings.get("base_url") or settings.get("url")
    if isinstance(url, str):
        asyncio.run(check_url(url, svc.policy))


@router.get("/targets", response_model=list[TargetOut], tags=["targets"])
def list_targets(svc: Svc, who: Who) -> list[dict[str, Any]]:
    return [_target_out(r) for r in svc.platform.list_targets(who)]


@router.post("/targets", response_model=TargetOut, status_code=201, tags=["targets"])
def create_target(body: TargetIn, svc: Svc, who: Who) -> dict[str, Any]:
    """Register a target. Its settings are checked as a target file's are, its address
    against the service's address policy; its API key is encrypted at rest and never
    shown again."""
    org_id = who.org_id
    if body.org_id and body.org_id != who.org_id:
        if not who.certifier:
            raise NotFound(f"no organisation {body.org_id}")
        org_id = svc.platform.get_org(body.org_id)["id"]
    settings = dict(body.settings)
    for reserved in ("name", "connector"):
        if reserved in settings:
            raise ConfigError(f"settings.{reserved} is given outside settings", hint=f"remove settings.{reserved}")
    if "api_key_env" in settings:
        raise ConfigError("settings.api_key_env is not used by the service",
                          hint="give the key itself in api_key: it is encrypted at rest")
    for header in settings.get("headers") or {}:
        if _CREDENTIAL_HEADER.search(str(header)):
            raise ConfigError(f"settings.headers.{header} looks like a credential, which would be stored in clear",
                              hint="give the key in api_key (and auth_header for http-json) instead")
    if body.api_key:
        settings["api_key_env"] = KEY_ENV
    svc.check_target(body.name, body.connector, settings, body.api_key)
    _check_address(svc, settings)
    row = svc.platform.create_target(org_id, body.name, body.connector, settings,
                                     svc.vault.encrypt(body.api_key) if body.api_key else None)
    svc.store.append_audit(who.actor, "target.registered", row["id"], {"org": org_id, "name": body.name,
                                                                       "connector": body.connector})
    return _target_out(row)


@router.get("/targets/{target_id}", response_model=TargetOut, tags=["targets"])
def get_target(target_id: Id, svc: Svc, who: Who) -> dict[str, Any]:
    return _target_out(svc.platform.get_target(target_id, who))


@router.delete("/targets/{target_id}", status_code=204, tags=["targets"])
def delete_target(target_id: Id, svc: Svc, who: Who) -> Response:
    """Delete a target and forget its key; its runs stay."""
    svc.platform.delete_target(target_id, who)
    svc.store.append_audit(who.actor, "target.deleted", target_id, {})
    return Response(status_code=204)


# -- suites and profiles -------------------------------------------------------------------


def _documents(svc: Service, kind: str) -> list[dict[str, Any]]:
    uploaded = {r["doc_id"]: {"id": r["doc_id"], "kind": kind, "version": r["version"], "sha256": r["sha256"],
                              "source": "uploaded"} for r in svc.platform.list_documents(kind)}
    shipped = [{"id": i, "kind": kind, "version": str(row.get("version", "")), "sha256": row.get("sha256", ""),
                "source": "shipped", "title": row.get("title")}
               for i, row in sorted(svc.shipped(kind).items()) if i not in uploaded]
    return shipped + sorted(uploaded.values(), key=lambda d: d["id"])


def _external_ref(node: Any) -> str | None:
    """The first ``$ref`` or ``$dynamicRef`` in a schema that names another document
    (anything but a fragment of this one, ``#...``), or None."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("$ref", "$dynamicRef") and isinstance(value, str) and not value.startswith("#"):
                return value
            if (found := _external_ref(value)) is not None:
                return found
    elif isinstance(node, list):
        for value in node:
            if (found := _external_ref(value)) is not None:
                return found
    return None


def _upload(svc: Service, who: Caller, kind: str, text: str) -> dict[str, Any]:
    from harness.criteria import load_profile
    from harness.suite import load_suite

    if len(text.encode()) > svc.config.max_document_bytes:
        raise HarnessError(f"the {kind} is larger than {svc.config.max_document_bytes} bytes",
                           hint="split it, or ask the operator to raise HARNESS_MAX_DOCUMENT_BYTES")
    # the harness's own parser: bounded (aliases, nesting), so a small hostile upload
    # cannot grow into gigabytes in the checks that follow
    data = parse(Path(f"the uploaded {kind}"), text, SuiteError if kind == "suite" else ConfigError)
    if kind == "suite" and isinstance(data, dict) and "source" in data:
        raise SuiteError("an uploaded suite cannot name a question bank file (source:)",
                         hint="put the cases inline under cases:")
    derive = data.get("derive") if kind == "suite" and isinstance(data, dict) else None
    base = derive.get("from") if isinstance(derive, dict) else None
    if isinstance(derive, dict) and not (isinstance(base, str) and base in svc.shipped("suite")):
        # a path there would be read from the server's disk when a run expands the suite
        raise SuiteError(f"an uploaded suite can derive only from a shipped suite, not {base!r} (derive.from)",
                         hint="name a shipped suite by its id: GET /api/v1/suites lists them")
    ref = _external_ref(data) if kind == "profile" else None
    if ref is not None:
        # jsonschema would fetch it (urllib, past the address policy) when a run is checked
        raise ConfigError(f"an uploaded profile cannot refer to another document ($ref {ref!r})",
                          hint="put the schema under $defs and refer to it as #/$defs/NAME")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload.{kind}.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            doc = load_suite(path) if kind == "suite" else load_profile(path)
        except HarnessError as exc:  # name the upload, not this server's temporary file
            exc.message = exc.message.replace(str(path), f"the uploaded {kind}")
            raise
    if doc.id in svc.shipped(kind):
        raise Conflict(f"{kind} {doc.id!r} is shipped with the harness", hint="give the upload another id")
    row, new = svc.platform.add_document(kind, doc.id, str(doc.version), text, doc.sha256, who.actor)
    if new:
        svc.store.append_audit(who.actor, f"{kind}.changed", doc.id, {"version": str(doc.version),
                                                                     "sha256": doc.sha256})
    return {"id": doc.id, "kind": kind, "version": str(doc.version), "sha256": row["sha256"], "source": "uploaded"}


@router.get("/suites", response_model=list[Document], tags=["suites and profiles"])
def list_suites(svc: Svc, who: Who) -> list[dict[str, Any]]:
    return _documents(svc, "suite")


@router.post("/suites", response_model=Document, status_code=201, tags=["suites and profiles"])
def upload_suite(body: DocumentIn, svc: Svc, who: Certifier) -> dict[str, Any]:
    """Upload a suite (certifiers): checked like a suite file; a new upload with an
    existing id is that suite's new version for runs asked for from now on."""
    return _upload(svc, who, "suite", body.text)


@router.get("/profiles", response_model=list[Document], tags=["suites and profiles"])
def list_profiles(svc: Svc, who: Who) -> list[dict[str, Any]]:
    return _documents(svc, "profile")


@router.post("/profiles", response_model=Document, status_code=201, tags=["suites and profiles"])
def upload_profile(body: DocumentIn, svc: Svc, who: Certifier) -> dict[str, Any]:
    """Upload a profile of criteria (certifiers); the change is in the audit log."""
    return _upload(svc, who, "profile", body.text)


# -- runs -----------------------------------------------------------------------------------


def _runs_out(svc: Service, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Many jobs, with the progress of the live ones counted in one query."""
    live = svc.platform.progress_of([j["run_id"] for j in rows
                                     if j["state"] not in FINAL_STATES or j["done"] is None])
    return [_run_out(svc, j, live.get(j["run_id"]) or {"done": j["done"], "errors": j["errors"]}) for j in rows]


def _run_out(svc: Service, job: dict[str, Any], progress: dict[str, int] | None = None) -> dict[str, Any]:
    """A job row (with its run's verdict and status, as the repo gives it) and its
    progress: counted while the run is live, as stored when it ended."""
    if progress is None:
        progress = ({"done": job["done"], "errors": job["errors"]} if job["state"] in FINAL_STATES
                    and job["done"] is not None else svc.platform.progress(job["run_id"]))
    return {"id": job["run_id"], **{k: job[k] for k in (
        "org_id", "target_id", "requested_by", "state", "total", "shards", "error", "decision", "decision_note",
        "created_at", "updated_at", "run_status", "verdict")}, **progress}


@router.get("/runs", response_model=list[Run], tags=["runs"])
def list_runs(svc: Svc, who: Who, state: Literal["queued", "running", "finished", "cancelled", "failed"] | None = None,
              limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
    """Runs, newest first: every organisation's for a certifier, the caller's own otherwise."""
    return _runs_out(svc, svc.platform.list_jobs(who, states=(state,) if state else None, limit=limit))


@router.post("/runs", response_model=Run, status_code=202, tags=["runs"])
def request_run(body: RunIn, request: Request, svc: Svc, who: Who) -> dict[str, Any]:
    """Ask for a run: everything is checked now, the run is queued and a worker does it.
    Watch it at ``/runs/{id}`` or ``/runs/{id}/events``."""
    job = jobs.request_run(svc, who, jobs.RunAsk(**body.model_dump()))
    request.app.state.queue.enqueue(job["run_id"], job["shards"])
    return _run_out(svc, svc.platform.get_job(job["run_id"]))


@router.get("/runs/{run_id}", response_model=Run, tags=["runs"])
def get_run(run_id: Id, svc: Svc, who: Who) -> dict[str, Any]:
    return _run_out(svc, svc.platform.get_job(run_id, who))


@router.post("/runs/{run_id}/cancel", response_model=Run, tags=["runs"])
def cancel_run(run_id: Id, svc: Svc, who: Who) -> dict[str, Any]:
    """Cancel a queued or running run; what it stored stays."""
    return _run_out(svc, jobs.cancel(svc, who, run_id))


def _sse_event(name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["event", "data"],
            "properties": {"event": {"const": name},
                           "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": data}}}


#: one event of the stream (OpenAPI 3.1: the schema of a text/event-stream is that of an event)
SSE_EVENT = {"oneOf": [
    _sse_event("progress", {"$ref": "#/components/schemas/Run"}),
    _sse_event("end", {"type": "object", "required": ["state"],
                       "properties": {"state": {"enum": ["queued", "running", *FINAL_STATES]}}}),
]}


@router.get("/runs/{run_id}/events", tags=["runs"], response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {"schema": SSE_EVENT}},
                             "description": "server-sent events: `progress` with the run as JSON, then `end`"}})
async def run_events(run_id: Id, request: Request, svc: Svc, who: Who) -> StreamingResponse:
    """Live progress as server-sent events until the run ends."""
    await run_in_threadpool(svc.platform.get_job, run_id, who)

    async def events() -> Any:
        last = None
        while True:
            job = await run_in_threadpool(svc.platform.get_job, run_id)
            doc = await run_in_threadpool(_run_out, svc, job)
            text = json.dumps(doc)
            if text != last:
                yield f"event: progress\ndata: {text}\n\n"
                last = text
            if job["state"] in FINAL_STATES or await request.is_disconnected():
                yield f"event: end\ndata: {json.dumps({'state': job['state']})}\n\n"
                return
            await asyncio.sleep(request.app.state.sse_interval_s)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


REPORT_TYPES = {"json": "application/json", "html": "text/html; charset=utf-8",
                "md": "text/markdown; charset=utf-8", "junit": "application/xml"}


@router.get("/runs/{run_id}/report", tags=["runs"],
            responses={200: {"content": {t.split(";")[0]: {"schema": {"type": "object"} if f == "json"
                                                                     else {"type": "string"}}
                                         for f, t in REPORT_TYPES.items()},
                             "description": "the report; as JSON, the signed document of record"}})
def get_report(run_id: Id, svc: Svc, who: Who,
               format: Literal["json", "html", "md", "junit"] = "json") -> Response:  # noqa: A002
    """The run's report in one format; ``json`` is the signed report of record."""
    from harness.report import render

    job = svc.platform.get_job(run_id, who)
    record = svc.store.get_run(run_id)
    if record is None or record.report is None:
        if job["state"] in FINAL_STATES:
            raise Conflict(f"run {run_id} is {job['state']}: it ended without a report",
                           hint="start a new run of the same target and suites (POST /api/v1/runs)")
        raise Conflict(f"run {run_id} has no report yet", hint="wait until its state is finished")
    if format == "json":
        return Response(json.dumps(record.report, ensure_ascii=False, indent=1), media_type=REPORT_TYPES["json"])
    with tempfile.TemporaryDirectory() as tmp:
        paths = render(record.report, Path(tmp), svc.registry, [format])
        body = paths[0].read_bytes()
    headers = {"X-Content-Type-Options": "nosniff"}
    if format == "html":
        headers["Content-Security-Policy"] = report_policy()
    return Response(body, media_type=REPORT_TYPES[format], headers=headers)


@functools.cache
def report_policy() -> str:
    """The Content-Security-Policy an HTML report is served with: nothing from anywhere
    but the report's own style and script, admitted by the hashes of the files the
    report inlines (reports/html/report.css and report.js, not whatever the document
    holds: a reply's text that smuggled in a tag of its own would not match them), and
    the data: images of its robot replays. Computed once: the files are package data."""
    from harness.resources import data_dir

    def digest(name: str) -> str:
        text = (data_dir("reports") / "html" / name).read_text(encoding="utf-8").encode()
        return f"'sha256-{base64.b64encode(hashlib.sha256(text).digest()).decode()}'"

    return (f"default-src 'none'; style-src {digest('report.css')}; script-src {digest('report.js')}; "
            "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


@router.get("/runs/{run_id}/review", tags=["runs"])
def get_review(run_id: Id, svc: Svc, who: Who) -> dict[str, Any]:
    """The run's review sample (a seeded draw, harness.review) with each item's prompt,
    reply, grader label and the label people gave; ``quota`` is what the profile asks
    for before the run can be approved (0: none). Its organisation sees it; only a
    certifier labels it."""
    return jobs.review_sample(svc, who, run_id)


@router.post("/runs/{run_id}/review", tags=["runs"])
def post_review(run_id: Id, body: ReviewIn, svc: Svc, who: Certifier) -> dict[str, Any]:
    """Label items of the run's review sample (all or nothing; a correction is a new
    label, the newest counts); the run is judged again with the labels: its rates carry
    prediction-powered estimates, and its verdict and signed report are renewed."""
    return jobs.add_reviews(svc, who, run_id, [label.model_dump() for label in body.labels])


@router.post("/runs/{run_id}/decision", response_model=Run, tags=["runs"])
def decide(run_id: Id, body: DecisionIn, svc: Svc, who: Certifier) -> dict[str, Any]:
    """A certifier's decision on a finished run, with a note; recorded in the audit log.
    A certificate needs an approved run; a certified run cannot be rejected until its
    certificate is revoked."""
    return _run_out(svc, jobs.decide(svc, who, run_id, body.decision, body.note))


@router.get("/queue", response_model=list[Run], tags=["runs"])
def queue(svc: Svc, who: Certifier) -> list[dict[str, Any]]:
    """Queued and running runs of every organisation, oldest first (certifiers)."""
    rows = svc.platform.list_jobs(who, states=("queued", "running"), limit=500)
    return _runs_out(svc, list(reversed(rows)))


# -- certificates ------------------------------------------------------------------------------


@router.get("/certificates", response_model=list[Certificate], tags=["certificates"])
def list_certificates(svc: Svc, who: Who) -> list[dict[str, Any]]:
    return svc.platform.list_certificates(who)


@router.post("/certificates", response_model=Certificate, status_code=201, tags=["certificates"])
def issue_certificate(body: CertificateIn, svc: Svc, who: Certifier) -> dict[str, Any]:
    """Issue a signed certificate for a finished PASS run (certifiers)."""
    return certificates.issue(svc, who, body.run_id, body.valid_days)


@router.get("/certificates/{cert_id}", response_model=Certificate, tags=["certificates"])
def get_certificate(cert_id: Id, svc: Svc, who: Who) -> dict[str, Any]:
    return svc.platform.get_certificate(cert_id, who)


@router.post("/certificates/{cert_id}/revoke", response_model=Certificate, tags=["certificates"])
def revoke_certificate(cert_id: Id, body: RevokeIn, svc: Svc, who: Certifier) -> dict[str, Any]:
    return certificates.revoke(svc, who, cert_id, body.reason)


public = APIRouter(prefix="/api/v1/public", tags=["public"], responses={404: ERRORS[404], 429: ERRORS[429]},
                   dependencies=[Depends(deps.anonymous)])


@public.get("/certificates/{cert_id}", response_model=CertificateStatus)
def verify_certificate(cert_id: Id, svc: Svc) -> dict[str, Any]:
    """Anyone may check a certificate by its id: valid, expired, revoked or invalid."""
    return certificates.status(svc, svc.platform.get_certificate(cert_id))


@public.get("/signing-key", response_class=PlainTextResponse,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "the Ed25519 public key (PEM) that signs reports and certificates"}})
def signing_key(svc: Svc) -> str:
    from cryptography.hazmat.primitives import serialization

    return svc.signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


# -- audit ---------------------------------------------------------------------------------------


@router.get("/audit", response_model=list[AuditEntry], tags=["audit"])
def audit_log(svc: Svc, who: Certifier, after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
              limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[dict[str, Any]]:
    """Audit entries after ``after`` (a seq), oldest first (certifiers)."""
    return list(svc.store.iter_audit(after=after, limit=limit))


@router.get("/audit/verify", response_model=AuditCheck, tags=["audit"])
def audit_verify(svc: Svc, who: Certifier) -> dict[str, Any]:
    """Check the hash chain of the whole audit log (certifiers)."""
    entries = list(svc.store.iter_audit())
    problems = audit_chain.verify_chain(entries)
    return {"intact": not problems, "entries": len(entries), "problems": problems,
            "head_sha256": entries[-1]["sha256"] if entries else None}
