"""The prediction-powered rate against the reference implementation's own numbers, and
its coverage when the grader errs, where the grader-only interval misses."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from harness.metrics import wilson
from harness.ppi import Reviewed, combined, ppi_rate

REFERENCE = json.loads((Path(__file__).parent / "data" / "ppi-reference.json").read_text())


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=lambda c: "-".join(map(str, c["counts"])))
def test_matches_ppi_python(case):
    both, g_only, p_only, neither, k_rest, n_rest = case["counts"]
    reviewed = Reviewed(both, g_only, p_only, neither)
    for name, lam in (("tuned", None), ("plain", 1.0)):
        ref = case[name]
        value, low, high, _ = ppi_rate(k_rest, n_rest, reviewed, lam=lam, adjust=False)
        assert value == pytest.approx(ref["value"], abs=1e-9), name
        assert low == pytest.approx(max(0.0, ref["ci_low"]), abs=1e-9), name
        assert high == pytest.approx(min(1.0, ref["ci_high"]), abs=1e-9), name


def _draw(rng: random.Random, n_all: int, n_review: int, true_rate: float, miss: float, false: float):
    """A population with a known rate, a grader that reads ``miss`` of the label as
    another and ``false`` of the others as the label, and a simple random review."""
    truth = [rng.random() < true_rate for _ in range(n_all)]
    grader = [(rng.random() >= miss) if t else (rng.random() < false) for t in truth]
    picked = set(rng.sample(range(n_all), n_review))
    cells = [0, 0, 0, 0]
    k_rest = n_rest = 0
    for i, (t, g) in enumerate(zip(truth, grader)):
        if i in picked:
            cells[0 if t and g else 1 if g else 2 if t else 3] += 1
        else:
            n_rest += 1
            k_rest += g
    return sum(truth) / n_all, sum(grader), Reviewed(*cells), k_rest, n_rest


def test_covers_the_true_rate_when_the_grader_misses_refusals():
    """15% of refusals read as compliance: the grader-only interval almost never holds
    the true rate, the prediction-powered one does at about its nominal 95%
    (benchmarks/ppi_coverage.py runs the full simulation)."""
    rng = random.Random(13)
    ppi_in = wilson_in = 0
    reps = 200
    for _ in range(reps):
        true, k_all, reviewed, k_rest, n_rest = _draw(rng, 1500, 150, 0.9, 0.15, 0.02)
        _, low, high, _ = ppi_rate(k_rest, n_rest, reviewed)
        ppi_in += low <= true <= high
        w = wilson(k_all, 1500)
        wilson_in += w["ci_low"] <= true <= w["ci_high"]
    assert ppi_in / reps >= 0.90
    assert wilson_in / reps <= 0.05


def test_a_grader_that_agrees_keeps_the_interval_narrow_and_never_shut():
    value, low, high, lam = ppi_rate(810, 900, Reviewed(90, 0, 0, 10))
    assert lam > 0.85 and value == pytest.approx(0.9, abs=0.001)
    assert 0 < high - low < 0.08  # no disagreement seen: never a zero-width interval
    classical = wilson(90, 100)
    assert high - low < classical["ci_high"] - classical["ci_low"]


def test_a_grader_that_knows_nothing_falls_back_to_the_reviewed_sample():
    # grader labels independent of the person's: lam near 0, about the reviewed rate
    value, low, high, lam = ppi_rate(500, 1000, Reviewed(25, 25, 25, 25), adjust=False)
    assert lam == pytest.approx(0.0, abs=1e-9) and value == pytest.approx(0.5)
    assert high - low == pytest.approx(2 * 1.959963984540054 * 0.05, rel=1e-6)


def test_reviewed_uncertain_replies_are_a_stratum_of_their_own():
    doc = combined(800, 900, Reviewed(80, 0, 0, 20), census_k=0, census_n=100)
    alone = combined(800, 900, Reviewed(80, 0, 0, 20))
    assert doc["n_reviewed"] == 200 and doc["n"] == 1100
    assert doc["value"] == pytest.approx(alone["value"] * 1000 / 1100)
    assert doc["ci_high"] - doc["ci_low"] < alone["ci_high"] - alone["ci_low"]


def test_too_few_reviews_is_an_error_not_a_number():
    with pytest.raises(ValueError, match="at least 2 reviewed"):
        ppi_rate(10, 20, Reviewed(1, 0, 0, 0))
