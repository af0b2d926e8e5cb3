"""Write the reference values that tests/unit/test_ppi.py checks harness.ppi against,
computed by the ``ppi-python`` package itself (too heavy to be a dependency: numba).

    uv venv /tmp/ppienv && VIRTUAL_ENV=/tmp/ppienv uv pip install ppi-python
    /tmp/ppienv/bin/python benchmarks/ppi_reference.py > tests/unit/data/ppi-reference.json

Each case is a reviewed sample as four counts (grader and person both gave the label,
only the grader, only the person, neither) and the grader's count on the rest; the
script expands them into 0/1 arrays and asks ``ppi_mean_ci`` (tuned, and with lam=1)
and ``ppi_mean_pointestimate`` for the 95% interval and estimate.
"""

import json
import sys

import numpy as np
from ppi_py import ppi_mean_ci, ppi_mean_pointestimate

#: (both, grader_only, person_only, neither, k_rest, n_rest): grader errors of several
#: sizes and directions, rates near 0, 0.5 and 1, small and large samples
CASES = [
    (80, 3, 12, 5, 820, 900),
    (40, 10, 10, 40, 450, 900),
    (5, 2, 1, 92, 60, 1900),
    (290, 0, 15, 5, 2600, 2700),
    (10, 5, 5, 10, 100, 200),
    (950, 20, 15, 15, 9000, 9500),
    (3, 0, 2, 25, 20, 300),
    (60, 30, 0, 10, 700, 1000),
]

out = []
for both, g_only, p_only, neither, k_rest, n_rest in CASES:
    y = np.array([1] * both + [0] * g_only + [1] * p_only + [0] * neither, dtype=float)
    f = np.array([1] * both + [1] * g_only + [0] * p_only + [0] * neither, dtype=float)
    f_rest = np.array([1] * k_rest + [0] * (n_rest - k_rest), dtype=float)
    row = {"counts": [both, g_only, p_only, neither, k_rest, n_rest]}
    for name, lam in (("tuned", None), ("plain", 1.0)):
        low, high = ppi_mean_ci(y, f, f_rest, alpha=0.05, lam=lam)
        row[name] = {"value": float(np.squeeze(ppi_mean_pointestimate(y, f, f_rest, lam=lam))),
                     "ci_low": float(np.squeeze(low)), "ci_high": float(np.squeeze(high))}
    out.append(row)
json.dump({"source": "ppi_py.ppi_mean_ci / ppi_mean_pointestimate, alpha 0.05", "cases": out}, sys.stdout, indent=1)
print()
