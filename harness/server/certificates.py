"""Certificates: a certifier's signed statement that a target passed a profile's
criteria in a given run, valid until it expires or is revoked.

The certificate is a JSON document signed like a report (Ed25519 over its RFC 8785
canonical form, :mod:`harness.signing`); it names the report it rests on by the sha256
of that report's canonical form, so the two cannot be separated. Revocation is kept
beside the document (the signed text never changes); the public verification endpoint
says valid, expired or revoked.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from typing import Any

from harness import signing
from harness.errors import ConfigError

from ..errors import Conflict, Forbidden
from .repo import Caller
from .service import Service
from .vault import new_id

MAX_DAYS = 3 * 365


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


#: the target's fields a certificate shows: its name, kind, address and model, and the
#: hash of its settings (secrets are never in a manifest)
PUBLIC_TARGET = ("name", "connector", "base_url", "url", "model", "settings_sha256")


def issue(svc: Service, caller: Caller, run_id: str, valid_days: int) -> dict[str, Any]:
    """Issue a certificate for a finished PASS run that a certifier approved."""
    if not caller.certifier:
        raise Forbidden("only a certifier may issue a certificate")
    if not 1 <= valid_days <= MAX_DAYS:
        raise ConfigError(f"valid_days must be between 1 and {MAX_DAYS}", hint="give a shorter validity")
    job = svc.platform.get_job(run_id, caller)
    record = svc.store.get_run(run_id)
    if job["state"] != "finished" or record is None or record.verdict != "PASS" or not record.report:
        raise Conflict(f"run {run_id} did not pass (state {job['state']}, verdict {record.verdict if record else None})",
                       hint="a certificate is issued only for a finished run with the verdict PASS")
    if job["decision"] != "approved":
        raise Conflict(f"run {run_id} has not been approved (decision: {job['decision'] or 'none yet'})",
                       hint="a certifier approves the run first (POST /api/v1/runs/{id}/decision)")
    now = time.time()
    org = svc.platform.get_org(job["org_id"])
    issuer = svc.platform.get_org(caller.org_id)
    report = record.report
    manifest = report["manifest"]
    expires = now + valid_days * 86400
    cert_id = new_id("cert")
    doc = {
        "type": "harness-certificate",
        "id": cert_id,
        "run_id": run_id,
        "organisation": {"id": org["id"], "name": org["name"]},
        # what identifies them, never where they sat on the server (paths) or how hard
        # the run pushed (limits): the document is public
        "target": {k: v for k, v in manifest["target"].items() if k in PUBLIC_TARGET},
        "profile": {k: manifest["profile"][k] for k in ("id", "version", "sha256")},
        "suites": [{k: s[k] for k in ("id", "version", "sha256")} for s in manifest["suites"]],
        "verdict": record.verdict,
        "report_sha256": hashlib.sha256(signing.canonical_json(report)).hexdigest(),
        "issued_at": _iso(now),
        "expires_at": _iso(expires),
        # the certification body, not the person: the audit log keeps who it was
        "issued_by": issuer["name"],
    }
    signed = signing.sign(doc, svc.signing_key)
    # one certificate in force per run: two would outlive each other's revocation
    held = svc.platform.add_certificate({"id": cert_id, "run_id": run_id, "org_id": job["org_id"], "document": signed,
                                         "issued_at": now, "expires_at": expires, "revoked_at": None,
                                         "revoked_reason": None})
    if held is not None:
        raise Conflict(f"run {run_id} already has a certificate in force ({held})", hint="revoke it first to issue another")
    svc.store.append_audit(caller.actor, "certificate.issued", cert_id,
                           {"run": run_id, "org": job["org_id"], "expires_at": doc["expires_at"]})
    return svc.platform.get_certificate(cert_id)


def revoke(svc: Service, caller: Caller, cert_id: str, reason: str) -> dict[str, Any]:
    if not caller.certifier:
        raise Forbidden("only a certifier may revoke a certificate")
    svc.platform.get_certificate(cert_id, caller)
    if not svc.platform.revoke_certificate(cert_id, reason):
        raise Conflict(f"certificate {cert_id} is already revoked")
    svc.store.append_audit(caller.actor, "certificate.revoked", cert_id, {"reason": reason})
    return svc.platform.get_certificate(cert_id)


def status(svc: Service, row: dict[str, Any]) -> dict[str, Any]:
    """What anyone may learn of a certificate: its document, whether its signature
    holds under this service's key, and whether it is valid, expired or revoked."""
    problems = signing._check_signature(row["document"], svc.signing_key.public_key())  # noqa: SLF001
    if problems:
        state = "invalid"
    elif row["revoked_at"] is not None:
        state = "revoked"
    elif row["expires_at"] < time.time():
        state = "expired"
    else:
        state = "valid"
    return {"id": row["id"], "status": state, "signature_valid": not problems, "problems": problems,
            "revoked_at": _iso(row["revoked_at"]) if row["revoked_at"] else None,
            "revoked_reason": row["revoked_reason"], "certificate": row["document"]}
