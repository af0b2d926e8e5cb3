"""Signed reports end to end, as a user runs them: ``harness keys generate``, a real run
against the reference chat target with ``--sign-key``, and ``harness verify`` on the
report, on a tampered report and against suite and profile files on disk."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi import FastAPI, Request

from harness.serving import serve_in_thread
from harness.signing import key_id, load_public_key
from tests.helpers import write
from tests.integration.conftest import (
    harness_cli,
    overview_suite,
    pass_rate_profile,
    target_file,
)


@pytest.fixture
def keys(tmp_path) -> tuple[Path, Path]:
    done = harness_cli("keys", "generate", "--out", str(tmp_path / "keys"))
    assert done.returncode == 0, done.stderr
    private, public = tmp_path / "keys" / "private.pem", tmp_path / "keys" / "public.pem"
    assert f"key id: {key_id(load_public_key(public))}" in done.stdout
    assert str(private) in done.stdout and str(public) in done.stdout
    return private, public


@pytest.fixture
def signed_run(tmp_path, reference, keys) -> dict[str, Path]:
    """A signed run of 40 cases: files in tmp_path/inputs, the run in tmp_path/runs/r1."""
    inputs = tmp_path / "inputs"
    target = target_file(inputs, reference("safe"))
    suite = overview_suite(inputs / "suites", 40)
    profile = pass_rate_profile(inputs)
    done = harness_cli("run", "--target", str(target), "--suite", str(suite), "--profile", str(profile),
                       "--out", str(tmp_path / "runs"), "--run-id", "r1", "--sign-key", str(keys[0]))
    assert done.returncode == 0, done.stdout + done.stderr  # 4 in 5 pass, the profile asks for half
    return {"report": tmp_path / "runs" / "r1" / "report.json", "run_dir": tmp_path / "runs" / "r1",
            "suites": inputs / "suites", "suite": suite, "profile": profile, "private": keys[0], "public": keys[1]}


def verify(run: dict[str, Path], *extra: str, report: Path | None = None, key: Path | None = None):
    return harness_cli("verify", str(report or run["report"]), "--key", str(key or run["public"]), *extra)


def test_a_signed_run_verifies(signed_run):
    report = json.loads(signed_run["report"].read_text(encoding="utf-8"))
    sig = report["signature"]
    assert sig["alg"] == "Ed25519" and sig["canonical"] == "RFC8785"
    assert sig["key_id"] == key_id(load_public_key(signed_run["public"]))
    done = verify(signed_run)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("intact") and sig["key_id"] in done.stdout
    # the report is still a valid report, and the store holds the same signed report
    assert harness_cli("validate", "--kind", "report", str(signed_run["report"])).returncode == 0
    from harness.store import Store

    store = Store.open(f"sqlite:///{signed_run['run_dir'] / 'store.db'}")
    try:
        assert store.get_run("r1").report["signature"] == sig
    finally:
        store.close()
    # with the files the run used, the manifest's sha256 match too
    done = verify(signed_run, "--suites", str(signed_run["suites"]), "--profile", str(signed_run["profile"]))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "suite(s) match" in done.stdout and "profile matches" in done.stdout


def test_a_tampered_report_fails(signed_run, tmp_path):
    text = signed_run["report"].read_text(encoding="utf-8")
    report = json.loads(text)
    passed = report["metrics"]["suites"]["bulk"]["passed"]
    tampered = text.replace(f'"passed": {passed},', f'"passed": {passed + 1},', 1)
    assert tampered != text
    path = write(tmp_path / "tampered.json", tampered)
    done = verify(signed_run, report=path)
    assert done.returncode == 1
    assert done.stdout.splitlines() == ["the signature does not match: the report was changed after signing"]

    report.pop("signature")
    done = verify(signed_run, report=write(tmp_path / "unsigned.json", json.dumps(report)))
    assert done.returncode == 1 and "no signature" in done.stdout


def test_a_swapped_suite_file_is_named(signed_run, tmp_path):
    swapped = tmp_path / "swapped"
    shutil.copytree(signed_run["suites"], swapped)
    overview_suite(swapped / "nested", 41)  # same id (bulk), other cases, deeper in the folder
    (swapped / "bulk.yaml").unlink()
    done = verify(signed_run, "--suites", str(swapped), "--profile", str(signed_run["profile"]))
    assert done.returncode == 1, done.stdout + done.stderr
    [line] = done.stdout.splitlines()
    assert line.startswith("suite bulk: sha256 ") and "in the report" in line and str(swapped / "nested") in line

    done = verify(signed_run, "--suites", str(tmp_path / "keys"))  # a folder without the suite
    assert done.returncode == 1 and done.stdout.splitlines() == [f"suite bulk of the report is not in {tmp_path / 'keys'}"]

    write(signed_run["profile"], signed_run["profile"].read_text().replace("minimum: 0.5", "minimum: 0.4"))
    done = verify(signed_run, "--profile", str(signed_run["profile"]))
    assert done.returncode == 1 and done.stdout.startswith("profile test-bulk: sha256 ")


def test_the_wrong_key_names_both_key_ids(signed_run, tmp_path):
    other = harness_cli("keys", "generate", "--out", str(tmp_path / "other"))
    assert other.returncode == 0
    public = tmp_path / "other" / "public.pem"
    done = verify(signed_run, key=public)
    assert done.returncode == 1
    mine, theirs = key_id(load_public_key(signed_run["public"])), key_id(load_public_key(public))
    assert done.stdout.splitlines() == [f"signed with key {mine}, you gave {theirs}"]


def test_unreadable_input_exits_2(signed_run, tmp_path):
    cases = [
        verify(signed_run, report=tmp_path / "missing.json"),
        verify(signed_run, report=write(tmp_path / "broken.json", '{"verdict": ')),
        verify(signed_run, key=tmp_path / "missing.pem"),
        verify(signed_run, key=write(tmp_path / "junk.pem", "not a key")),
        verify(signed_run, "--suites", str(tmp_path / "nowhere")),
        verify(signed_run, "--profile", str(write(tmp_path / "bad-profile.yaml", "title: [unclosed\n"))),
    ]
    for done in cases:
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stderr.startswith("error: ") and done.stdout == ""


def test_keys_are_not_overwritten_without_force(keys):
    private, public = keys
    before = private.read_bytes(), public.read_bytes()
    again = harness_cli("keys", "generate", "--out", str(private.parent))
    assert again.returncode == 2
    assert "already exist" in again.stderr and "--force" in again.stderr
    assert (private.read_bytes(), public.read_bytes()) == before
    forced = harness_cli("keys", "generate", "--out", str(private.parent), "--force")
    assert forced.returncode == 0, forced.stderr
    assert private.read_bytes() != before[0] and public.read_bytes() != before[1]


@pytest.mark.parametrize("key", ["missing.pem", "public"])
def test_a_bad_sign_key_stops_the_run_before_anything_is_sent(tmp_path, keys, key):
    hits: list[str] = []
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict:
        hits.append("chat")
        return {"choices": [{"message": {"role": "assistant", "content": "overview"}}]}

    with serve_in_thread(app) as url:
        target = target_file(tmp_path, url)
        suite = overview_suite(tmp_path, 5)
        sign_key = tmp_path / key if key != "public" else keys[1]
        done = harness_cli("run", "--target", str(target), "--suite", str(suite), "--profile",
                           str(pass_rate_profile(tmp_path)), "--out", str(tmp_path / "runs"), "--run-id", "r1",
                           "--sign-key", str(sign_key))
    assert done.returncode == 2, done.stdout + done.stderr
    assert str(sign_key) in done.stderr
    assert hits == [] and not (tmp_path / "runs").exists()
