import math

import pytest

from harness.metrics import build, wilson


def test_wilson_matches_textbook_values():
    # 81 of 263 (Wilson 1927 / Newcombe 1998 example): 0.2553 to 0.3662
    r = wilson(81, 263)
    assert r["value"] == pytest.approx(81 / 263)
    assert r["ci_low"] == pytest.approx(0.2553, abs=1e-4)
    assert r["ci_high"] == pytest.approx(0.3662, abs=1e-4)


def test_wilson_edges_are_inside_zero_one():
    assert wilson(0, 10)["ci_low"] == 0.0 and wilson(0, 10)["ci_high"] > 0.2
    assert wilson(10, 10)["ci_high"] == 1.0 and wilson(10, 10)["ci_low"] < 0.8
    # 300 of 300 refusals: the lower bound is under the 0.99 a point estimate suggests
    assert math.isclose(wilson(300, 300)["ci_low"], 0.98735, abs_tol=1e-4)


def test_wilson_of_nothing_has_no_value():
    assert wilson(0, 0) == {"value": None, "ci_low": None, "ci_high": None, "n": 0, "k": 0}


ROWS = [
    ("s", "A.1", "zh", "pass", "refusal", None, 8),
    ("s", "A.1", "en", "fail", "compliance", None, 2),
    ("s", "A.2", "en", "error", None, "timeout", 1),
    ("s", "A.2", "en", "error", None, "http_500", 1),
    ("t", "x", "en", "pass", None, None, 3),
]


def test_build_groups_by_suite_category_and_language():
    doc = build(ROWS, {"s": {"version": "1", "cases": 12, "label_groups": [("refusal", "compliance", "partial")]}, "t": {"version": "2", "cases": 3},
                       "u": {"version": "1", "cases": 5}})
    s = doc["suites"]["s"]
    assert (s["n"], s["valid_n"], s["errors"], s["passed"], s["failed"]) == (12, 10, 2, 8, 2)
    assert s["error_rate"] == pytest.approx(2 / 12)
    assert s["errors_by_kind"] == {"http_500": 1, "timeout": 1}
    assert s["refusal_rate"]["value"] == pytest.approx(0.8)
    # a label the scorer can give but nobody got is a rate of 0, not a missing metric
    assert s["partial_rate"]["value"] == 0.0 and s["partial_rate"]["n"] == 10
    assert s["by_language"]["zh"]["refusal_rate"]["value"] == 1.0
    assert s["by_language"]["en"]["refusal_rate"]["value"] == 0.0
    assert s["by_category"]["A.2"]["valid_n"] == 0 and s["by_category"]["A.2"]["pass_rate"]["value"] is None
    # a suite of the run with no attempt yet still appears
    assert doc["suites"]["u"]["n"] == 0
    assert doc["totals"]["n"] == 15 and doc["totals"]["passed"] == 11


def test_coverage_counts_cases_per_category_and_language_even_unsent():
    doc = build(ROWS, {"s": {"version": "1", "cases": 14,
                             "by_category": {"A.1": {"zh": 8, "en": 2}, "A.2": {"en": 2}, "A.3": {"zh": 1, "en": 1}},
                             "by_language": {"zh": 8, "en": 6}}})
    cats = doc["suites"]["s"]["by_category"]
    assert {c: g["cases"] for c, g in cats.items()} == {"A.1": 10, "A.2": 2, "A.3": 2}
    assert cats["A.3"]["cases_by_language"] == {"en": 1, "zh": 1}
    assert cats["A.3"]["n"] == 0 and cats["A.3"]["pass_rate"]["value"] is None
    assert doc["suites"]["s"]["by_language"]["zh"]["cases"] == 8


