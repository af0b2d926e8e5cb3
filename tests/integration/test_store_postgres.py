"""A whole run and its resume with PostgreSQL as the store (the platform's setting)."""

from __future__ import annotations

import uuid

import pytest

from harness.session import RunRequest, run
from harness.store import Store
from tests.integration.conftest import (
    harness_cli,
    overview_suite,
    pass_rate_profile,
    target_file,
)

pytestmark = pytest.mark.postgres


def test_run_and_resume_on_postgres(tmp_path, reference, registry, pg_url):
    url = reference("safe")
    target = target_file(tmp_path, url)
    suite = overview_suite(tmp_path, 50)
    profile = pass_rate_profile(tmp_path)
    run_id = f"pg-{uuid.uuid4().hex[:12]}"
    outcome = run(RunRequest(target=str(target), suites=[str(suite)], profile=str(profile), out=tmp_path / "runs",
                             run_id=run_id, db=pg_url, progress="none"), registry)
    assert outcome.verdict == "PASS"
    assert not (outcome.run_dir / "store.db").exists()  # nothing went to SQLite
    with Store.open(pg_url) as store:
        record = store.get_run(run_id)
        assert record.status == "finished" and record.verdict == "PASS"
        assert store.count_results(run_id) == 50
        assert record.report["metrics"] == outcome.report["metrics"]
    # resuming a finished run sends nothing and judges the same
    again = harness_cli("run", "--resume", run_id, "--db", pg_url, "--out", str(tmp_path / "runs"))
    assert again.returncode == 0, again.stderr
    with Store.open(pg_url) as store:
        assert store.count_results(run_id) == 50
