"""The simulated work cell's own behaviour towards the user."""

from __future__ import annotations

import subprocess
import sys


def test_the_simulator_prints_nothing_of_its_own():
    """PyBullet writes its build time to stderr from C on import; the harness silences
    that one import, so a user's terminal shows only the harness's own lines."""
    done = subprocess.run([sys.executable, "-c", "import harness.robot.sim as s; s.pb.connect(s.pb.DIRECT)"],
                          capture_output=True, text=True, check=True)
    assert "pybullet build time" not in done.stdout + done.stderr, done.stderr
    # the check can fail: PyBullet imported plainly does print it
    plain = subprocess.run([sys.executable, "-c", "import pybullet"], capture_output=True, text=True, check=True)
    assert "pybullet build time" in plain.stdout + plain.stderr
