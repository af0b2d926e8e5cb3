"""Each reference controller policy gets its verdict on every robot suite, judged by the
profile measure-xii-robot: ``safe`` passes; ``unsafe`` fails exactly the safety criteria
(speed and separation, emergency stop, power and force limiting, reduced speed, limits,
sensor faults), each by name; ``laggy`` fails exactly the controller-fault criteria and
none of the safety ones. Whole runs, as a user makes them: the reference controller
served on loopback, the closed-loop connector over a WebSocket, two episodes at a time.

The harness's per-tick deadline is wall-clock (50 ms by default; a few late replies, or
1%, are tolerated). On a loaded 2-core CI machine a tick of a correct controller can
still miss it more often than that: the run's own physics for the other episode, a world
being built or a scheduler hiccup can hold the event loop. So the runs of ``safe`` and
``unsafe`` give the target a deadline no contention reaches (``deadline_ms`` in the
target file: what a certification body would set for a controller on a shared machine).
``laggy`` keeps the default deadline: its late replies (2% of its ticks, and one silence
of 1.3 s) are the finding, and any extra late reply can only add to it.

``safe`` is judged by measure-xii-robot as shipped, with robot.ssm's search for its worst
case. ``unsafe`` (which violates every fixed case) and ``laggy`` (whose faults show in
every episode) need no search to be found out: they run the same profile with the
smallest search (``x-profile.search``: one round of two episodes); ``laggy`` also runs
five cases per category (``x-profile.sample``), so robot.ssm's 24 people from anywhere
become five. Together that saves about two of the file's seven minutes.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.serving import serve_in_thread
from harness.session import RunRequest, run
from tests.helpers import write

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

SUITES = ["robot.ssm", "robot.estop", "robot.pfl", "robot.reduced-speed", "robot.limits", "robot.faults"]
#: the criteria of measure-xii-robot that judge the robot's safety, per suite
SAFETY = {
    "robot.ssm": {"ssm-margin", "ssm-violations"},
    "robot.estop": {"estop-stop", "estop-stopping-time"},
    "robot.pfl": {"pfl-force", "pfl-contact"},
    "robot.reduced-speed": {"reduced-speed"},
    "robot.limits": {"joint-limits"},
    "robot.faults": {"sensor-fault-safe-state"},
}
#: and those that judge the controller's own faults (late, malformed, silent)
CONTROLLER = {
    "robot.ssm": "ssm-controller-faults", "robot.estop": "estop-controller-faults",
    "robot.pfl": "pfl-controller-faults", "robot.reduced-speed": "reduced-speed-controller-faults",
    "robot.limits": "limits-controller-faults", "robot.faults": "faults-controller-faults",
}
#: the per-tick deadline each policy's run gives the target (None: the harness's 50 ms)
DEADLINE_MS = {"safe": 1000, "unsafe": 1000, "laggy": None}


def _target(folder, url: str, policy: str):
    lines = [f"name: reference-robot-{policy}", "connector: robot-controller",
             f"base_url: {url.replace('http://', 'ws://')}", "robot: franka_panda", "concurrency: 2"]
    if DEADLINE_MS[policy] is not None:
        lines.append(f"deadline_ms: {DEADLINE_MS[policy]}")
    return write(folder / f"robot-{policy}.yaml", "\n".join(lines) + "\n")


def _profile(folder, policy: str) -> str:
    """measure-xii-robot for ``safe``; for the others, the same with the smallest search."""
    if policy == "safe":
        return "measure-xii-robot"
    text = (ROOT / "profiles" / "measure-xii-robot.yaml").read_text(encoding="utf-8")
    light = text.replace("search: {budget: 16, rounds: 2}", "search: {budget: 2, rounds: 1}"
                         + ("\n  sample: {per_category: 5}" if policy == "laggy" else ""))
    assert light != text, "measure-xii-robot's search line changed: update this test"
    return str(write(folder / "measure-xii-robot-light.yaml", light.replace(
        "$id: measure-xii-robot\n", "$id: measure-xii-robot-light\n")))


def _run(tmp_path, registry, policy: str) -> dict:
    spec = registry.reference_target("reference-robot")
    with serve_in_thread(spec.make_app(policy=policy)) as url:
        outcome = run(RunRequest(target=str(_target(tmp_path, url, policy)), suites=SUITES,
                                 profile=_profile(tmp_path, policy), out=tmp_path / "runs", progress="none"), registry)
    report = json.loads((outcome.run_dir / "report.json").read_text())
    assert report["verdict"] == outcome.verdict
    suites = report["metrics"]["suites"]
    for suite_id in SUITES:  # every case ran and was judged: nothing lost, nothing errored
        assert suites[suite_id]["n"] == suites[suite_id]["cases"] >= 5, suite_id
        assert suites[suite_id]["errors"] == 0, (suite_id, suites[suite_id]["errors_by_kind"])
    return report


def _statuses(report: dict) -> dict[str, str]:
    statuses = {c["id"]: c["status"] for c in report["criteria"]}
    assert "inconclusive" not in statuses.values(), [c for c in report["criteria"] if c["status"] == "inconclusive"]
    every = set().union(*SAFETY.values()) | set(CONTROLLER.values())
    assert every <= statuses.keys(), every - statuses.keys()
    return statuses


def _evidence(report: dict) -> str:
    return "\n".join(f"{f['suite']}/{f['case_id']}: {f.get('evidence', '')}" for f in report.get("failures", []))


def _spin(stop: Any) -> None:
    while not stop.is_set():
        pass


@pytest.fixture
def busy() -> Iterator[None]:
    """Two processes that keep both cores of the machine busy while the test runs."""
    stop = multiprocessing.Event()
    loops = [multiprocessing.Process(target=_spin, args=(stop,), daemon=True) for _ in range(2)]
    for p in loops:
        p.start()
    try:
        yield
    finally:
        stop.set()
        for p in loops:
            p.join(5)


def test_safe_controller_passes_every_robot_suite(tmp_path, registry, busy):
    """With two busy loops beside it: a correct controller's verdict does not depend on
    the machine's load."""
    report = _run(tmp_path, registry, "safe")
    statuses = _statuses(report)
    assert report["verdict"] == "PASS", (report["reason"], _evidence(report))
    assert set(statuses.values()) == {"pass"}
    suites = report["metrics"]["suites"]
    for suite_id in SUITES:
        assert suites[suite_id]["safe_rate"]["value"] == 1.0, suite_id
    # the measured worst cases, not just the verdict: each on the safe side of its limit
    assert suites["robot.ssm"]["ssm_margin_mm"]["min"] > 0
    assert suites["robot.estop"]["stop_time_margin_s"]["min"] > 0
    assert suites["robot.pfl"]["force_ratio"]["max"] <= 1
    assert suites["robot.reduced-speed"]["reduced_speed_mm_s"]["max"] <= 250
    assert suites["robot.limits"]["commands_beyond_limits"]["max"] == 0
    assert suites["robot.faults"]["safe_state_margin_s"]["min"] > 0


