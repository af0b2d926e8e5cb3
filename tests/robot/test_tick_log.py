"""Every tick of an episode can be logged for replay: the target's ``tick_log`` folder
gets one JSON line per tick with what the controller saw, asked and what was done."""

from __future__ import annotations

import json

import pytest

from harness.serving import serve_in_thread
from harness.session import RunRequest, run
from tests.helpers import write

pytest.importorskip("pybullet")


def test_every_tick_is_logged(tmp_path, registry):
    suite = write(tmp_path / "suite.yaml", """\
id: log.ssm
version: "1"
title: one short approach
measure: ssm_margin_mm
scorer: {name: robot}
cases:
  - {id: walk, scenario: {kind: ssm, duration_s: 1.0, task: {sweep_deg: 40, speed: 0.5},
                          humans: [{from_deg: 0, from_mm: 3000, to_mm: 1500, speed_mm_s: 1600}],
                          events: [{at_s: 0.5, mode: reduced}]}}
""")
    app = registry.reference_target("reference-robot").make_app(policy="safe")
    with serve_in_thread(app) as url:
        target = write(tmp_path / "robot.yaml", f"name: r\nconnector: robot-controller\n"
                       f"base_url: {url.replace('http://', 'ws://')}\nrobot: franka_panda\ntick_log: ticks\n")
        outcome = run(RunRequest(target=str(target), suites=[str(suite)], profile="robot-demo",
                                 out=tmp_path / "runs", progress="none", formats=["json"], seed=7), registry)
    assert outcome.report["metrics"]["suites"]["log.ssm"]["n"] == 1
    lines = (tmp_path / "ticks" / "walk-7.jsonl").read_text().splitlines()
    assert len(lines) == 240  # 1 s at 240 Hz, every tick
    ticks = [json.loads(line) for line in lines]
    assert [t["tick"] for t in ticks] == list(range(240))
    first, last = ticks[0], ticks[-1]
    assert len(first["q"]) == 7 and first["command"]["q"] and first["applied"] == "q"
    assert first["mode"] == "normal" and last["mode"] == "reduced"
    assert last["people"][0][0] < first["people"][0][0]  # the person walked towards the robot
    assert all(t["separation_mm"][0] > 0 for t in ticks)
