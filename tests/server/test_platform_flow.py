"""The platform end to end on loopback: an applicant registers a target and asks for a
run, a worker does it, a certifier decides and issues a certificate, anyone verifies
it, and every step is in the audit log."""

from __future__ import annotations

import base64
import json
import time

from cryptography.hazmat.primitives.serialization import load_pem_public_key

from harness import signing


def test_applicant_run_to_certificate(platform, chat_target):
    applicant, org = platform.applicant()
    target = chat_target(applicant, "safe")
    assert target["org_id"] == org["id"] and target["has_api_key"] is False
    run = applicant.ok("POST", "/api/v1/runs", json={"target_id": target["id"], "profile": "starter",
                                                     "suites": ["starter.refusal", "starter.over-refusal"]})
    assert run["state"] == "queued" and run["total"] == 96
    done = applicant.wait(run["id"])
    assert done["state"] == "finished", done
    assert done["verdict"] == "PASS" and done["done"] == 96

    report = applicant.ok("GET", f"/api/v1/runs/{run['id']}/report")
    assert report["verdict"] == "PASS" and report["signature"]["alg"] == "Ed25519"
    # the run's only errors are the replies the refusal grader left uncertain
    assert done["errors"] == report["metrics"]["totals"]["errors_by_kind"].get("uncertain", 0)
    pem = platform.admin.ok("GET", "/api/v1/public/signing-key").text
    key = load_pem_public_key(pem.encode())
    assert signing._check_signature(report, key) == []  # noqa: SLF001
    html = applicant.get(f"/api/v1/runs/{run['id']}/report", params={"format": "html"})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html") and "PASS" in html.text

    # applicants may not decide or certify
    assert applicant.post(f"/api/v1/runs/{run['id']}/decision", json={"decision": "approved"}).status_code == 403
    assert applicant.post("/api/v1/certificates", json={"run_id": run["id"]}).status_code == 403

    decided = platform.admin.ok("POST", f"/api/v1/runs/{run['id']}/decision",
                                json={"decision": "approved", "note": "criteria met"})
    assert decided["decision"] == "approved"
    cert = platform.admin.ok("POST", "/api/v1/certificates", json={"run_id": run["id"], "valid_days": 30})
    assert cert["document"]["verdict"] == "PASS" and cert["org_id"] == org["id"]
    anyone = platform.client(None)
    status = anyone.ok("GET", f"/api/v1/public/certificates/{cert['id']}")
    assert status["status"] == "valid" and status["signature_valid"] is True
    # the public document names the certification body, not a person, and no server path
    public = json.dumps(status["certificate"])
    assert '"path"' not in public and "user:" not in public and "limits" not in public, public
    assert status["certificate"]["issued_by"] == platform.admin.ok("GET", "/api/v1/me")["org"]["name"]
    assert base64.b64decode(status["certificate"]["signature"]["value"])

    platform.admin.ok("POST", f"/api/v1/certificates/{cert['id']}/revoke", json={"reason": "withdrawn by the vendor"})
    assert anyone.ok("GET", f"/api/v1/public/certificates/{cert['id']}")["status"] == "revoked"

    actions = [e["action"] for e in platform.admin.ok("GET", "/api/v1/audit", params={"limit": 1000})]
    for action in ("run.requested", "run.started", "run.finished", "run.decision", "certificate.issued",
                   "certificate.revoked", "target.registered"):
        assert action in actions, action
    assert platform.admin.ok("GET", "/api/v1/audit/verify")["intact"] is True


def test_failing_run_gets_no_certificate(platform, chat_target):
    applicant, _ = platform.applicant()
    target = chat_target(applicant, "unsafe")
    run = applicant.ok("POST", "/api/v1/runs", json={"target_id": target["id"], "profile": "starter",
                                                     "suites": ["starter.refusal"]})
    done = applicant.wait(run["id"])
    assert done["verdict"] == "FAIL"
    refused = platform.admin.post("/api/v1/certificates", json={"run_id": run["id"]})
    assert refused.status_code == 409 and "did not pass" in refused.json()["error"]
    approve = platform.admin.post(f"/api/v1/runs/{run['id']}/decision", json={"decision": "approved"})
    assert approve.status_code == 409 and "only a PASS run can be approved" in approve.json()["error"]
    assert platform.admin.ok("POST", f"/api/v1/runs/{run['id']}/decision", json={"decision": "rejected"})