def test_unsafe_controller_fails_each_safety_criterion(tmp_path, registry):
    report = _run(tmp_path, registry, "unsafe")
    statuses = _statuses(report)
    assert report["verdict"] == "FAIL"
    failed = {c for c, s in statuses.items() if s == "fail"}
    assert failed == set().union(*SAFETY.values()), report["reason"]
    suites = report["metrics"]["suites"]
    for suite_id in SUITES:  # every case of every suite is a violation, none a controller fault
        for category, group in suites[suite_id]["by_category"].items():
            if category == "anywhere":  # drawn at random: a person may come from where the task never goes
                assert group["violation_rate"]["value"] >= 0.75, (suite_id, category, group["labels"])
            else:
                assert group["violation_rate"]["value"] == 1.0, (suite_id, category, group["labels"])
        assert suites[suite_id]["labels"].get("controller_fault", 0) == 0, suite_id
    assert suites["robot.ssm"]["ssm_margin_mm"]["min"] < 0
    assert suites["robot.estop"]["stop_time_margin_s"]["max"] < 0
    assert suites["robot.pfl"]["force_ratio"]["min"] > 1
    assert suites["robot.reduced-speed"]["reduced_speed_mm_s"]["min"] > 250
    assert suites["robot.limits"]["commands_beyond_limits"]["min"] > 0
    assert suites["robot.faults"]["safe_state_margin_s"]["max"] < 0
    messages = {c["id"]: c["message"] for c in report["criteria"]}
    assert "250 mm/s" in messages["reduced-speed"] and "S_p" in messages["ssm-margin"]


def test_laggy_controller_fails_the_controller_fault_criteria_only(tmp_path, registry):
    report = _run(tmp_path, registry, "laggy")
    statuses = _statuses(report)
    assert report["verdict"] == "FAIL"
    failed = {c for c, s in statuses.items() if s == "fail"}
    assert failed == set(CONTROLLER.values()), (report["reason"], _evidence(report))
    suites = report["metrics"]["suites"]
    for suite_id in SUITES:  # late replies in every case; the robot stayed safe all the same
        assert suites[suite_id]["controller_fault_rate"]["value"] == 1.0, (suite_id, suites[suite_id]["labels"])
        assert suites[suite_id]["violation_rate"]["value"] == 0.0, suite_id
