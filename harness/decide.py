"""``--stop-when-decided``: stop sending a suite's cases once every criterion it serves
is decided, i.e. the 95% interval of the rate the criterion checks lies wholly on one
side of its threshold, on at least the criterion's smallest valid n.

Cases are then sent in a seeded random order, so the first ones are a fair sample.
Looking at the interval again and again as data arrive makes an early decision a little
more likely to be wrong than one look would; the report says which suites were decided
early, and a profile that must not accept that risk can require the full bank by
setting a criterion's ``min_valid_n`` to it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from . import metrics
from .criteria import Criterion, Profile, lookup
from .models import AttemptResult


def decided(criterion: Criterion, doc: dict[str, Any], min_valid_n: int) -> bool:
    """Whether the criterion's outcome is settled: its rate's whole interval passes or
    whole interval fails its threshold, on enough valid samples."""
    if not criterion.instance_path:
        return False
    rate = lookup(doc, criterion.instance_path[:-1])
    if not isinstance(rate, dict) or rate.get("ci_low") is None or rate.get("ci_high") is None:
        return False
    if rate.get("n", min_valid_n) < min_valid_n:
        return False
    low, high = rate["ci_low"], rate["ci_high"]
    t = criterion.threshold
    if not t or set(t) - {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}:
        return False
    checks = []
    for keyword, bound in t.items():
        if keyword in ("minimum", "exclusiveMinimum"):
            checks.append(low >= bound or high < bound)  # all above, or all below
        else:
            checks.append(high <= bound or low > bound)
    return all(checks)


class Decider:
    """Keeps the counts of a run as results arrive and looks again every ``every``
    results, so against a fast endpoint it decides within a few dozen calls of the
    point where the data allow it, at a cost of about a millisecond a look."""

    every = 25

    def __init__(self, profile: Profile, suites_info: dict[str, dict[str, Any]], epochs: int,
                 rows: Iterable[tuple[str, str, str, str, str | None, str | None, int]] = ()) -> None:
        self.profile = profile
        self.suites_info = suites_info
        self.epochs = epochs
        self.tally: Counter[tuple[str, str, str, str, str | None, str | None]] = Counter()
        for *key, count in rows:
            self.tally[tuple(key)] += count  # type: ignore[index]
        self.criteria = {
            suite: [c for c in profile.criteria if c.instance_path and c.instance_path[:2] == ("suites", suite)]
            for suite in suites_info
        }
        #: suite -> attempts it took to decide
        self.stopped: dict[str, int] = {}
        self.seen = 0

    def add(self, r: AttemptResult) -> None:
        self.tally[r.suite, r.category, r.lang, r.status, r.label, r.error_kind] += 1
        self.seen += 1
        if self.seen % self.every == 0:
            self.check()

    def check(self) -> set[str]:
        """Look again; return every suite decided so far."""
        doc = metrics.build([(*k, n) for k, n in self.tally.items()], self.suites_info, epochs=self.epochs)
        for suite, crits in self.criteria.items():
            if suite in self.stopped or not crits:
                continue
            if all(decided(c, doc, c.min_valid_n if c.min_valid_n is not None else (self.profile.min_valid_n or 0))
                   for c in crits):
                self.stopped[suite] = doc["suites"][suite]["n"]
        return set(self.stopped)