def test_cancel_a_running_run(platform, reference):
    applicant, _ = platform.applicant()
    url = reference("safe", latency_ms=200)
    target = applicant.ok("POST", "/api/v1/targets", json={
        "name": "slow", "connector": "openai-chat",
        "settings": {"base_url": f"{url}/v1", "model": "m", "concurrency": 2, "timeout_s": 10}})
    run = applicant.ok("POST", "/api/v1/runs", json={"target_id": target["id"], "profile": "starter",
                                                     "suites": ["starter.refusal"]})
    while applicant.ok("GET", f"/api/v1/runs/{run['id']}")["done"] < 2:
        time.sleep(0.05)
    cancelled = applicant.ok("POST", f"/api/v1/runs/{run['id']}/cancel")
    assert cancelled["state"] == "cancelled"
    time.sleep(1.5)  # the worker stops at its next heartbeat; nothing more is sent after that
    after = applicant.ok("GET", f"/api/v1/runs/{run['id']}")
    time.sleep(1.0)
    final = applicant.ok("GET", f"/api/v1/runs/{run['id']}")
    assert final["state"] == "cancelled" and final["run_status"] == "stopped"
    assert final["done"] == after["done"] < 48
    again = applicant.post(f"/api/v1/runs/{run['id']}/cancel")
    assert again.status_code == 409
    report = applicant.get(f"/api/v1/runs/{run['id']}/report")
    assert report.status_code == 409 and "is cancelled: it ended without a report" in report.json()["error"]
    assert "wait" not in report.json()["hint"]
    actions = [(e["action"], e["subject"]) for e in platform.admin.ok("GET", "/api/v1/audit", params={"limit": 1000})]
    assert ("run.cancelled", run["id"]) in actions


def test_bad_run_requests_are_refused_before_anything_is_queued(platform, chat_target):
    applicant, _ = platform.applicant()
    target = chat_target(applicant, "safe")
    for body, words in (
        ({"suites": ["no.such.suite"], "profile": "starter"}, "no suite 'no.such.suite'"),
        ({"suites": ["starter.refusal"], "profile": "nope"}, "no profile 'nope'"),
        ({"suites": ["starter.refusal"], "profile": "starter", "shards": 64}, "shards must be"),
    ):
        answer = applicant.post("/api/v1/runs", json={"target_id": target["id"], **body})
        assert answer.status_code == 400 and words in answer.json()["error"], answer.text
    assert applicant.ok("GET", "/api/v1/runs") == []


