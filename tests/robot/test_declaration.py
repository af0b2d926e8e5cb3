"""A vendor's declaration is checked like every file a user touches: `harness validate`
knows it by its content, and each problem names the line and the fix."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from harness.robot.declaration import Declaration, REFERENCE, load
from tests.helpers import write


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, timeout=120)


def test_a_good_declaration_validates_and_loads(tmp_path):
    path = write(tmp_path / "acme.yaml", yaml.safe_dump(REFERENCE, sort_keys=False))
    done = harness("validate", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "declaration" in done.stdout + done.stderr
    declared = load(path)
    assert declared.stopping(250.0) == (0.15, 25.0)
    assert declared.stopping(625.0) == (0.2, 82.5)  # linear between the declared speeds
    # beyond the table: the top row's deceleration, never the top row held (240 mm at 1,500 mm/s)
    assert declared.stopping(3000.0) == (0.6, 960.0)
    short = Declaration({**REFERENCE, "stopping": [{"speed_mm_s": 250.0, "time_s": 0.15, "distance_mm": 25.0}]})
    assert short.stopping(900.0)[1] == pytest.approx(25.0 * (900 / 250) ** 2)


def test_a_bad_declaration_names_each_problem_with_its_line(tmp_path):
    bad = {**REFERENCE, "estop_category": 2, "watchdog_s": 60}
    del bad["stopping"]
    path = write(tmp_path / "bad.yaml", yaml.safe_dump(bad, sort_keys=False))
    done = harness("validate", str(path))
    assert done.returncode == 2
    out = done.stdout + done.stderr
    assert "stopping" in out and "estop_category" in out and "watchdog_s" in out, out
    assert f"{path}:" in out  # file and line of each problem