def test_gap_between_values_of_an_attribute_with_newcombe_interval():
    rows = [("b", "gender:female", "en", "pass", "favourable", None, 30), ("b", "gender:female", "en", "pass",
             "unfavourable", None, 70), ("b", "gender:male", "en", "pass", "favourable", None, 60),
            ("b", "gender:male", "en", "pass", "unfavourable", None, 40), ("b", "age:old", "en", "pass", "favourable",
             None, 5), ("b", "plain", "en", "pass", "favourable", None, 5)]
    doc = build(rows, {"b": {"version": "1", "cases": 210}})
    gap = doc["suites"]["b"]["gaps"]["gender"]["favourable"]
    assert gap["gap"] == pytest.approx(0.3) and (gap["highest"], gap["lowest"]) == ("male", "female")
    # Newcombe (1998) method 10 for 60/100 vs 30/100: about 0.164 to 0.420
    assert gap["ci_low"] == pytest.approx(0.164, abs=0.005) and gap["ci_high"] == pytest.approx(0.420, abs=0.005)
    assert "age" not in doc["suites"]["b"]["gaps"]  # one value: no gap to measure


def test_each_scorers_rates_keep_their_own_denominator():
    rows = [("p", "canary", "en", "fail", "leaked", None, 2), ("p", "canary", "en", "pass", "kept", None, 8),
            ("p", "pii", "en", "pass", "clean", None, 30)]
    doc = build(rows, {"p": {"version": "1", "cases": 40,
                             "label_groups": [("leaked", "kept"), ("contains_pii", "clean")]}})
    s = doc["suites"]["p"]
    assert (s["leaked_rate"]["value"], s["leaked_rate"]["n"]) == (0.2, 10)  # not 2 of 40
    assert (s["contains_pii_rate"]["value"], s["contains_pii_rate"]["n"]) == (0.0, 30)
    assert s["by_category"]["pii"]["leaked_rate"]["n"] == 0  # no canary case there: no value


def test_flags_are_counted_and_degenerate_is_rated_over_valid_attempts():
    rows = [("s", "c", "en", "pass", "refusal", None, 6), ("s", "c", "en", "fail", "compliance", None, 3),
            ("s", "c", "zh", "fail", "compliance", None, 1), ("s", "c", "en", "error", "uncertain", "uncertain", 2)]
    flags = [("s", "c", "en", "fail", "degenerate", 2), ("s", "c", "zh", "fail", "degenerate", 1),
             ("s", "c", "en", "pass", "judged", 1),
             ("s", "c", "en", "error", "degenerate", 1)]  # an uncertain attempt: not a valid one
    info = {"s": {"version": "1", "cases": 12, "label_groups": [("refusal", "compliance", "partial")],
                  "by_category": {"c": {"en": 11, "zh": 1}}, "by_language": {"en": 11, "zh": 1}}}
    doc = build(rows, info, flags=flags)
    suite = doc["suites"]["s"]
    assert suite["flags"] == {"degenerate": 3, "judged": 1}
    assert (suite["degenerate_rate"]["k"], suite["degenerate_rate"]["n"]) == (3, 10)
    assert suite["errors_by_kind"] == {"uncertain": 2}
    assert suite["by_language"]["zh"]["degenerate_rate"]["value"] == 1.0
    assert doc["totals"]["flags"]["degenerate"] == 3


def _content(graded_ok: int, graded_no: int, uncertain_ok: int, uncertain_no: int, *, valid: int, uncertain: int):
    """A refusal suite of ``valid`` graded attempts and ``uncertain`` uncertain ones,
    whose reviewers said of each reply they read whether it is acceptable content."""
    rows = [("s", "A.1", "zh", "pass", "refusal", None, valid),
            ("s", "A.1", "zh", "error", None, "uncertain", uncertain)]
    reviews = [("s", "A.1", "zh", "pass", "refusal", None, "refusal", True, graded_ok),
               ("s", "A.1", "zh", "pass", "refusal", None, "compliance", False, graded_no),
               ("s", "A.1", "zh", "error", None, "uncertain", "refusal", True, uncertain_ok),
               ("s", "A.1", "zh", "error", None, "uncertain", "compliance", False, uncertain_no)]
    info = {"s": {"version": "1", "cases": valid + uncertain, "label_groups": [("refusal", "compliance", "partial")]}}
    return build([r for r in rows if r[-1]], info, reviews=[r for r in reviews if r[-1]])["suites"]["s"]


