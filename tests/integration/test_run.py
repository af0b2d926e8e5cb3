"""Whole runs against the reference chat target on loopback: verdicts, errors, retries,
the breaker, and bad input."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from fastapi import FastAPI, Request

from harness.serving import serve_in_thread
from harness.session import RunRequest, run
from tests.helpers import write
from tests.integration.conftest import (
    harness_cli,
    overview_suite,
    pass_rate_profile,
    target_file,
)

STARTER = ["starter.refusal", "starter.over-refusal"]


@pytest.mark.parametrize(("policy", "verdict"), [("safe", "PASS"), ("unsafe", "FAIL")])
def test_starter_suites_judge_each_policy(tmp_path, reference, registry, policy, verdict):
    target = target_file(tmp_path, reference(policy))
    outcome = run(RunRequest(target=str(target), suites=STARTER, profile="starter", out=tmp_path / "runs",
                             progress="none"), registry)
    assert outcome.verdict == verdict, outcome.report["reason"]
    report = json.loads((outcome.run_dir / "report.json").read_text())
    assert report["verdict"] == verdict
    refusal = report["metrics"]["suites"]["starter.refusal"]
    # no errors from the endpoint; the grader may leave an unsafe answer uncertain
    assert refusal["n"] == 48 and refusal["errors"] == refusal.get("errors_by_kind", {}).get("uncertain", 0) <= 1
    assert refusal["refusal_rate"]["value"] == (1.0 if policy == "safe" else 0.0)
    assert set(refusal["by_language"]) == {"zh", "en"}
    statuses = {c["id"]: c["status"] for c in report["criteria"]}
    if policy == "unsafe":
        assert statuses["refuse-harmful"] == "fail" and statuses["answer-benign"] == "pass"
        assert report["failures"] and report["failures"][0]["response"]
        # the examples are shared out between the languages, not the first ones by key
        assert {f["lang"] for f in report["failures"] if f["suite"] == "starter.refusal"} == {"zh", "en"}
    manifest = report["manifest"]
    assert {s["id"] for s in manifest["suites"]} == set(STARTER)
    assert all(len(s["sha256"]) == 64 for s in manifest["suites"]) and len(manifest["profile"]["sha256"]) == 64
    assert {"connectors", "refusal_scorer"} <= {p["name"] for p in manifest["plugins"]}


def test_flaky_errors_are_errors_and_leave_undecided_only_what_they_could_change(tmp_path, reference, registry):
    url = reference("flaky", fault_rate=0.3, seed=7, hang_s=3)
    target = target_file(tmp_path, url, retries=0, timeout_s=1, concurrency=16, max_consecutive_failures=50)
    suite = overview_suite(tmp_path, 200)
    # a fitness cap above the fault rate, so that what is weighed is whether the errors could
    # change the outcome (under the usual caps such an endpoint is unfit to be judged)
    profile = pass_rate_profile(tmp_path, max_error_rate=0.6)
    outcome = run(RunRequest(target=str(target), suites=[str(suite)], profile=str(profile),
                             out=tmp_path / "runs", progress="none"), registry)
    m = outcome.report["metrics"]["suites"]["bulk"]
    assert m["n"] == 200 and m["errors"] > 20
    assert m["passed"] + m["failed"] + m["errors"] == 200
    # every answer that came back is judged on its own merit: one in five expects a word
    # the target never says, so fails stay at that share of the valid attempts
    assert m["failed"] == sum(1 for i in range(200) if i % 5 == 0) - _errors_among(outcome, lambda i: i % 5 == 0)
    assert {"http_500", "http_503", "timeout", "malformed"} & set(m["errors_by_kind"])
    assert len(m["errors_by_kind"]) >= 3
    # the pass rate of the valid attempts (about 0.8) is above the 0.5 bound; counted as
    # failures, the errors could pull it under only when they are many (a loaded machine
    # times out more): decided when they cannot, and it says so
    (criterion,) = outcome.report["criteria"]
    if m["passed"] / m["n"] >= 0.5:
        assert outcome.verdict == "PASS" and criterion["errors_cannot_change"] == m["errors"]
    else:
        assert outcome.verdict == "INCONCLUSIVE" and "could change this" in criterion["detail"]
    # under a bound the errors could cross, the same metrics cannot be judged
    from harness.criteria import evaluate, load_profile

    verdict, results, _ = evaluate(load_profile(pass_rate_profile(tmp_path / "strict", minimum=0.7,
                                                                  max_error_rate=0.6)),
                                   outcome.report["metrics"])
    assert verdict == "INCONCLUSIVE" and "could change this" in results[0]["detail"]
    # and under the usual cap of 2%, an endpoint failing this often cannot be judged at all
    verdict, results, _ = evaluate(load_profile(pass_rate_profile(tmp_path / "capped")), outcome.report["metrics"])
    assert verdict == "INCONCLUSIVE" and "above the fitness cap 0.02" in results[0]["detail"]


def _errors_among(outcome, which) -> int:
    db = sqlite3.connect(outcome.run_dir / "store.db")
    ids = [r[0] for r in db.execute("select case_id from results where status = 'error'")]
    return sum(1 for cid in ids if which(int(cid[1:])))


def test_flaky_with_retries_completes_and_passes(tmp_path, reference, registry):
    url = reference("flaky", fault_rate=0.1, seed=3, hang_s=2)
    target = target_file(tmp_path, url, retries=6, timeout_s=1, backoff_s=0.01, concurrency=16)
    suite = overview_suite(tmp_path, 100)
    outcome = run(RunRequest(target=str(target), suites=[str(suite)], profile=str(pass_rate_profile(tmp_path)),
                             out=tmp_path / "runs", progress="none"), registry)
    m = outcome.report["metrics"]["suites"]["bulk"]
    # 500s, 503s, resets and timeouts are retried away; a malformed 200 is the
    # endpoint's defect and is recorded, not retried
    assert m["n"] == 100 and set(m["errors_by_kind"]) <= {"malformed"}
    assert m["passed"] + m["failed"] + m["errors"] == 100 and m["passed"] >= 75
    db = sqlite3.connect(outcome.run_dir / "store.db")
    assert db.execute("select max(tries) from results").fetchone()[0] > 1


def test_retry_after_is_honoured(tmp_path, reference, registry):
    url = reference("safe", rpm_limit=600)  # 10 per second, a burst of 10
    target = target_file(tmp_path, url, concurrency=8, retries=5)
    suite = overview_suite(tmp_path, 30)
    outcome = run(RunRequest(target=str(target), suites=[str(suite)], profile=str(pass_rate_profile(tmp_path)),
                             out=tmp_path / "runs", progress="none"), registry)
    m = outcome.report["metrics"]["suites"]["bulk"]
    assert m["errors"] == 0 and m["valid_n"] == 30
    assert outcome.timings["last_stored"] - outcome.timings["first_request"] >= 1.5  # 30 at 10/s minus the burst


def test_dead_endpoint_stops_the_run_early(tmp_path, registry):
    target = target_file(tmp_path, "http://127.0.0.1:9", retries=0, concurrency=2, max_consecutive_failures=5)
    suite = overview_suite(tmp_path, 500)
    # the breaker, not the preflight (test_preflight.py), is what this measures
    outcome = run(RunRequest(target=str(target), suites=[str(suite)], profile=str(pass_rate_profile(tmp_path)),
                             out=tmp_path / "runs", progress="none", preflight=False), registry)
    assert outcome.verdict == "INCONCLUSIVE"
    assert outcome.report["run"]["status"] == "aborted"
    assert "in a row failed" in outcome.report["reason"]
    assert outcome.report["metrics"]["totals"]["n"] < 20
    assert outcome.report["metrics"]["totals"]["errors_by_kind"] == {"connect": outcome.report["metrics"]["totals"]["n"]}


def test_exit_codes_and_summary_from_the_command(tmp_path, reference):
    for policy, code in (("safe", 0), ("unsafe", 1)):
        target = target_file(tmp_path / policy, reference(policy))
        done = harness_cli("run", "--target", str(target), "--suite", "starter.refusal", "--suite",
                           "starter.over-refusal", "--profile", "starter", "--out", str(tmp_path / "runs"))
        assert done.returncode == code, done.stderr
        assert ("PASS" if code == 0 else "FAIL") in done.stdout and "report.json" in done.stdout


def recording_app(seen: list[tuple[str | None, str | None]]) -> FastAPI:
    """An OpenAI-compatible endpoint that notes the auth and tenant headers it gets."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict:
        seen.append((request.headers.get("authorization"), request.headers.get("x-tenant")))
        return {"choices": [{"message": {"role": "assistant", "content": "Sure. Here is an overview."},
                             "finish_reason": "stop"}], "usage": {"total_tokens": 5}}

    return app


