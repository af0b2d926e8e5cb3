"""The diff of two runs on hand-made report dicts: criteria better, worse and the same,
rates with Newcombe's interval and significance, attempts that changed status."""

from __future__ import annotations

import pytest

from harness.diffing import compare, compare_cases, compare_rate, criterion_change
from harness.metrics import difference, wilson
from harness.models import AttemptResult


def _criterion(cid: str, status: str) -> dict:
    return {"id": cid, "status": status, "clause": "test clause", "message": "m", "measured": None}


def _group(passed: int, valid: int, refused: int | None = None) -> dict:
    group = {"n": valid, "valid_n": valid, "pass_rate": wilson(passed, valid)}
    if refused is not None:
        group["refusal_rate"] = wilson(refused, valid)
    return group


def _report(criteria: dict[str, str], suites: dict | None = None, verdict: str = "PASS",
            profile_sha: str = "a" * 64) -> dict:
    return {
        "format": "harness-report/1",
        "verdict": verdict,
        "criteria": [_criterion(cid, status) for cid, status in criteria.items()],
        "metrics": {"suites": suites or {}, "totals": {}},
        "run": {"id": "r", "status": "finished"},
        "manifest": {"profile": {"id": "p", "version": "1", "sha256": profile_sha},
                     "suites": [{"id": s, "sha256": "b" * 64} for s in (suites or {})]},
    }


@pytest.mark.parametrize(("a", "b", "change"), [
    ("pass", "pass", "same"),
    ("fail", "fail", "same"),
    ("inconclusive", "inconclusive", "same"),
    ("fail", "pass", "better"),
    ("inconclusive", "pass", "better"),
    ("pass", "fail", "worse"),
    ("pass", "inconclusive", "worse"),
    ("inconclusive", "fail", "worse"),
    ("pass", None, "worse"),
    ("fail", None, "worse"),
    ("inconclusive", None, "worse"),
    ("fail", "inconclusive", "changed"),
    (None, "pass", "new"),
    (None, "fail", "new"),
])
def test_criterion_change(a, b, change):
    assert criterion_change(a, b) == change


def test_worse_when_a_criterion_fails_in_b():
    a = _report({"refuse": "pass", "answer": "pass", "zh": "fail"})
    b = _report({"refuse": "fail", "answer": "pass", "zh": "pass"}, verdict="FAIL")
    diff = compare(a, b)
    rows = {c["id"]: c for c in diff["criteria"]}
    assert (rows["refuse"]["a"], rows["refuse"]["b"], rows["refuse"]["change"]) == ("pass", "fail", "worse")
    assert rows["answer"]["change"] == "same" and rows["zh"]["change"] == "better"
    assert diff["worse"] is True
    assert diff["summary"]["criteria"] == {"better": 1, "worse": 1, "same": 1, "changed": 0, "new": 0}
    assert diff["verdict"] == {"a": "PASS", "b": "FAIL"}
    # the other way round only "better" and "worse" swap
    back = compare(b, a)
    assert back["worse"] is True  # zh: pass -> fail
    assert {c["id"]: c["change"] for c in back["criteria"]} == {"refuse": "better", "answer": "same",
                                                                  "zh": "worse"}


def test_better_or_same_is_not_worse():
    a = _report({"refuse": "fail", "answer": "inconclusive"})
    b = _report({"refuse": "pass", "answer": "pass"})
    diff = compare(a, b)
    assert diff["worse"] is False
    assert [c["change"] for c in diff["criteria"]] == ["better", "better"]
    assert compare(a, a)["worse"] is False
    assert {c["change"] for c in compare(a, a)["criteria"]} == {"same"}


def test_a_criterion_missing_in_b_is_worse_and_a_new_one_is_not():
    a = _report({"refuse": "pass", "gone": "fail"})
    b = _report({"refuse": "pass", "added": "fail"})
    diff = compare(a, b)
    rows = {c["id"]: c for c in diff["criteria"]}
    assert rows["gone"]["b"] is None and rows["gone"]["change"] == "worse"
    assert rows["added"]["a"] is None and rows["added"]["change"] == "new"
    assert [c["id"] for c in diff["criteria"]] == ["refuse", "gone", "added"]  # A's order, then B's new ones
    assert diff["worse"] is True


def test_fail_to_inconclusive_is_a_change_but_not_worse():
    diff = compare(_report({"refuse": "fail"}), _report({"refuse": "inconclusive"}))
    assert diff["criteria"][0]["change"] == "changed" and diff["worse"] is False


def test_a_large_difference_is_significant_and_the_intervals_do_not_overlap():
    a, b = wilson(95, 100), wilson(60, 100)
    row = compare_rate(a, b)
    assert row["difference"] == difference(b, a)  # B - A with Newcombe's interval
    assert row["difference"]["gap"] == pytest.approx(-0.35)
    assert row["difference"]["ci_high"] < 0
    assert row["significant"] is True and row["overlap"] is False and row["direction"] == "down"
    up = compare_rate(b, a)
    assert up["difference"]["gap"] == pytest.approx(0.35) and up["difference"]["ci_low"] > 0
    assert up["significant"] is True and up["direction"] == "up"


def test_a_small_difference_is_not_significant_and_the_intervals_overlap():
    row = compare_rate(wilson(50, 100), wilson(53, 100))
    assert row["difference"]["gap"] == pytest.approx(0.03)
    assert row["difference"]["ci_low"] < 0 < row["difference"]["ci_high"]
    assert row["significant"] is False and row["overlap"] is True and row["direction"] == "up"


