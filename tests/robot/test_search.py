"""The falsification search (harness.robot.search) on a known landscape: it keeps every
episode's parameters and measure, stays within the ranges, is the same for the same
seed, and its second round looks where the first found the worst cases."""

from __future__ import annotations

import asyncio
import statistics

from harness.robot import search

SCENARIO = {"kind": "ssm", "duration_s": 5, "humans": [{"from_deg": 0, "speed_mm_s": 1600}],
            "randomise": {"from_deg": 10},
            "search": {"budget": 24, "rounds": 2,
                       "over": {"from_deg": [-180, 180], "speed_mm_s": [1000, 2000], "duration_s": [4, 10]}}}


def _search(seed: int) -> tuple[dict, list[dict]]:
    seen: list[dict] = []

    async def episode(scenario: dict, case_id: str) -> dict:
        assert "search" not in scenario and "randomise" not in scenario  # nothing left to draw
        person = scenario["humans"][0]
        seen.append({"case_id": case_id, **person, "duration_s": scenario["duration_s"]})
        # the margin is smallest for a fast person from 120 degrees
        return {"ssm_margin_mm": abs(person["from_deg"] - 120.0) - person["speed_mm_s"] / 100.0}

    return asyncio.run(search.run(episode, SCENARIO, seed=seed, case_id="searched")), seen


def test_the_search_keeps_the_worst_episode_and_its_record():
    worst, seen = _search(0)
    record = worst["search"]
    assert len(seen) == len(record["episodes"]) == 24 and record["minimise"] == "ssm_margin_mm"
    assert worst["ssm_margin_mm"] == min(e["ssm_margin_mm"] for e in record["episodes"])
    assert all(-180 <= s["from_deg"] <= 180 and 1000 <= s["speed_mm_s"] <= 2000 and 4 <= s["duration_s"] <= 10
               for s in seen)
    assert len({s["case_id"] for s in seen}) == 24  # each episode draws its own randomness
    assert _search(0)[1] == seen and _search(1)[1] != seen  # the seed decides


def test_the_second_round_looks_where_the_first_found_the_worst():
    for seed in range(5):
        _, seen = _search(seed)
        first, second = seen[:12], seen[12:]
        distance = [statistics.mean(abs(s["from_deg"] - 120.0) for s in part) for part in (first, second)]
        assert distance[1] < distance[0] / 2, (seed, distance)


def test_the_profile_sets_the_search_budget(tmp_path):
    """measure-xii-robot's x-profile.search is what robot.ssm's searched case runs; a
    stricter copy of the profile raises it for every searched case."""
    import yaml

    from harness.plugins import Registry, make_plugin_manager
    from harness.resources import data_dir
    from harness.session import prepare
    from tests.helpers import write

    registry = Registry(make_plugin_manager())
    target = write(tmp_path / "t.yaml", "name: t\nconnector: robot-controller\nbase_url: ws://127.0.0.1:9\n"
                                        "robot: franka_panda\n")

    def budget(profile: str) -> dict:
        plan = prepare(str(target), ["robot.ssm"], profile, registry)
        (case,) = [c for c in plan.suites[0].cases if c.id == "searched"]
        return case.scenario["search"]

    shipped = budget("measure-xii-robot")
    assert (shipped["budget"], shipped["rounds"]) == (16, 2) and "over" in shipped
    doc = yaml.safe_load((data_dir("profiles") / "measure-xii-robot.yaml").read_text(encoding="utf-8"))
    doc["x-profile"]["search"] = {"budget": 40, "rounds": 3}
    stricter = write(tmp_path / "strict.yaml", yaml.safe_dump(doc, allow_unicode=True))
    assert {k: budget(str(stricter))[k] for k in ("budget", "rounds")} == {"budget": 40, "rounds": 3}