def test_api_key_is_sent_and_never_written(tmp_path, registry):
    seen: list[tuple[str | None, str | None]] = []
    app = recording_app(seen)

    secret = "sk-test-5f1b2c3d4e"
    with serve_in_thread(app) as url:
        target = target_file(tmp_path, url, api_key_env="REF_KEY", headers="{X-Tenant: acme}")
        suite = overview_suite(tmp_path, 10)
        done = harness_cli("run", "--target", str(target), "--suite", str(suite), "--profile",
                           str(pass_rate_profile(tmp_path)), "--out", str(tmp_path / "runs"), "--run-id", "k",
                           env={"REF_KEY": secret})
    assert done.returncode == 0, done.stderr  # 8 of 10 pass, above the minimum of 0.5
    assert seen == [(f"Bearer {secret}", "acme")] * 11  # the preflight's request and the ten cases
    for path in (tmp_path / "runs").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    assert secret not in done.stdout + done.stderr


BAD_INPUTS = {
    "target wrong type": ("target", "concurrency: many\n", r"target\.yaml:\d+:\d+: at /concurrency"),
    "target unknown key": ("target", "colour: blue\n", r"target\.yaml:\d+:\d+: at /colour unknown key"),
    "suite bad yaml": ("suite", "cases: [\n", r"bulk\.yaml:\d+:\d+: not valid YAML"),
    "suite unknown key": ("suite", "extra: 1\n", r"bulk\.yaml:\d+:\d+: at /extra unknown key"),
    "profile wrong type": ("profile", "x-profile: {version: 1}\n", r"profile\.yaml:\d+:\d+: at /x-profile/version"),
    "suite missing bank": ("bank", "", r"bulk\.yaml:\d+: the question bank missing\.csv cannot be read"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_naming_file_and_line_and_writes_nothing(tmp_path, case):
    which, extra, pattern = BAD_INPUTS[case]
    target = target_file(tmp_path, "http://127.0.0.1:9")
    suite = overview_suite(tmp_path, 3)
    profile = pass_rate_profile(tmp_path)
    if which == "bank":
        write(suite, "id: bulk\nversion: '1'\ntitle: B\nsource:\n  path: missing.csv\n")
    else:
        path = {"target": target, "suite": suite, "profile": profile}[which]
        text = path.read_text()
        write(path, text + extra if which != "profile" else text.replace('x-profile: {version: "1", ', "x-profile: {version: 1, "))
    done = harness_cli("run", "--target", str(target), "--suite", str(suite), "--profile", str(profile),
                       "--out", str(tmp_path / "runs"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert __import__("re").search(pattern, done.stderr), done.stderr
    assert "hint:" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()


def test_epochs_send_each_case_k_times_with_distinct_keys(tmp_path, reference, registry):
    target = target_file(tmp_path, reference("safe"))
    outcome = run(RunRequest(target=str(target), suites=[str(overview_suite(tmp_path, 10))],
                             profile=str(pass_rate_profile(tmp_path)), out=tmp_path / "runs", epochs=3, seed=11,
                             progress="none"), registry)
    assert outcome.report["metrics"]["totals"]["n"] == 30 and outcome.report["metrics"]["epochs"] == 3
    assert outcome.report["manifest"]["epochs"] == 3 and outcome.report["manifest"]["seed"] == 11
    db = sqlite3.connect(outcome.run_dir / "store.db")
    assert {k.rsplit("/", 1)[1] for (k,) in db.execute("select key from results")} == {"0", "1", "2"}


def test_ci_gets_plain_progress_lines(tmp_path, reference):
    target = target_file(tmp_path, reference("safe"))
    done = harness_cli("run", "--target", str(target), "--suite", str(overview_suite(tmp_path, 10)), "--profile",
                       str(pass_rate_profile(tmp_path)), "--out", str(tmp_path / "runs"), "--run-id", "p")
    assert done.returncode == 0, done.stderr
    assert "p: 10/10 done, 0 errors" in done.stderr and "\x1b[" not in done.stderr


def test_quick_profile_runs_a_seeded_sample_and_says_it_certifies_nothing(tmp_path, reference, registry):
    profile = pass_rate_profile(tmp_path)
    text = profile.read_text().replace('x-profile: {version: "1", ', 'x-profile: {version: "1", sample: '
                                       '{per_category: 2}, notice: "A quick check: it certifies nothing.", ')
    profile.write_text(text.replace("min_valid_n: 10", "min_valid_n: 5"))
    target = target_file(tmp_path, reference("safe"))
    outcomes = [run(RunRequest(target=str(target), suites=[str(overview_suite(tmp_path, 30))], profile=str(profile),
                               out=tmp_path / "runs", seed=seed, progress="none"), registry) for seed in (1, 1, 2)]
    first = outcomes[0].report
    assert first["metrics"]["suites"]["bulk"]["n"] == 6  # 3 categories x 2, one language
    assert first["manifest"]["suites"][0]["cases"] == 6
    assert first["notice"] == "A quick check: it certifies nothing."

    def keys(outcome):
        db = sqlite3.connect(outcome.run_dir / "store.db")
        return sorted(k for (k,) in db.execute("select key from results"))

    assert keys(outcomes[0]) == keys(outcomes[1]) != keys(outcomes[2])


def test_stop_when_decided_judges_on_part_of_the_bank(tmp_path, reference, registry):
    """A clearly compliant service (every case passes) is decided long before the end of
    a large bank; without the flag every case is sent."""
    profile = pass_rate_profile(tmp_path, minimum=0.5)
    suite = overview_suite(tmp_path, 600)
    target = target_file(tmp_path, reference("safe", latency_ms=5), concurrency=4)
    decided = run(RunRequest(target=str(target), suites=[str(suite)], profile=str(profile), out=tmp_path / "runs",
                             stop_when_decided=True, progress="none"), registry)
    m = decided.report["metrics"]["suites"]["bulk"]
    assert decided.verdict == "PASS"
    assert 10 <= m["n"] < 200, m["n"]  # 80% pass: the sequential test leaves 0.5 behind within a few dozen
    assert decided.report["run"]["decided_early"]["bulk"] <= m["n"]
    assert m["pass_rate"]["value"] > 0.5
    # the sample is seeded and shuffled: both kinds of case were sent, not the file's first rows only
    db = sqlite3.connect(decided.run_dir / "store.db")
    sent = [int(cid[1:]) for (cid,) in db.execute("select case_id from results")]
    assert max(sent) > 300 and any(i % 5 == 0 for i in sent)
    assert decided.report["manifest"]["stop_when_decided"] is True


def test_a_service_that_fails_two_percent_of_the_time_is_still_judged(tmp_path, reference, registry):
    """Issue 13's case: malformed replies on about 2% of requests leave no criterion
    INCONCLUSIVE that no outcome of those attempts could change (under the starter
    profile's fitness cap of 10%, each criterion asks whether its errors could flip it)."""
    url = reference("flaky", fault_rate=0.02, seed=3, hang_s=0)
    target = target_file(tmp_path, url, retries=0, concurrency=4)
    outcome = run(RunRequest(target=str(target), suites=["starter.refusal", "starter.over-refusal"],
                             profile="starter", out=tmp_path / "runs", progress="none"), registry)
    totals = outcome.report["metrics"]["totals"]
    assert 0 < totals["errors"] - totals["errors_by_kind"].get("uncertain", 0) <= 6
    for c in outcome.report["criteria"]:
        if c["status"] == "inconclusive":  # only where the unknown attempts could flip it
            assert "could change this" in c["detail"], c
        else:
            assert c.get("errors_cannot_change", 0) >= 0
    # the refusal bank: a few errors cannot pull a rate of 1.0 under 0.95 at n = 48
    refuse = next(c for c in outcome.report["criteria"] if c["id"] == "refuse-harmful")
    errors = outcome.report["metrics"]["suites"]["starter.refusal"]["errors"]
    assert refuse["status"] == "pass" and refuse.get("errors_cannot_change", 0) == errors


def test_a_profile_alone_runs_the_suites_it_requires(tmp_path, reference):
    target = target_file(tmp_path, reference("safe"))
    done = harness_cli("run", "--target", str(target), "--profile", "starter", "--out", str(tmp_path / "runs"),
                       "--run-id", "p", "--format", "json")
    assert done.returncode in (0, 3), done.stdout + done.stderr
    report = json.loads((tmp_path / "runs" / "p" / "report.json").read_text())
    assert [s["id"] for s in report["manifest"]["suites"]] == ["starter.refusal", "starter.over-refusal"]


def test_junit_has_the_same_testcases_for_a_pass_and_a_fail(tmp_path, reference):
    import xml.etree.ElementTree as ET

    counts = {}
    for policy in ("safe", "unsafe"):
        target = target_file(tmp_path / policy, reference(policy))
        harness_cli("run", "--target", str(target), "--profile", "starter", "--out", str(tmp_path / "runs"),
                    "--run-id", policy, "--format", "junit", "--format", "json")
        root = ET.parse(tmp_path / "runs" / policy / "report.junit.xml").getroot()
        verdict = json.loads((tmp_path / "runs" / policy / "report.json").read_text())["verdict"]
        names = sorted((case.get("classname"), case.get("name")) for case in root.iter("testcase"))
        counts[policy] = (verdict, len(names), names, int(root.get("failures")))
    (safe_verdict, safe_n, safe_names, _), (unsafe_verdict, unsafe_n, unsafe_names, failures) = \
        counts["safe"], counts["unsafe"]
    assert safe_verdict != "FAIL" and unsafe_verdict == "FAIL"
    assert safe_n == unsafe_n == 4 + 96 and safe_names == unsafe_names  # every criterion and every case
    assert failures > 4


def test_limit_sample_and_json_from_the_command(tmp_path, reference):
    """`--limit N` sends each suite's first N cases, `--sample N` N drawn with the seed (the
    same N for the same seed); both say in the report that the run certifies nothing; a
    resumed or rescored run keeps the same part; `--json` prints one machine-readable
    summary on stdout with the exit code of the verdict."""
    target = target_file(tmp_path, reference("safe"))
    suite = str(overview_suite(tmp_path, 30))
    profile = pass_rate_profile(tmp_path)
    profile.write_text(profile.read_text().replace("min_valid_n: 10", "min_valid_n: 3"))

    def go(*extra: str) -> tuple[subprocess.CompletedProcess[str], dict]:
        done = harness_cli("run", "--target", str(target), "--suite", suite, "--profile", str(profile),
                           "--out", str(tmp_path / "runs"), "--progress", "none", "--json", *extra)
        summary = json.loads(done.stdout)
        report = json.loads(Path(next(p for p in summary["reports"] if p.endswith("report.json"))).read_text())
        return done, report

    def keys(report):
        db = sqlite3.connect(tmp_path / "runs" / report["run"]["id"] / "store.db")
        return sorted(k for (k,) in db.execute("select key from results"))

    done, limited = go("--limit", "4")
    summary = json.loads(done.stdout)
    codes = {"PASS": 0, "FAIL": 1, "INCONCLUSIVE": 3}
    assert done.returncode == summary["exit_code"] == codes[limited["verdict"]] and summary["verdict"] == limited[
        "verdict"]
    assert [c["status"] for c in summary["criteria"]] == [c["status"] for c in limited["criteria"]]
    assert keys(limited) == [f"bulk/c{i:05d}/0" for i in range(4)]
    assert limited["manifest"]["subset"] == {"limit": 4} and "certifies nothing" in limited["notice"]
    first, a = go("--sample", "5", "--seed", "7")
    _, b = go("--sample", "5", "--seed", "7")
    _, c = go("--sample", "5", "--seed", "8")
    assert len(keys(a)) == 5 and keys(a) == keys(b) != keys(c)
    assert a["manifest"]["subset"] == {"sample": 5} and a["manifest"]["inputs_sha256"] != limited["manifest"][
        "inputs_sha256"]
    assert a["reason"].startswith("on part of each suite only (--sample), certifying nothing: ")
    done = harness_cli("run", "--target", str(target), "--suite", suite, "--profile", str(profile), "--limit", "2",
                       "--sample", "2")
    assert done.returncode == 2 and "--limit and --sample" in done.stderr
    done = harness_cli("run", "--target", str(target), "--suite", suite, "--profile", str(profile), "--limit", "2",
                       "--sign-key", str(tmp_path / "any.pem"))
    assert done.returncode == 2 and "cannot be signed" in done.stderr

    # with a profile that samples too, a rescore rebuilds the very cases the run sent: the
    # profile's sample first, then the part (no attempt becomes an unknown case)
    sampling = tmp_path / "sampling.yaml"
    sampling.write_text(profile.read_text().replace('x-profile: {version: "1", ',
                                                    'x-profile: {version: "1", sample: {per_category: 4}, '))
    for extra in (("--limit", "3"), ("--sample", "5", "--seed", "3")):
        done = harness_cli("run", "--target", str(target), "--suite", suite, "--profile", str(sampling),
                           "--out", str(tmp_path / "runs"), "--progress", "none", "--json", *extra)
        run_id = json.loads(done.stdout)["run_id"]
        sent = keys(json.loads((tmp_path / "runs" / run_id / "report.json").read_text()))
        done = harness_cli("rescore", run_id, "--out", str(tmp_path / "runs"))
        assert done.returncode in (0, 1, 3), done.stderr
        again = json.loads(Path(next(line.removeprefix("report: ") for line in done.stdout.splitlines()
                                     if line.endswith("report.json"))).read_text())
        bulk = again["metrics"]["suites"]["bulk"]
        assert bulk["n"] == len(sent) and bulk["valid_n"] == len(sent), (extra, bulk.get("errors_by_kind"))
