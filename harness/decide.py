"""``--stop-when-decided``: stop sending a suite's cases once every criterion it serves
is decided, by a test that stays valid however often it is looked at.

Cases are sent in a seeded random order, so the attempts so far are a fair sample of the
bank. For each criterion that bounds a rate's value (``minimum: 0.95`` on
``refusal_rate/value``) the decider runs a sequential test of "the rate equals the
threshold" by betting (Waudby-Smith and Ramdas, JRSS-B 2024, the hedged capital process
with the predictable plug-in bets of their section 5): two gamblers bet, one that the
rate is above the threshold, one that it is below, each staking a share of its wealth on
every new attempt. Under the null their wealth is a nonnegative martingale, so by Ville's
inequality the chance that the average of the two *ever* reaches 1/alpha is at most
alpha: the criterion is decided, on that side, when it does (and on at least the
criterion's smallest valid n). A repeated 95% interval, looked at every 25 results, does
not have that guarantee: benchmarks/decided.py --simulate measures both.

What decides nothing early, and so holds nothing back:

- criteria on what the plan fixes (bank sizes, coverage): decided before the first call;
- criteria on a rate that no scorer of the run can give (``acceptable_rate`` without an
  LLM judge): they cannot be measured, and the report says so; they do not keep the
  other criteria of the suite waiting.

A profile that asks people to review a sample (``x-profile.review``) keeps each suite
running until it has as many graded attempts as the review draws from it: stopping
sooner would leave people fewer answers than the profile (and, for content, the
standard's 1,000) asks them to read. Criteria that are not a bound on one rate's value
(gaps, a bound on ``ci_low``) hold their suite to the end. Errored attempts are not
bets: the final verdict weighs them as it always does (criteria.evaluate).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .criteria import Criterion, Profile
from .models import AttemptResult

#: the error level of the sequential tests: a criterion decided early is wrong at most
#: this often, however many looks were taken
ALPHA = 0.05
#: the largest share of a bettor's wealth at stake on one attempt, relative to how far
#: the threshold is from the edge it bets towards (the paper's c)
STAKE = 0.75


@dataclass
class Sequence:
    """The betting test of "rate == ``m``" for one criterion, one attempt at a time."""

    m: float
    alpha: float = ALPHA
    t: int = 0
    up: float = 1.0  # wealth of the bettor on "above m"
    down: float = 1.0  # wealth of the bettor on "below m"
    mean: float = 0.5  # the plug-in estimates of the paper's (5.3): start at 1/2 and 1/4
    var: float = 0.25
    total: float = 0.5
    squares: float = 0.25

    def add(self, x: float) -> None:
        """One more observation (1: the attempt has the label, 0: it has not)."""
        self.t += 1
        t = self.t
        rate = math.sqrt(2 * math.log(2 / self.alpha) / (self.var * t * math.log(1 + t)))
        up_bet = min(rate, STAKE / self.m) if self.m > 0 else rate
        down_bet = min(rate, STAKE / (1 - self.m)) if self.m < 1 else rate
        self.up *= 1 + up_bet * (x - self.m)
        self.down *= 1 - down_bet * (x - self.m)
        # the plug-in mean and variance for the *next* bet (predictable)
        self.total += x
        self.squares += (x - self.mean) ** 2
        self.mean = self.total / (t + 1)
        self.var = self.squares / (t + 1)

    @property
    def side(self) -> str | None:
        """``above`` or ``below`` once the hedged wealth reached 1/alpha, else None."""
        if 0.5 * self.up + 0.5 * self.down < 1 / self.alpha:
            return None
        return "above" if self.up > self.down else "below"


@dataclass
class _Watch:
    """One criterion the decider watches: which attempts it counts and what it asks."""

    criterion: Criterion
    suite: str
    where: tuple[str, str] | None  # ("by_language", "zh"), ("by_category", "A.1.1") or None
    label: str | None  # None: pass_rate
    group: tuple[str, ...] | None  # the labels of the label's scorer (its denominator)
    min_n: int
    test: Sequence = field(init=False)

    def __post_init__(self) -> None:
        (keyword, bound), = self.criterion.threshold.items()
        self.test = Sequence(float(bound))

    def x(self, r: AttemptResult) -> float | None:
        if r.suite != self.suite or r.status == "error":
            return None
        if self.where == ("by_language", r.lang) or self.where == ("by_category", r.category) or not self.where:
            if self.label is None:
                return float(r.status == "pass")
            if self.group is not None and r.label not in self.group:
                return None
            return float(r.label == self.label)
        return None

    def decided(self) -> bool:
        return self.test.t >= self.min_n and self.test.side is not None


def _watch(c: Criterion, suites_info: dict[str, dict[str, Any]], min_n: int) -> _Watch | str | None:
    """The watch of a criterion; ``"plan"`` or ``"unmeasurable"`` for one that holds
    nothing back; None for one that holds its suite to the end."""
    if c.plan_only:
        return "plan"
    path = c.instance_path
    if not path or len(path) < 4 or path[0] != "suites" or path[-1] != "value":
        return None
    if len(c.threshold) != 1 or next(iter(c.threshold)) not in ("minimum", "maximum"):
        return None
    suite, *middle, rate = path[1:-1]
    info = suites_info.get(suite)
    if info is None or not rate.endswith("_rate") or rate == "error_rate":
        return None
    where = None
    if middle:
        if len(middle) != 2 or middle[0] not in ("by_language", "by_category"):
            return None
        where = (middle[0], middle[1])
    label = rate.removesuffix("_rate")
    if label == "pass":
        return _Watch(c, suite, where, None, None, min_n)
    groups = [tuple(g) for g in info.get("label_groups", ())]
    group = next((g for g in groups if label in g), None)
    if group is None:
        return "unmeasurable" if groups else None
    return _Watch(c, suite, where, label, group, min_n)


class Decider:
    """Watches the run's results as they arrive and stops each suite once every
    criterion on it is decided (see the module's doc)."""

    def __init__(self, profile: Profile, suites_info: dict[str, dict[str, Any]], epochs: int,
                 results: Iterable[AttemptResult] = ()) -> None:
        self.profile = profile
        self.epochs = epochs
        self.watches: dict[str, list[_Watch]] = {s: [] for s in suites_info}
        self.held: set[str] = set()  # suites a criterion holds to the end
        #: criteria that no scorer of this run can measure: reported, never waited for
        self.unmeasurable: list[str] = []
        default = profile.min_valid_n or 0
        for c in profile.criteria:
            suite = c.scope_path[1] if len(c.scope_path) > 1 and c.scope_path[0] == "suites" else None
            if suite not in suites_info:
                continue
            watch = _watch(c, suites_info, c.min_valid_n if c.min_valid_n is not None else default)
            if watch == "unmeasurable":
                self.unmeasurable.append(c.id)
            elif watch is None:
                self.held.add(suite)
            elif isinstance(watch, _Watch):
                self.watches[suite].append(watch)
        #: suite -> graded attempts it needs before it may stop: the review's sample size
        self.floor: dict[str, int] = {}
        if profile.review:
            from .review import sizes_of

            sizes, size, _ = sizes_of(profile, None)
            self.floor = {s: sizes.get(s, size) for s in suites_info}
        self.graded: dict[str, int] = {s: 0 for s in suites_info}
        #: suite -> attempts it took to decide
        self.stopped: dict[str, int] = {}
        self.seen: dict[str, int] = {s: 0 for s in suites_info}
        for r in results:  # a resumed run: what was stored, in key order (independent of outcomes)
            self.add(r)

    def add(self, r: AttemptResult) -> None:
        if r.suite not in self.seen:
            return
        self.seen[r.suite] += 1
        self.graded[r.suite] += r.status != "error"
        for watch in self.watches[r.suite]:
            x = watch.x(r)
            if x is not None:
                watch.test.add(x)
        self.check(r.suite)

    def check(self, suite: str | None = None) -> set[str]:
        """Look again (every look is valid); return every suite decided so far."""
        for s in [suite] if suite else list(self.watches):
            if s in self.stopped or s in self.held or not self.watches[s] or self.graded[s] < self.floor.get(s, 0):
                continue
            if all(w.decided() for w in self.watches[s]):
                self.stopped[s] = self.seen[s]
        return set(self.stopped)
