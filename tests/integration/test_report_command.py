"""``harness report RUN_ID``: a finished run's stored report rendered again, as a user
calls it (``python -m harness`` in a subprocess), into a fresh folder or the run's own,
from the default store or ``--db``; and its errors (exit 2)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from harness.store import Store
from tests.integration.conftest import harness_cli
from tests.plugins.test_junit_report import mixed_run

NAMES = {"json": "report.json", "junit": "report.junit.xml", "md": "report.md"}


def test_rerendered_files_equal_the_runs_own(tmp_path, reference, registry):
    outcome = mixed_run(tmp_path, reference("safe"), registry)
    fresh = tmp_path / "fresh" / "deeper"
    done = harness_cli("report", outcome.run_id, "--out", str(tmp_path / "runs"), "--dest", str(fresh),
                       "--format", "json", "--format", "junit", "--format", "md")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [str(fresh / NAMES[f]) for f in ("json", "junit", "md")]
    for name in NAMES.values():
        assert (fresh / name).read_bytes() == (outcome.run_dir / name).read_bytes(), name
    assert json.loads((fresh / "report.json").read_text(encoding="utf-8")) == outcome.report


def test_default_destination_is_the_run_folder(tmp_path, reference, registry):
    outcome = mixed_run(tmp_path, reference("safe"), registry)
    md = outcome.run_dir / "report.md"
    before = md.read_bytes()
    md.unlink()
    done = harness_cli("report", outcome.run_id, "--out", str(tmp_path / "runs"), "--format", "md,junit")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [str(md), str(outcome.run_dir / "report.junit.xml")]
    assert md.read_bytes() == before


def test_every_registered_format_by_default_from_a_store_given_by_url(tmp_path, reference, registry):
    db = tmp_path / "platform.db"
    outcome = mixed_run(tmp_path, reference("safe"), registry, db=f"sqlite:///{db}")
    assert not (outcome.run_dir / "store.db").exists()
    dest = tmp_path / "all"
    # the HTML and PDF reporters are another plugin's, tested on their own (the PDF one
    # needs a browser): blocked here, so "every registered format" is whatever is left
    plugins = ("--block", "html_report")
    listed = harness_cli(*plugins, "list", "reporters", "--json")
    assert listed.returncode == 0, listed.stderr
    registered = {item["name"] for item in json.loads(listed.stdout)}
    assert set(NAMES) <= registered
    done = harness_cli(*plugins, "report", outcome.run_id, "--db", f"sqlite:///{db}", "--out",
                       str(tmp_path / "elsewhere"), "--dest", str(dest))
    assert done.returncode == 0, done.stderr
    written = [Path(line) for line in done.stdout.splitlines()]
    assert len(written) == len(registered) and all(p.parent == dest and p.exists() for p in written)
    assert {p.name for p in written} == {p.name for p in dest.iterdir()}
    for name in NAMES.values():
        assert (dest / name).read_bytes() == (outcome.run_dir / name).read_bytes(), name


def test_a_run_without_a_report_must_be_resumed_first(tmp_path, reference, registry):
    outcome = mixed_run(tmp_path, reference("safe"), registry)
    # a run that was interrupted: its manifest and some results are stored, no report
    run_id = "interrupted-1"
    folder = tmp_path / "runs" / run_id
    folder.mkdir()
    shutil.copy(outcome.run_dir / "store.db", folder / "store.db")
    with Store.open(f"sqlite:///{folder / 'store.db'}") as store:
        manifest = store.get_run(outcome.run_id).manifest
        store.create_run(run_id, manifest, manifest["inputs_sha256"])
        store.set_status(run_id, "stopped", stop_reason="interrupted")
    done = harness_cli("report", run_id, "--out", str(tmp_path / "runs"), "--dest", str(tmp_path / "d"))
    assert done.returncode == 2
    assert f"run {run_id} has no report: it did not finish (stopped: interrupted)" in done.stderr
    assert f"harness run --resume {run_id} --out {tmp_path / 'runs'}" in done.stderr
    assert not (tmp_path / "d").exists()


def test_unknown_format_and_unknown_run(tmp_path, reference, registry):
    outcome = mixed_run(tmp_path, reference("safe"), registry)
    runs = str(tmp_path / "runs")
    dest = tmp_path / "d"
    done = harness_cli("report", outcome.run_id, "--out", runs, "--dest", str(dest), "--format", "md",
                       "--format", "docx")
    assert done.returncode == 2
    assert "no report format 'docx'" in done.stderr
    hint = next(line for line in done.stderr.splitlines() if line.startswith("hint: use one of: "))
    assert {"json", "junit", "md"} <= set(hint.removeprefix("hint: use one of: ").split(", "))
    assert not dest.exists()  # nothing written, not even the formats that exist

    done = harness_cli("report", "no-such-run", "--out", runs)
    assert done.returncode == 2 and "no run no-such-run under" in done.stderr
    assert not (tmp_path / "runs" / "no-such-run").exists()  # no empty store left behind

    db = f"sqlite:///{tmp_path / 'runs' / outcome.run_id / 'store.db'}"
    done = harness_cli("report", "no-such-run", "--db", db, "--out", runs)
    assert done.returncode == 2 and "no run no-such-run in the store" in done.stderr


def test_a_signed_report_stays_verifiable_when_rendered_again(tmp_path, reference, registry):
    keys = harness_cli("keys", "generate", "--out", str(tmp_path / "keys"))
    assert keys.returncode == 0, keys.stderr
    outcome = mixed_run(tmp_path, reference("safe"), registry, sign_key=tmp_path / "keys" / "private.pem")
    assert "signature" in outcome.report
    fresh = tmp_path / "fresh"
    done = harness_cli("report", outcome.run_id, "--out", str(tmp_path / "runs"), "--dest", str(fresh),
                       "--format", "json", "--format", "md")
    assert done.returncode == 0, done.stderr
    assert (fresh / "report.json").read_bytes() == (outcome.run_dir / "report.json").read_bytes()
    checked = harness_cli("verify", str(fresh / "report.json"), "--key", str(tmp_path / "keys" / "public.pem"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"key id `{outcome.report['signature']['key_id']}`" in (fresh / "report.md").read_text(encoding="utf-8")


def test_a_run_asked_for_other_formats_still_writes_its_report_json(tmp_path, reference, registry):
    from tests.plugins.test_junit_report import mixed_profile, mixed_suite, target_file

    from harness.session import RunRequest, run

    target = target_file(tmp_path, reference("safe"), name="ref-target")
    outcome = run(RunRequest(target=str(target), suites=[str(mixed_suite(tmp_path))],
                             profile=str(mixed_profile(tmp_path)), out=tmp_path / "runs", progress="none",
                             formats=["md"]), registry)
    assert [p.name for p in outcome.paths] == ["report.json", "report.md"]
    assert json.loads((outcome.run_dir / "report.json").read_text(encoding="utf-8")) == outcome.report
