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
