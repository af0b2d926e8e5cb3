"""Prediction-powered inference for a rate: the grader's labels on every attempt,
corrected by the labels people gave a random sample of them (Angelopoulos et al.,
Science 2023; the power-tuned PPI++ of Angelopoulos, Duchi and Zrnic, 2023).

The interval is valid whatever the grader's error: the reviewed sample measures how far
the grader's rate is from the people's on *this* target's replies and moves the
estimate by that much, and its width grows with the disagreement. A grader that agrees
with people gives an interval as narrow as if every attempt were reviewed; one that
disagrees often gives about the interval of the reviewed sample alone (the tuning
parameter ``lam`` falls toward 0, the classical estimate). Everything is computed from
counts: a rate's labels are 0 or 1, so the four cells of (grader, person) on the
reviewed sample and the grader's count on the rest are all it needs. The formulas are
``ppi_py.ppi_mean_ci``'s (tests/unit/test_ppi.py checks them against values that
package computed); ppi_py itself is not a dependency (it pulls in numba).

Two additions of our own, both conservative:

- **Plus four in the variance.** The normal interval of a rate fails near 0 and 1 and
  on small samples (with no disagreement in the reviewed sample its width is zero).
  As Agresti and Coull do for one proportion, the rectifier's variance is taken with one
  more review in each of the four cells; the estimate itself is not moved. In
  benchmarks/ppi_coverage.py this lifts the worst coverage of nine scenarios (a rate
  of 0.99, 100 reviews, a grader wrong 2% of the time) from 0.69 to above 0.95, at
  widths close to the plain ones. ``adjust=False`` gives ppi_py's interval exactly.
- **A census stratum.** Replies the grader left ``uncertain`` have no grader label; when
  people reviewed every one of them, they form a stratum of their own whose rate is
  known exactly, and the estimate combines the two strata by their sizes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .metrics import Z95


@dataclass(frozen=True, slots=True)
class Reviewed:
    """The reviewed sample of one rate, as counts: ``both`` reviews where grader and
    person gave the label, ``grader_only`` where only the grader did, ``person_only``
    where only the person did, ``neither`` where neither did."""

    both: int = 0
    grader_only: int = 0
    person_only: int = 0
    neither: int = 0

    @property
    def n(self) -> int:
        return self.both + self.grader_only + self.person_only + self.neither


def _lam(r: Reviewed, k_rest: int, n_rest: int) -> float:
    """PPI++'s power-tuning parameter for a mean, clipped to [0, 1] (ppi_py's
    ``_calc_lam_glm`` with d = 1): the covariance of person and grader on the reviewed
    sample over (1 + n/N) times the grader's variance on all attempts."""
    n, N = r.n, n_rest
    y1, f1 = r.both + r.person_only, r.both + r.grader_only
    cov = (r.both - y1 * f1 / n) / n  # (1/n) sum (y - ybar)(f - fbar)
    total, ones = n + N, f1 + k_rest
    if total < 2:
        return 0.0
    var_f = (ones - ones * ones / total) / (total - 1)  # np.cov: ddof 1
    if var_f <= 0:
        return 0.0  # the grader gave one label throughout: it carries no information
    return min(1.0, max(0.0, cov / ((1 + n / N) * var_f)))


def ppi_rate(k_rest: int, n_rest: int, reviewed: Reviewed, *, lam: float | None = None,
             adjust: bool = True, z: float = Z95) -> tuple[float, float, float, float]:
    """(estimate, ci_low, ci_high, lam) of a rate from the grader's ``k_rest`` of
    ``n_rest`` on the attempts nobody reviewed and the ``reviewed`` sample (disjoint
    from them). ``lam`` None tunes it; 1 is plain PPI; 0 the reviewed sample alone.
    ``adjust`` adds one pseudo-review per cell to the variance (see above)."""
    n, N = reviewed.n, n_rest
    if n < 2 or N < 1:
        raise ValueError("a prediction-powered rate needs at least 2 reviewed and 1 unreviewed attempt")
    if lam is None:
        lam = _lam(reviewed, k_rest, n_rest)
    f_rest = k_rest / N
    # the rectifier y - lam * f takes four values, one per cell
    values = (1 - lam, -lam, 1.0, 0.0)
    counts = (reviewed.both, reviewed.grader_only, reviewed.person_only, reviewed.neither)
    mean_r = sum(c * v for c, v in zip(counts, values)) / n
    if adjust:
        counts = tuple(c + 1 for c in counts)
    m = sum(counts)
    centre = sum(c * v for c, v in zip(counts, values)) / m
    var_r = sum(c * (v - centre) ** 2 for c, v in zip(counts, values)) / m  # numpy std: ddof 0
    estimate = lam * f_rest + mean_r
    half = z * math.sqrt(lam * lam * f_rest * (1 - f_rest) / N + var_r / n)
    return estimate, max(0.0, estimate - half), min(1.0, estimate + half), lam


def combined(k_rest: int, n_rest: int, reviewed: Reviewed, census_k: int = 0, census_n: int = 0,
             ) -> dict[str, float | int]:
    """The ``ppi`` object of a rate: the PPI estimate on the attempts the grader
    labelled, and, when people reviewed every uncertain one (``census_k`` of
    ``census_n`` carry the label), both strata weighed by their sizes."""
    value, low, high, lam = ppi_rate(k_rest, n_rest, reviewed)
    labelled = n_rest + reviewed.n
    if census_n:
        w = labelled / (labelled + census_n)
        exact = census_k / census_n
        value, low, high = w * value + (1 - w) * exact, w * low + (1 - w) * exact, w * high + (1 - w) * exact
    def clamp(x: float) -> float:
        return min(1.0, max(0.0, x))
    return {"value": clamp(value), "ci_low": clamp(low), "ci_high": clamp(high), "lam": lam,
            "n_reviewed": reviewed.n + census_n, "n": labelled + census_n}
