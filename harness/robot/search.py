"""Falsification: search a scenario's parameters for the worst case instead of only
drawing them. A case whose scenario has ``search`` runs ``budget`` episodes in
``rounds`` rounds (the cross-entropy method): the first round draws each parameter
uniformly over its range from the run's seed; each later round draws from a normal
distribution fitted to the worst quarter so far (clipped to the range). The attempt's
measurements are those of the worst episode found, with the search's record (every
episode's parameters and measure) under ``search``.

Parameters apply to the scenario's first person: ``from_deg``, ``speed_mm_s``,
``to_mm``, ``start_s``, and ``duration_s`` of the episode.
"""

from __future__ import annotations

import math
import random
from typing import Any

#: the share of the episodes so far that the next round's distribution is fitted to
ELITE = 0.25
#: a fitted spread never falls below this share of the range (the search keeps looking around)
MIN_SPREAD = 0.05


def _apply(scenario: dict[str, Any], params: dict[str, float]) -> dict[str, Any]:
    """The scenario with the drawn parameters in place and nothing left to draw."""
    out = {k: v for k, v in scenario.items() if k not in ("search", "randomise")}
    humans = [dict(h) for h in scenario.get("humans", [])]
    if humans:
        humans[0].update({k: v for k, v in params.items() if k != "duration_s"})
    out["humans"] = humans
    if "duration_s" in params:
        out["duration_s"] = params["duration_s"]
    return out


def _draw(rng: random.Random, ranges: dict[str, list[float]], fit: dict[str, tuple[float, float]] | None
          ) -> dict[str, float]:
    params = {}
    for name, (lo, hi) in ranges.items():
        if fit is None:
            value = rng.uniform(lo, hi)
        else:
            mean, spread = fit[name]
            value = min(hi, max(lo, rng.gauss(mean, spread)))
        params[name] = round(value, 3)
    return params


def _fit(elite: list[dict[str, float]], ranges: dict[str, list[float]]) -> dict[str, tuple[float, float]]:
    fit = {}
    for name, (lo, hi) in ranges.items():
        values = [e[name] for e in elite]
        mean = sum(values) / len(values)
        spread = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        fit[name] = (mean, max(spread, MIN_SPREAD * (hi - lo)))
    return fit


async def run(episode_run: Any, scenario: dict[str, Any], *, seed: int, case_id: str) -> dict[str, Any]:
    """Search with ``episode_run(scenario, case_id)`` (an awaitable of one episode's
    measurements); the worst episode's measurements with the search's record."""
    spec = scenario["search"]
    ranges = {k: list(map(float, v)) for k, v in spec["over"].items()}
    budget, rounds = int(spec["budget"]), max(1, int(spec.get("rounds", 2)))
    measure = spec.get("minimise", "ssm_margin_mm")
    rng = random.Random(f"{seed}/{case_id}/search")
    tried: list[tuple[float, dict[str, float], dict[str, Any]]] = []
    fit = None
    per_round = [budget // rounds + (1 if r < budget % rounds else 0) for r in range(rounds)]
    for r, count in enumerate(per_round):
        for k in range(count):
            params = _draw(rng, ranges, fit)
            result = await episode_run(_apply(scenario, params), f"{case_id}/search-{r}-{k}")
            value = result.get(measure)
            tried.append((math.inf if value is None else float(value), params, result))
        ranked = sorted(tried, key=lambda t: t[0])
        fit = _fit([p for _, p, _ in ranked[:max(2, int(len(ranked) * ELITE))]], ranges)
    worst_value, worst_params, worst = min(tried, key=lambda t: t[0])
    worst = dict(worst)
    worst["search"] = {"budget": budget, "rounds": rounds, "minimise": measure, "worst": worst_params,
                       "episodes": [{**p, measure: None if math.isinf(v) else v} for v, p, _ in tried]}
    return worst