def test_overlapping_intervals_can_still_differ_significantly():
    # the intervals touch, yet Newcombe's interval of the difference excludes 0
    a, b = wilson(50, 100), wilson(65, 100)
    row = compare_rate(a, b)
    assert row["overlap"] is True
    assert row["significant"] is True


def test_equal_rates_are_the_same():
    row = compare_rate(wilson(48, 48), wilson(48, 48))
    assert row["difference"]["gap"] == 0 and row["direction"] == "same"
    assert row["significant"] is False and row["overlap"] is True


def test_a_rate_without_value_has_no_difference():
    for a, b in [(wilson(0, 0), wilson(5, 10)), (wilson(5, 10), None), (None, wilson(5, 10))]:
        row = compare_rate(a, b)
        assert row["difference"] is None and row["significant"] is None and row["overlap"] is None


def test_rates_per_suite_category_and_language():
    suite_a = {**_group(90, 100, refused=90),
               "by_category": {"A.1": _group(45, 50, refused=45), "A.2": _group(45, 50, refused=45)},
               "by_language": {"en": _group(90, 100, refused=90)}}
    suite_b = {**_group(50, 100, refused=50),
               "by_category": {"A.1": _group(45, 50, refused=45), "A.3": _group(5, 50, refused=5)},
               "by_language": {"en": _group(50, 100, refused=50)}}
    diff = compare(_report({}, {"s": suite_a}), _report({}, {"s": suite_b}))
    rows = {(r["scope"], r["group"], r["metric"]): r for r in diff["rates"]}
    assert {(s, g) for s, g, _ in rows} == {("suite", None), ("category", "A.1"), ("category", "A.2"),
                                            ("category", "A.3"), ("language", "en")}
    top = rows["suite", None, "refusal_rate"]
    assert top["a"]["value"] == 0.9 and top["b"]["value"] == 0.5 and top["significant"] is True
    assert rows["category", "A.1", "pass_rate"]["difference"]["gap"] == 0
    assert rows["category", "A.1", "pass_rate"]["significant"] is False
    assert rows["category", "A.2", "pass_rate"]["b"] is None  # in A only
    assert rows["category", "A.3", "pass_rate"]["a"] is None  # in B only
    assert all(r["suite"] == "s" for r in diff["rates"])
    assert diff["summary"]["significant"] == sum(1 for r in diff["rates"] if r["significant"])
    assert diff["worse"] is False  # rates alone never make B worse: criteria judge


def test_different_profiles_are_noted():
    diff = compare(_report({}), _report({}, profile_sha="c" * 64))
    assert any("different profiles" in note for note in diff["notes"])
    assert any("attempts not compared" in note for note in diff["notes"])
    assert diff["cases"] is None


def _result(key: str, status: str, label: str | None = None) -> AttemptResult:
    suite, case_id, epoch = key.split("/")
    return AttemptResult(key, suite, case_id, int(epoch), "c", "en", status, 1.0 if status == "pass" else 0.0,
                         label, "evidence", "response", None, None, 1.0, 1)


def test_changed_attempts_are_counted_per_change():
    a = [_result("s/c1/0", "pass", "refusal"), _result("s/c2/0", "pass", "refusal"),
         _result("s/c3/0", "fail", "compliance"), _result("s/c4/0", "error"), _result("s/c5/0", "pass")]
    b = [_result("s/c1/0", "pass", "refusal"), _result("s/c2/0", "fail", "compliance"),
         _result("s/c3/0", "pass", "refusal"), _result("s/c4/0", "pass"), _result("s/c6/0", "pass")]
    cases = compare_cases(a, b)
    assert cases["compared"] == 4 and cases["changed"] == 3
    assert cases["by_change"] == {"error->pass": 1, "fail->pass": 1, "pass->fail": 1}
    assert cases["labels_changed"] == 2
    assert (cases["only_in_a"], cases["only_in_b"]) == (1, 1)
    assert [e["key"] for e in cases["examples"]] == ["s/c2/0", "s/c3/0", "s/c4/0"]
    first = cases["examples"][0]
    assert (first["a"], first["b"], first["a_label"], first["b_label"]) == ("pass", "fail", "refusal", "compliance")


def test_changed_attempts_list_fifty_and_count_all():
    keys = [f"s/c{i:04d}/0" for i in range(300)]
    a = [_result(k, "pass") for k in keys]
    b = [_result(k, "fail" if i % 2 else "pass") for i, k in enumerate(keys)]
    cases = compare_cases(a, b)
    assert cases["changed"] == 150 and cases["shown"] == 50 and len(cases["examples"]) == 50
    assert cases["by_change"] == {"pass->fail": 150}


def test_attempts_pair_by_key_whatever_their_order():
    keys = [f"s/c{i:04d}/0" for i in range(200)]
    a = [_result(k, "pass") for k in keys]
    b = [_result(k, "fail" if i < 10 else "pass") for i, k in enumerate(keys)][::-1]
    cases = compare_cases(iter(a), iter(b))
    assert cases["compared"] == 200 and cases["changed"] == 10
    assert cases["only_in_a"] == cases["only_in_b"] == 0


def test_compare_takes_result_streams():
    a = _report({"refuse": "pass"})
    b = _report({"refuse": "fail"}, verdict="FAIL")
    diff = compare(a, b, iter([_result("s/c1/0", "pass")]), iter([_result("s/c1/0", "fail")]))
    assert diff["cases"]["changed"] == 1 and diff["summary"]["cases_changed"] == 1
    assert not any("attempts not compared" in note for note in diff["notes"])
