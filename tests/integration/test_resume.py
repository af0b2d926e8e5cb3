"""A run killed with SIGKILL at any moment resumes with nothing lost and nothing done
twice; a resume whose inputs changed is refused by name."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.integration.conftest import (
    harness_cli,
    overview_suite,
    pass_rate_profile,
    target_file,
)

N = 600


def _count(db_path) -> int:
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("select count(*) from results").fetchone()[0]
    except sqlite3.Error:
        return 0


def _metrics(run_dir):
    report = json.loads((run_dir / "report.json").read_text())
    return report["verdict"], report["metrics"]


@pytest.mark.parametrize("kill_after", [1, N // 2])
def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path, reference, kill_after):
    url = reference("safe", latency_ms=20)
    target = target_file(tmp_path, url, concurrency=8)
    suite = overview_suite(tmp_path, N)
    profile = pass_rate_profile(tmp_path)
    out = tmp_path / "runs"
    args = ["--target", str(target), "--suite", str(suite), "--profile", str(profile), "--out", str(out)]

    whole = harness_cli("run", *args, "--run-id", "whole")
    assert whole.returncode == 0, whole.stderr

    proc = subprocess.Popen([sys.executable, "-m", "harness", "run", *args, "--run-id", "killed"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "CI": "true"})
    db_path = out / "killed" / "store.db"
    deadline = time.monotonic() + 60
    while _count(db_path) < kill_after and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored = _count(db_path)
    assert 0 < stored < N, f"the kill came too late or too early ({stored} stored)"
    assert not (out / "killed" / "report.json").exists()

    resumed = harness_cli("run", "--resume", "killed", "--out", str(out))
    assert resumed.returncode == 0, resumed.stderr
    with sqlite3.connect(db_path) as db:
        keys = [k for (k,) in db.execute("select key from results")]
        assert len(keys) == len(set(keys)) == N  # every case once: nothing lost, nothing twice
        sent_twice = db.execute("select count(*) from results where tries > 1").fetchone()[0]
        assert sent_twice == 0
    verdict_whole, metrics_whole = _metrics(out / "whole")
    verdict_resumed, metrics_resumed = _metrics(out / "killed")
    assert verdict_resumed == verdict_whole
    assert metrics_resumed == metrics_whole


def test_resume_with_changed_suite_is_refused_by_name(tmp_path, reference):
    url = reference("safe")
    target = target_file(tmp_path, url)
    suite = overview_suite(tmp_path, 20)
    profile = pass_rate_profile(tmp_path)
    out = tmp_path / "runs"
    first = harness_cli("run", "--target", str(target), "--suite", str(suite), "--profile", str(profile),
                        "--out", str(out), "--run-id", "r1")
    assert first.returncode == 0, first.stderr
    suite.write_text(suite.read_text().replace("topic number 3.", "topic number three."))
    again = harness_cli("run", "--resume", "r1", "--out", str(out))
    assert again.returncode == 2
    assert "suite bulk changed" in again.stderr and "sha256" in again.stderr


def test_resume_of_unknown_run(tmp_path):
    done = harness_cli("run", "--resume", "nope", "--out", str(tmp_path))
    assert done.returncode == 2 and "no run nope" in done.stderr


def test_sigterm_stops_cleanly_and_the_run_resumes(tmp_path, reference):
    url = reference("safe", latency_ms=50)
    target = target_file(tmp_path, url, concurrency=4)
    suite = overview_suite(tmp_path, 200)
    out = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "harness", "run", "--target", str(target), "--suite", str(suite),
                             "--profile", str(pass_rate_profile(tmp_path)), "--out", str(out), "--run-id", "t"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "CI": "true"})
    db_path = out / "t" / "store.db"
    deadline = time.monotonic() + 30
    while _count(db_path) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "harness run --resume t" in err
    stored = _count(db_path)
    assert 0 < stored < 200
    resumed = harness_cli("run", "--resume", "t", "--out", str(out))
    assert resumed.returncode == 0, resumed.stderr
    assert _count(db_path) == 200


def test_resume_from_elsewhere_with_other_limits(tmp_path, reference):
    """The manifest keeps absolute paths, and the runner's limits (concurrency, rpm...)
    may change on resume: they say how hard to push, not what is measured."""
    target_file(tmp_path, reference("safe"), concurrency=2)
    overview_suite(tmp_path, 20)
    pass_rate_profile(tmp_path)
    first = harness_cli("run", "--target", "target.yaml", "--suite", "bulk.yaml", "--profile", "profile.yaml",
                        "--out", "runs", "--run-id", "r", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    other = tmp_path / "elsewhere"
    other.mkdir()
    again = harness_cli("run", "--resume", "r", "--out", str(tmp_path / "runs"), "--concurrency", "7", cwd=other)
    assert again.returncode == 0, again.stderr
    report = json.loads((tmp_path / "runs" / "r" / "report.json").read_text())
    assert report["manifest"]["target"]["limits"]["concurrency"] == 2  # the run's manifest is kept