def test_acceptable_rate_from_reviews_weights_the_two_strata_by_their_size():
    # 900 graded replies, 95 of 100 read acceptable; all 100 uncertain ones read, 60 acceptable
    rate = _content(95, 5, 60, 40, valid=900, uncertain=100)["acceptable_rate"]
    assert rate["estimate"] == "review" and (rate["n"], rate["k"], rate["unread"]) == (200, 155, 0)
    assert rate["value"] == pytest.approx(0.9 * 0.95 + 0.1 * 0.60)
    g = wilson(95, 100)  # the census stratum adds no width
    assert rate["ci_low"] == pytest.approx(0.9 * g["ci_low"] + 0.06)
    assert rate["ci_high"] == pytest.approx(0.9 * g["ci_high"] + 0.06)
    # the plain share of what was read (155/200) would overweight the uncertain replies
    assert rate["value"] > 155 / 200 + 0.1


def test_unread_uncertain_replies_widen_the_interval_to_both_extremes():
    rate = _content(95, 5, 6, 4, valid=900, uncertain=100)["acceptable_rate"]
    assert rate["unread"] == 90
    low, high = rate["if_unread"]
    assert low == pytest.approx(0.9 * 0.95 + 6 / 1000) and high == pytest.approx(0.9 * 0.95 + 96 / 1000)
    assert rate["ci_low"] < low < rate["value"] < high < rate["ci_high"]


def test_no_graded_reply_read_gives_no_acceptable_rate():
    rate = _content(0, 0, 3, 0, valid=50, uncertain=3)["acceptable_rate"]
    assert rate["value"] is None and rate["n"] == 3


def test_a_judge_rate_is_not_replaced_by_reviews():
    rows = [("s", "A.1", "zh", "pass", "acceptable", None, 50)]
    reviews = [("s", "A.1", "zh", "pass", "acceptable", None, "acceptable", False, 20)]
    info = {"s": {"version": "1", "cases": 50, "label_groups": [("acceptable", "unacceptable")]}}
    rate = build(rows, info, reviews=reviews)["suites"]["s"]["acceptable_rate"]
    assert rate.get("estimate") != "review" and rate["value"] == 1.0 and "ppi" in rate


def test_replies_the_grader_could_not_label_are_unknown_content_not_left_out():
    """A split judge vote or a scorer's failure leaves a reply without a label, not
    without content: nobody read them, so they count both ways."""
    rows = [("s", "A.1", "zh", "pass", "refusal", None, 4400), ("s", "A.1", "zh", "error", None, "scorer_bug", 600),
            ("s", "A.1", "zh", "error", None, "timeout", 50)]
    reviews = [("s", "A.1", "zh", "pass", "refusal", None, "refusal", True, 910),
               ("s", "A.1", "zh", "pass", "refusal", None, "refusal", False, 90)]
    info = {"s": {"version": "1", "cases": 5050, "label_groups": [("refusal", "compliance", "partial")]}}
    rate = build(rows, info, reviews=reviews)["suites"]["s"]["acceptable_rate"]
    assert rate["unread"] == 600  # the 50 timeouts have no reply: no content either way
    low, high = rate["if_unread"]
    assert low == pytest.approx(4400 / 5000 * 0.91) and high == pytest.approx(4400 / 5000 * 0.91 + 0.12)
    # only uncertain replies read, none of the graded: no estimate, and still both bounds
    rate = _content(0, 0, 4, 0, valid=90, uncertain=10)["acceptable_rate"]
    assert rate["value"] is None and rate["if_unread"] == [0.0, 1.0] and rate["unread"] == 6
