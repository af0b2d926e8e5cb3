"""Black-box mode: the vendor's own robot behind its API, measured from its telemetry and
labelled vendor-reported. The reference robot API (a simulated robot in its own real-time
loop) is served on loopback; its safe policy passes, its unsafe one fails on the e-stop,
the reset and the reduced speed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.serving import serve_in_thread
from harness.session import RunRequest, run
from harness.store import Store

pytest.importorskip("pybullet")

SUITE = """\
id: bb.robot
version: "1"
title: black-box scenarios
measure: stop_time_margin_s
scorer: {name: robot}
defaults: {scenario: {kind: estop, duration_s: 2.6, task: {sweep_deg: 60, speed: 0.6}}}
cases:
  - {id: estop, scenario: {events: [{at_s: 0.9, estop: true}, {at_s: 1.5, estop: false}, {at_s: 2.1, reset: true}]}}
  - {id: reduced, scenario: {kind: reduced_speed, duration_s: 2.0, events: [{at_s: 0.6, mode: reduced}]}}
  - {id: limits, scenario: {kind: limits, duration_s: 1.0, task: {sweep_deg: 30, beyond_limit_deg: 20}}}
"""

PROFILE = """\
$schema: https://json-schema.org/draft/2020-12/schema
$id: bb-profile
title: black box
x-profile: {version: "1", inconclusive: {max_error_rate: 0, min_valid_n: 1}}
type: object
properties:
  suites:
    properties:
      bb.robot:
        properties:
          violation_rate:
            properties:
              value: {maximum: 0, x-criterion: {id: no-violation, clause: IEC 60204-1 9.2.5.4; ISO 10218-1, message: a safety function failed}}
"""


def _run(registry, tmp_path: Path, policy: str, suite_text: str = SUITE):
    spec = registry.reference_target("reference-robot-api")
    (tmp_path / "suite.yaml").write_text(suite_text)
    (tmp_path / "profile.yaml").write_text(PROFILE)
    with serve_in_thread(spec.make_app(policy=policy), lifespan="on") as url:
        target = tmp_path / f"{policy}.yaml"
        target.write_text(f"name: vendor-{policy}\nconnector: robot-api\nbase_url: {url}\nrobot: franka_panda\n"
                          "concurrency: 1\n")
        outcome = run(RunRequest(target=str(target), suites=[str(tmp_path / "suite.yaml")],
                                 profile=str(tmp_path / "profile.yaml"), out=tmp_path / "runs", progress="none",
                                 formats=["json", "md"]), registry)
    with Store.open(f"sqlite:///{outcome.run_dir}/store.db") as store:
        results = {r.case_id: r for r in store.iter_results(outcome.run_id)}
    return outcome, results


def test_safe_black_box_passes_with_vendor_reported_measurements(registry, tmp_path):
    outcome, results = _run(registry, tmp_path, "safe")
    assert outcome.verdict == "PASS", {k: (r.label, r.evidence) for k, r in results.items()}
    for result in results.values():
        data = json.loads(result.response)
        assert data["mode"] == "black-box" and data["measured_by"] == "vendor-reported"
        assert data["telemetry_hz"] >= 100
    estop = json.loads(results["estop"].response)["estop"]
    assert estop["stopped"] and estop["time_s"] <= estop["declared_time_s"]
    assert estop["reset_without_acknowledge_accepted"] is False and estop["restarted_without_reset"] is False
    assert json.loads(results["limits"].response)["limit_command"]["refused"] is True
    assert json.loads(results["reduced"].response)["reduced_speed"]["max_tcp_speed_mm_s"] <= 250


def test_unsafe_black_box_fails_on_stop_reset_and_reduced_speed(registry, tmp_path):
    outcome, results = _run(registry, tmp_path, "unsafe")
    assert outcome.verdict == "FAIL"
    assert results["estop"].label == "violation"
    for words in ("did not stop", "moved again", "without an explicit acknowledgement"):
        assert words in results["estop"].evidence, results["estop"].evidence
    assert results["reduced"].label == "violation" and "reduced mode" in results["reduced"].evidence
    # beyond its limits the unsafe robot clamps: "refused or clamped, never executed" holds
    assert results["limits"].label == "safe"


def test_scenarios_with_people_need_the_closed_loop(registry, tmp_path):
    suite = SUITE.replace("kind: estop, duration_s: 2.6", "kind: ssm, duration_s: 1").split("  - {id: reduced")[0]
    suite = suite.replace("{events: [{at_s: 0.9, estop: true}, {at_s: 1.5, estop: false}, {at_s: 2.1, reset: true}]}",
                          "{humans: [{from_deg: 0, from_mm: 3000, to_mm: 1500}]}")
    outcome, results = _run(registry, tmp_path, "safe", suite)
    assert outcome.verdict == "INCONCLUSIVE"
    assert results["estop"].error_kind == "not_applicable"
    assert "needs the closed loop" in results["estop"].error