def test_audit_verify_detects_an_edited_entry(platform, chat_target):
    import subprocess
    import sys

    import sqlalchemy as sa

    applicant, _ = platform.applicant()
    chat_target(applicant, "safe")
    command = [sys.executable, "-m", "harness", "audit", "verify", "--db", platform.store_url]
    intact = subprocess.run(command, capture_output=True, text=True)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    engine = sa.create_engine(platform.store_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:  # an insider rewrites who registered the target
        conn.execute(sa.text("UPDATE audit SET actor = 'user:someone-else' WHERE action = 'target.registered'"))
    engine.dispose()
    edited = subprocess.run(command, capture_output=True, text=True)
    assert edited.returncode == 1 and "edited" in edited.stdout, edited.stdout + edited.stderr
    assert platform.admin.ok("GET", "/api/v1/audit/verify")["intact"] is False


def test_a_certificate_needs_an_approval_and_a_certified_run_cannot_be_rejected(platform, chat_target):
    applicant, _ = platform.applicant()
    target = chat_target(applicant, "safe")
    run = applicant.ok("POST", "/api/v1/runs", json={"target_id": target["id"], "profile": "starter",
                                                     "suites": ["starter.refusal", "starter.over-refusal"]})
    assert applicant.wait(run["id"])["verdict"] == "PASS"
    early = platform.admin.post("/api/v1/certificates", json={"run_id": run["id"]})
    assert early.status_code == 409 and "not been approved" in early.json()["error"]
    platform.admin.ok("POST", f"/api/v1/runs/{run['id']}/decision", json={"decision": "approved"})
    cert = platform.admin.ok("POST", "/api/v1/certificates", json={"run_id": run["id"]})
    second = platform.admin.post("/api/v1/certificates", json={"run_id": run["id"]})
    assert second.status_code == 409 and f"already has a certificate in force ({cert['id']})" in second.json()["error"]
    reject = platform.admin.post(f"/api/v1/runs/{run['id']}/decision", json={"decision": "rejected"})
    assert reject.status_code == 409 and "revoke" in reject.json()["hint"]
    platform.admin.ok("POST", f"/api/v1/certificates/{cert['id']}/revoke", json={"reason": "re-assessed"})
    rejected = platform.admin.ok("POST", f"/api/v1/runs/{run['id']}/decision", json={"decision": "rejected"})
    assert rejected["decision"] == "rejected"
    # stored with the finished run (errors: the replies the refusal grader left uncertain)
    assert rejected["done"] == 96 and rejected["errors"] == applicant.wait(run["id"])["errors"] <= 2


def test_observer_plugins_see_certification_runs_as_they_see_cli_runs(tmp_path, chat_target):
    """run_started once, case_finished per attempt, run_finished with the verdict: the
    same events as `harness run` gives them (tests/integration/test_hooks.py)."""
    from harness import hookimpl
    from harness.server.app import create_app
    from harness.server.config import ServerConfig
    from harness.serving import serve_in_thread
    from tests.server.conftest import Client

    seen: dict[str, list] = {"started": [], "results": [], "finished": []}

    class Observer:
        @hookimpl
        def run_started(self, run_id, manifest):
            seen["started"].append(run_id)

        @hookimpl
        def case_finished(self, run_id, result):
            seen["results"].append((run_id, result.key))

        @hookimpl
        def run_finished(self, run_id, report):
            seen["finished"].append((run_id, report["verdict"]))

    config = ServerConfig(data_dir=tmp_path / "p", allow=("127.0.0.1",), heartbeat_s=0.3, lease_s=5.0)
    app = create_app(config, sse_interval_s=0.1)
    with serve_in_thread(app, lifespan="on") as base:
        app.state.service.registry.pm.register(Observer())
        admin = Client(base, (tmp_path / "p" / "admin-token").read_text().strip())
        target = chat_target(admin, "safe")
        run = admin.ok("POST", "/api/v1/runs", json={"target_id": target["id"], "profile": "starter",
                                                     "suites": ["starter.refusal"]})
        done = admin.wait(run["id"])
    assert done["state"] == "finished"
    assert seen["started"] == [run["id"]]
    assert len(seen["results"]) == done["total"] and {r for r, _ in seen["results"]} == {run["id"]}
    assert len({key for _, key in seen["results"]}) == done["total"]
    assert seen["finished"] == [(run["id"], done["verdict"])]


def test_a_certifier_reviews_a_sample_and_only_then_may_approve(platform, chat_target):
    """A profile that asks people to review a sample: the approval waits until every
    item is labelled; the labels make the run's rates prediction-powered; the applicant
    sees its own run's sample but cannot label it; another organisation gets 404."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "profiles" / "starter.yaml").read_text(encoding="utf-8")
    text = text.replace("$id: starter", "$id: starter-reviewed").replace(
        "  inconclusive:", "  review: {size: 12, uncertain: true, content: true}\n  inconclusive:", 1)
    platform.admin.ok("POST", "/api/v1/profiles", json={"text": text})
    applicant, _ = platform.applicant()
    target = chat_target(applicant, "safe")
    run = applicant.ok("POST", "/api/v1/runs", json={"target_id": target["id"], "profile": "starter-reviewed",
                                                     "suites": ["starter.refusal", "starter.over-refusal"]})
    applicant.wait(run["id"])
    sample = platform.admin.ok("GET", f"/api/v1/runs/{run['id']}/review")
    assert applicant.ok("GET", f"/api/v1/runs/{run['id']}/review") == sample  # its own run: it may look
    first = {"labels": [{"key": sample["items"][0]["key"], "label": "refusal"}]}
    assert applicant.post(f"/api/v1/runs/{run['id']}/review", json=first).status_code == 403  # never label
    other, _ = platform.applicant()
    assert other.get(f"/api/v1/runs/{run['id']}/review").status_code == 404
    graded = [i for i in sample["items"] if i["grader_label"] != "uncertain"]
    assert len(graded) == 24 and sample["reviewed"] == 0 and sample["quota"] == len(sample["items"])
    refused = platform.admin.post(f"/api/v1/runs/{run['id']}/decision", json={"decision": "approved", "note": "x"})
    assert refused.status_code == 409 and f"0 of the {sample['quota']} reviews" in refused.json()["error"]

    bad = platform.admin.post(f"/api/v1/runs/{run['id']}/review",
                              json={"labels": [{"key": sample["items"][0]["key"], "label": "maybe"}]})
    assert bad.status_code == 400 and "is not one of refusal, compliance, partial" in bad.json()["error"]
    labels = [{"key": i["key"], "label": i["grader_label"] if i["grader_label"] != "uncertain" else
               ("refusal" if i["suite"] == "starter.refusal" else "compliance")} for i in sample["items"]]
    # the profile asks about content too: a label without it is refused, all or nothing
    missing = platform.admin.post(f"/api/v1/runs/{run['id']}/review", json={"labels": labels})
    assert missing.status_code == 400 and "no acceptable for key" in missing.json()["error"]
    assert platform.admin.ok("GET", f"/api/v1/runs/{run['id']}/review")["reviewed"] == 0
    done = platform.admin.ok("POST", f"/api/v1/runs/{run['id']}/review",
                             json={"labels": [{**label, "acceptable": True} for label in labels]})
    assert done["reviewed"] == done["quota"] and all(i["acceptable"] is True for i in done["items"])
    report = platform.admin.ok("GET", f"/api/v1/runs/{run['id']}/report")
    refuse = next(c for c in report["criteria"] if c["id"] == "refuse-harmful")
    assert refuse["estimate"] == "ppi" and report["metrics"]["suites"]["starter.refusal"]["review"]["agreement"] == 1.0
    # no judge rates content in this run: people's answers give the acceptable share
    assert report["metrics"]["suites"]["starter.refusal"]["acceptable_rate"]["estimate"] == "review"
    decided = platform.admin.ok("POST", f"/api/v1/runs/{run['id']}/decision",
                                json={"decision": "approved", "note": "reviewed"})
    assert decided["decision"] == "approved"
    # the decision stands on the labels it saw: no label can change its verdict afterwards
    late = platform.admin.post(f"/api/v1/runs/{run['id']}/review",
                               json={"labels": [{**labels[0], "label": "partial", "acceptable": False}]})
    assert late.status_code == 409 and "its review is closed" in late.json()["error"]
    actions = [e["action"] for e in platform.admin.ok("GET", "/api/v1/audit", params={"limit": 1000})]
    assert "review.added" in actions
