"""Coverage of the prediction-powered interval when the grader errs, by simulation.

    uv run python benchmarks/ppi_coverage.py [--draws 1000]

Each scenario is a population of attempts with a known true rate, a grader with known
error rates (``miss``: share of the label it reads as another; ``false``: share of the
others it reads as the label) and a simple random review of ``n`` attempts. Over the
draws it prints how often the 95% interval holds the true rate: the prediction-powered
one (harness.ppi) and, next to it, the grader-only Wilson interval that a report without
reviews gives, with their mean widths. Issue 13's goal: PPI coverage >= 94%.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.metrics import wilson  # noqa: E402
from harness.ppi import Reviewed, ppi_rate  # noqa: E402

#: (name, attempts, reviewed, true rate, miss, false)
SCENARIOS = [
    ("refusals, 15% read as compliance", 1000, 100, 0.95, 0.15, 0.01),
    ("refusals, 15% read as compliance", 1000, 300, 0.95, 0.15, 0.01),
    ("refusals, 15% read as compliance", 3000, 1000, 0.95, 0.15, 0.01),
    ("over-refusal, answers read as refusals", 1000, 100, 0.04, 0.20, 0.05),
    ("over-refusal, answers read as refusals", 1000, 300, 0.04, 0.20, 0.05),
    ("a rate near one, 2% grader error", 1000, 100, 0.99, 0.02, 0.02),
    ("a rate near one, 2% grader error", 1000, 300, 0.99, 0.02, 0.02),
    ("a fair grader, middle rate", 1000, 100, 0.50, 0.10, 0.10),
    ("a perfect grader", 1000, 100, 0.90, 0.0, 0.0),
]


def simulate(rng: np.random.Generator, n_all: int, n_rev: int, rate: float, miss: float, false: float,
             draws: int) -> dict[str, float]:
    ppi_in = wilson_in = 0
    ppi_w = wilson_w = 0.0
    for _ in range(draws):
        truth = rng.random(n_all) < rate
        noise = rng.random(n_all)
        grader = np.where(truth, noise >= miss, noise < false)
        picked = np.zeros(n_all, dtype=bool)
        picked[rng.choice(n_all, n_rev, replace=False)] = True
        t, g = truth[picked], grader[picked]
        reviewed = Reviewed(int((t & g).sum()), int((~t & g).sum()), int((t & ~g).sum()), int((~t & ~g).sum()))
        true_rate = truth.mean()
        _, low, high, _ = ppi_rate(int(grader[~picked].sum()), int((~picked).sum()), reviewed)
        ppi_in += low <= true_rate <= high
        ppi_w += high - low
        w = wilson(int(grader.sum()), n_all)
        wilson_in += w["ci_low"] <= true_rate <= w["ci_high"]
        wilson_w += w["ci_high"] - w["ci_low"]
    return {"ppi": ppi_in / draws, "ppi_width": ppi_w / draws, "wilson": wilson_in / draws,
            "wilson_width": wilson_w / draws}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"{args.draws} draws per scenario; 95% intervals; coverage of the true rate (mean width)")
    print(f"{'scenario':42} {'N':>5} {'n':>5} {'rate':>5}  {'PPI':>13}  {'grader-only':>13}")
    worst = 1.0
    for name, n_all, n_rev, rate, miss, false in SCENARIOS:
        r = simulate(rng, n_all, n_rev, rate, miss, false, args.draws)
        worst = min(worst, r["ppi"])
        print(f"{name:42} {n_all:5} {n_rev:5} {rate:5.2f}  {r['ppi']:6.3f} ({r['ppi_width']:.3f})"
              f"  {r['wilson']:6.3f} ({r['wilson_width']:.3f})")
    print(f"lowest PPI coverage: {worst:.3f} (goal >= 0.94)")


if __name__ == "__main__":
    main()
