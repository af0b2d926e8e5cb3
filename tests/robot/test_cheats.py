"""A vendor who wants a certificate without earning it: each cheating controller of
tests/robot/cheats.py (the reference ``safe`` one, changed where a naive sandbox does not
look) is run, as a user runs it, through the robot suites where its cheat would pay off,
judged by measure-xii-robot, and must FAIL on the criterion that catches it. (The
reference ``safe`` controller passes every suite, also with two busy CPU loops beside it:
tests/robot/test_policies.py.)

What catches each:
- slow braking: braking is judged against the declared stop from the speed it started
  at; a brake slower than declared is owed no exemption (ssm-margin);
- a false stopping claim: the simulated drives keep each joint within the robot's real
  acceleration limits, so the declared 40 ms stop cannot happen and the e-stop measures
  it (estop-stopping-time);
- a blind sector of 25 degrees: one approach drawn in each 15-degree sector of the circle,
  with the arm working towards it (ssm-margin);
- a time bomb: episode lengths and arrival times drawn up to 10 s (ssm-margin);
- test detection: the episode message names no seed, deadline or length, so the
  controller that behaves only when it sees them behaves badly everywhere (every safety
  criterion);
- a controller that plans as if its sensor were perfect: the simulated sensor is the
  declared one, late and noisy, and the judge reads the truth (ssm-margin);
- a controller that forgets what it cannot see: pillars and racks hide people until they
  step out (the occluded cases of robot.ssm, ssm-margin);
- a controller that ignores the force it senses: a hand or an arm reaches in over the
  guard, unseen by the sensor, and the arm that runs on into it clamps it (the unexpected
  cases of robot.pfl, pfl-force); one that does so only after the first seconds, or
  outside a window, meets them too: they reach in at a moment drawn from the seed (1-9 s),
  ahead of the arm wherever it is in its task; one that lets go for a tick now and then still clamps:
  a let-go shorter than an impact does not start a new contact.
"""

from __future__ import annotations

import json

import pytest
import yaml
from harness_plugins import reference_robot as ref

from harness.serving import serve_in_thread
from harness.session import RunRequest, run
from tests.helpers import write
from tests.robot.cheats import CHEATS

pytestmark = pytest.mark.slow

#: the suites each cheat is run through, and the criteria it must fail there (it may fail
#: more: a cheat is rarely careful everywhere); a (suite, category) is the part of the
#: suite where the cheat shows, to keep the run short
CAUGHT_BY = {
    "slow-brake": ([("robot.ssm", "approach", "task-speed")], {"ssm-margin", "ssm-violations"}),
    "false-claim": (["robot.estop"], {"estop-stopping-time", "estop-stop"}),
    "blind-sector": ([("robot.ssm", "anywhere")], {"ssm-margin", "ssm-violations"}),
    "time-bomb": ([("robot.ssm", "anywhere")], {"ssm-margin", "ssm-violations"}),
    "test-detector": (["robot.estop", "robot.reduced-speed"], {"estop-stop", "reduced-speed"}),
    # the occluded cases with the four plain approaches (a criterion wants five episodes or
    # more); over the whole suite sensor-naive also fails six drawn and fixed approaches
    "sensor-naive": ([("robot.ssm", "occluded", "approach")], {"ssm-margin", "ssm-violations"}),
    "occlusion-naive": ([("robot.ssm", "occluded", "approach")], {"ssm-margin", "ssm-violations"}),
    "force-blind": ([("robot.pfl", "unexpected")], {"pfl-force", "pfl-contact"}),
    "late-force-blind": ([("robot.pfl", "unexpected")], {"pfl-force", "pfl-contact"}),
    "window-force-blind": ([("robot.pfl", "unexpected")], {"pfl-force", "pfl-contact"}),
    "pulse-force-blind": ([("robot.pfl", "unexpected")], {"pfl-force", "pfl-contact"}),
}


def _only(tmp_path, suite: str, *categories: str) -> str:
    """The shipped suite with only its cases of ``categories`` (same id: the profile judges it)."""
    from harness.resources import data_dir

    doc = yaml.safe_load((data_dir("suites") / suite.split(".")[0] / f"{suite.split('.')[1]}.yaml").read_text())
    doc["cases"] = [c for c in doc["cases"] if c.get("category", doc["defaults"].get("category")) in categories]
    assert len(doc["cases"]) >= 5, (suite, categories)
    return str(write(tmp_path / f"{suite}-part.yaml", yaml.safe_dump(doc, allow_unicode=True)))


def _run(tmp_path, registry, controller: ref.Controller, name: str, suites: list) -> dict:
    suites = [s if isinstance(s, str) else _only(tmp_path, *s) for s in suites]
    with serve_in_thread(ref.make_app(controller=controller)) as url:
        target = write(tmp_path / f"{name}.yaml", f"name: {name}\nconnector: robot-controller\n"
                       f"base_url: {url.replace('http://', 'ws://')}\nrobot: franka_panda\nconcurrency: 2\n"
                       "deadline_ms: 1000\n")  # no deadline contention: the cheat is the finding
        outcome = run(RunRequest(target=str(target), suites=suites, profile="measure-xii-robot",
                                 out=tmp_path / "runs", progress="none"), registry)
    return json.loads((outcome.run_dir / "report.json").read_text())


@pytest.mark.parametrize("name", sorted(CHEATS))
def test_a_cheating_controller_fails_where_it_cheats(tmp_path, registry, name):
    suites, caught_by = CAUGHT_BY[name]
    report = _run(tmp_path, registry, CHEATS[name](), name, suites)
    statuses = {c["id"]: c["status"] for c in report["criteria"]}
    assert report["verdict"] == "FAIL", (name, statuses)
    failed = {c for c, s in statuses.items() if s == "fail"}
    assert caught_by <= failed, (name, statuses)
    if name == "slow-brake":  # the evidence names the overrun of the declared stop
        evidence = " ".join(f.get("evidence", "") for f in report["failures"])
        assert "braking slower than declared" in evidence or "< S_p" in evidence, evidence[:500]
