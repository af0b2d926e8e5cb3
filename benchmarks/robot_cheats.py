"""How often robot.ssm catches a blind sector: the reference ``safe`` controller made
blind to people at some bearings (tests/robot/cheats.py's BlindSector, given the
sector) runs robot.ssm's drawn cases (``anywhere-*``) and its searched case on
several seeds, in process; a seed catches it when an episode's SSM margin is negative.

    uv run python benchmarks/robot_cheats.py                      # 25, 15 and 10 degree sectors, seeds 0-4
    uv run python benchmarks/robot_cheats.py --sector 140:165 --seeds 10

Prints per sector and seed the smallest margin of the drawn cases and of the search,
then the share of seeds on which either caught it (with a Wilson interval).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from harness.metrics import wilson  # noqa: E402
from harness.plugins import Registry, make_plugin_manager  # noqa: E402
from harness.robot import episode, search  # noqa: E402
from harness.robot.links import LocalLink  # noqa: E402
from harness.robot.robots import robot_model  # noqa: E402
from harness.suite import resolve_suite  # noqa: E402
from harness_plugins import reference_robot as ref  # noqa: E402

from tests.robot.cheats import BlindSector  # noqa: E402


async def one_seed(suite, controller: ref.Controller, seed: int) -> tuple[float, float]:
    link, model = LocalLink(controller), robot_model("franka_panda")

    async def run(scenario, case_id):
        return await episode.run(link, model, controller.declaration, scenario, seed=seed, case_id=case_id)

    drawn = []
    for case in suite.cases:
        if case.id.startswith("anywhere"):
            drawn.append((await run(dict(case.scenario), case.id)).get("ssm_margin_mm"))
    searched = next(c for c in suite.cases if "search" in (c.scenario or {}))
    worst = await search.run(run, dict(searched.scenario), seed=seed, case_id=searched.id)
    return min(m for m in drawn if m is not None), worst["ssm_margin_mm"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sector", action="append", help="blind bearings LO:HI in degrees (repeatable)")
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    sectors = [tuple(map(float, s.split(":"))) for s in (args.sector or ["140:165", "140:155", "200:210"])]
    suite = resolve_suite("robot.ssm", Registry(make_plugin_manager()))
    for lo, hi in sectors:
        caught, started = 0, time.perf_counter()
        for seed in range(args.seeds):
            drawn, searched = asyncio.run(one_seed(suite, BlindSector((lo, hi)), seed))
            hit = drawn < 0 or searched < 0
            caught += hit
            print(f"sector {lo:g}-{hi:g} deg, seed {seed}: drawn cases' worst margin {drawn:.1f} mm, "
                  f"searched {searched:.1f} mm -> {'caught' if hit else 'MISSED'}", flush=True)
        rate = wilson(caught, args.seeds)
        print(f"sector {lo:g}-{hi:g} deg ({hi - lo:g} deg): caught on {caught} of {args.seeds} seeds "
              f"({rate['value']:.2f}, 95% CI {rate['ci_low']:.2f}-{rate['ci_high']:.2f}); "
              f"{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
