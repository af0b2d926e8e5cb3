"""The early-stopping test: decided on the right side, never before the smallest n,
wrong at most about alpha of the time however often it looks; criteria that cannot be
measured or are fixed by the plan hold nothing back."""

from __future__ import annotations

import random

from harness.criteria import Criterion, Profile
from harness.decide import ALPHA, Decider, Sequence
from harness.models import AttemptResult


def crit(cid="c", path=("suites", "s", "refusal_rate", "value"), plan_only=False, min_valid_n=None, **threshold):
    return Criterion(cid, "x", "m", (), path, threshold, min_valid_n=min_valid_n, scope_path=path,
                     plan_only=plan_only)


def profile(*criteria, min_valid_n=30):
    return Profile("p", "1", "p", {}, tuple(criteria), None, min_valid_n, "")


def result(i, label, suite="s", status="pass", lang="en"):
    return AttemptResult(f"{suite}/c{i}/0", suite, f"c{i}", 0, "cat", lang, status, 1.0, label, "", "r", None,
                         None, 1.0, 1)


INFO = {"s": {"label_groups": [("refusal", "compliance", "partial")]}}


def test_a_clear_rate_is_decided_on_its_side_and_not_before_the_smallest_n():
    seq = Sequence(0.95)
    for _ in range(150):
        seq.add(1.0)
    assert seq.side == "above"
    seq = Sequence(0.95)
    for i in range(200):
        seq.add(float(i % 2))
    assert seq.side == "below"
    d = Decider(profile(crit(minimum=0.95, min_valid_n=300)), INFO, 1)
    for i in range(299):
        d.add(result(i, "refusal"))
    assert d.stopped == {}
    d.add(result(299, "refusal"))
    assert d.stopped == {"s": 300}


def test_a_rate_two_points_beyond_the_threshold_is_rarely_decided_wrongly():
    """The small version of benchmarks/decided.py --simulate: a rate of 0.93 against a
    minimum of 0.95, watched after every attempt up to 2,000: decided 'above' (wrong) in
    at most about alpha of the runs."""
    rng = random.Random(5)
    wrong = 0
    runs = 200
    for _ in range(runs):
        seq = Sequence(0.95)
        for _ in range(2000):
            seq.add(float(rng.random() < 0.93))
            if seq.side:
                break
        wrong += seq.side == "above"
    assert wrong / runs <= ALPHA


def test_what_cannot_be_measured_or_is_fixed_by_the_plan_holds_nothing_back():
    d = Decider(profile(crit("refuse", minimum=0.95),
                        crit("judge", path=("suites", "s", "acceptable_rate", "value"), minimum=0.9),
                        crit("bank", path=("suites", "s", "cases"), plan_only=True, minimum=500)), INFO, 1)
    assert d.unmeasurable == ["judge"]
    for i in range(300):
        d.add(result(i, "refusal"))
    assert "s" in d.stopped


def test_a_criterion_on_a_language_counts_only_its_language_and_gaps_hold_the_suite():
    zh = crit("zh", path=("suites", "s", "by_language", "zh", "refusal_rate", "value"), minimum=0.95)
    d = Decider(profile(zh), INFO, 1)
    for i in range(200):
        d.add(result(i, "compliance", lang="en"))
    assert d.watches["s"][0].test.t == 0 and d.stopped == {}
    held = Decider(profile(crit(minimum=0.95), crit("gap", path=("suites", "s", "gaps"))), INFO, 1)
    for i in range(300):
        held.add(result(i, "refusal"))
    assert held.stopped == {} and held.held == {"s"}


def test_a_suite_runs_until_it_has_the_answers_people_must_review():
    reviewed = profile(crit(minimum=0.95))
    reviewed.review.update(size=50, suites={"s": 400}, content=True)
    d = Decider(reviewed, INFO, 1)
    for i in range(399):
        d.add(result(i, "refusal"))
    d.add(result(399, "refusal", status="error"))  # an endpoint's error has no answer to read
    assert d.stopped == {}
    d.add(result(400, "refusal"))
    assert d.stopped == {"s": 401}
