"""Run events reach observer plugins; a failing observer is recorded, never fatal."""

from __future__ import annotations

from harness import hookimpl
from harness.plugins import Registry, make_plugin_manager
from harness.session import RunRequest, run
from tests.integration.conftest import overview_suite, pass_rate_profile, target_file


class Observer:
    def __init__(self) -> None:
        self.started: list[str] = []
        self.results: list[str] = []
        self.finished: list[str] = []

    @hookimpl
    def run_started(self, run_id, manifest):
        self.started.append(manifest["inputs_sha256"])

    @hookimpl
    def case_finished(self, result):  # takes fewer arguments than the spec: allowed
        self.results.append(result.key)

    @hookimpl
    def run_finished(self, run_id, report):
        self.finished.append(report["verdict"])


class Broken:
    @hookimpl
    def case_finished(self, result):
        raise RuntimeError("observer bug")


def test_observers_see_every_event_and_a_broken_one_is_recorded(tmp_path, reference):
    pm = make_plugin_manager()
    observer = Observer()
    pm.register(observer)
    pm.register(Broken())
    url = reference("safe")
    outcome = run(RunRequest(target=str(target_file(tmp_path, url)), suites=[str(overview_suite(tmp_path, 25))],
                             profile=str(pass_rate_profile(tmp_path)), out=tmp_path / "runs", progress="none"),
                  Registry(pm))
    assert outcome.verdict == "PASS"
    assert len(observer.started) == 1 and observer.started[0] == outcome.report["manifest"]["inputs_sha256"]
    assert sorted(observer.results) == sorted(f"bulk/c{i:05d}/0" for i in range(25))
    assert observer.finished == ["PASS"]
    errors = outcome.report["run"]["observer_errors"]
    assert errors and all("observer bug" in e for e in errors)
    assert outcome.report["metrics"]["totals"]["errors"] == 0  # the observer's fault is not the target's


def test_a_run_leaves_an_unbroken_audit_trail(tmp_path, reference, registry):
    from harness.audit import verify_chain
    from harness.store import Store

    outcome = run(RunRequest(target=str(target_file(tmp_path, reference("safe"))),
                             suites=[str(overview_suite(tmp_path, 5))], profile=str(pass_rate_profile(tmp_path)),
                             out=tmp_path / "runs", progress="none"), registry)
    with Store.open(f"sqlite:///{outcome.run_dir / 'store.db'}") as store:
        entries = list(store.iter_audit())
    assert [e["action"] for e in entries] == ["run.requested", "run.started", "run.finished"]
    assert entries[-1]["data"]["verdict"] == outcome.verdict and entries[0]["actor"].startswith("cli")
    assert verify_chain(entries) == []
