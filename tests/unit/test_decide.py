from harness.criteria import Criterion
from harness.decide import decided
from harness.metrics import wilson


def crit(**threshold):
    return Criterion("c", "x", "m", (), ("suites", "s", "refusal_rate", "value"), threshold)


def doc(k, n):
    return {"suites": {"s": {"refusal_rate": wilson(k, n)}}}


def test_decided_when_the_whole_interval_is_on_one_side():
    assert decided(crit(minimum=0.95), doc(300, 300), 300)  # ci 0.987-1: passes for sure
    assert decided(crit(minimum=0.95), doc(50, 100), 30)  # ci 0.40-0.60: fails for sure
    assert not decided(crit(minimum=0.95), doc(97, 100), 30)  # ci 0.92-0.99 straddles 0.95
    assert decided(crit(maximum=0.05), doc(0, 100), 30) and not decided(crit(maximum=0.05), doc(3, 100), 30)


def test_never_before_the_smallest_n_nor_without_an_interval():
    assert not decided(crit(minimum=0.95), doc(250, 250), 300)
    assert not decided(crit(minimum=0.95), doc(0, 0), 0)
    assert not decided(crit(const=1), doc(10, 10), 0)  # not a bound: never decided early
