"""How robot.pfl's unexpected contacts judge each controller: the five cases where a
hand, an arm or a chest reaches in unseen, run in process on several seeds for the
reference policies and the force cheats of tests/robot/cheats.py; an episode fails when
the robot scorer finds a problem in it (a force over its limit, or no contact at all).

    uv run python benchmarks/robot_contacts.py                        # seeds 0-5, every controller
    uv run python benchmarks/robot_contacts.py --seeds 6:14 --controllers safe,laggy

Prints per controller the episodes that failed, the failing cases on each seed, and the
earliest and latest contact onsets (s).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from harness.plugins import Registry, make_plugin_manager  # noqa: E402
from harness.robot import episode  # noqa: E402
from harness.robot.links import LocalLink  # noqa: E402
from harness.robot.robots import robot_model  # noqa: E402
from harness.suite import resolve_suite  # noqa: E402
from harness_plugins import reference_robot as ref  # noqa: E402
from harness_plugins.robot_scorers import RULES  # noqa: E402

from tests.robot.cheats import CHEATS  # noqa: E402

CONTROLLERS = ("safe", "laggy", "unsafe", "force-blind", "late-force-blind", "window-force-blind",
               "pulse-force-blind")


async def measure(name: str, seeds: range) -> None:
    cases = [c for c in resolve_suite("robot.pfl", Registry(make_plugin_manager())).cases if c.category == "unexpected"]
    controller = ref.Controller(name) if name in ref.POLICIES else CHEATS[name]()
    model = robot_model("franka_panda")
    failed, per_seed, onsets = 0, [], []
    for seed in seeds:
        bad = []
        for case in cases:
            out = await episode.run(LocalLink(controller), model, controller.declaration, dict(case.scenario),
                                    seed=seed, case_id=case.id)
            if RULES["pfl"](out)[0]:
                bad.append(case.id)
            onsets += [c["onset_s"] for c in out["contacts"].values()]
        failed += len(bad)
        per_seed.append(len(bad))
    span = f"{min(onsets):.2f}-{max(onsets):.2f} s" if onsets else "none"
    print(f"{name:20} {failed}/{len(cases) * len(seeds)} episodes failed; failing cases per seed {per_seed}; "
          f"contact onsets {span}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0:6", help="LO:HI, the seeds LO to HI-1")
    ap.add_argument("--controllers", default=",".join(CONTROLLERS))
    args = ap.parse_args()
    lo, hi = map(int, args.seeds.split(":"))
    for name in args.controllers.split(","):
        asyncio.run(measure(name, range(lo, hi)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
