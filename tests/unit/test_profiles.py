"""The shipped profiles: wiring of measure-xii-genai on synthetic metrics, and the quick
profile kept in step with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.criteria import evaluate, load_profile
from harness.metrics import build

ROOT = Path(__file__).resolve().parents[2]


def risks() -> list[str]:
    text = (ROOT / "suites/genai/refusal.yaml").read_text()
    return re.search(r"^categories: (\[.*\])$", text, re.M).group(1).strip("[]").replace('"', "").split(", ")


def compliant_metrics(refusal_refused=0.99, acceptable=None):
    rows, info = [], {}
    cats = {}
    for risk in risks():
        for lang in ("zh", "en"):
            refused = 22
            rows.append(("genai.refusal", risk, lang, "pass", "refusal", None, round(refused * refusal_refused)))
            rows.append(("genai.refusal", risk, lang, "fail", "compliance", None, refused - round(refused * refusal_refused)))
            if acceptable is not None:
                rows.append(("genai.refusal", risk, lang, "pass", "acceptable", None, 0))
        cats[risk] = {"zh": 22, "en": 22}
    info["genai.refusal"] = {"version": "1", "cases": 1364, "label_groups": [tuple(sorted({"refusal", "compliance", "partial"}))],
                             "by_category": cats}
    rows += [("genai.over-refusal", "history", "en", "pass", "compliance", None, 600)]
    info["genai.over-refusal"] = {"version": "1", "cases": 1100, "label_groups": [tuple(sorted({"refusal", "compliance", "partial"}))]}
    rows += [("genai.disclosure", "identity", "en", "pass", "discloses", None, 80),
             ("genai.disclosure", "labelling", "en", "pass", "labelled", None, 40)]
    info["genai.disclosure"] = {"version": "1", "cases": 120, "label_groups": [tuple(sorted({"discloses", "denies", "evades",
                                                                         "labelled", "unlabelled"}))]}
    rows += [("genai.privacy", "system-prompt-canary", "en", "pass", "kept", None, 60),
             ("genai.privacy", "pii-lookup", "en", "pass", "clean", None, 60)]
    info["genai.privacy"] = {"version": "1", "cases": 120, "label_groups": [tuple(sorted({"leaked", "kept", "contains_pii", "clean"}))]}
    rows += [("genai.injection", "document", "en", "pass", "kept", None, 120)]
    info["genai.injection"] = {"version": "1", "cases": 120, "label_groups": [tuple(sorted({"leaked", "kept"}))]}
    rows += [("genai.jailbreak", "base64", "en", "pass", "refusal", None, 496)]
    info["genai.jailbreak"] = {"version": "1", "cases": 496, "label_groups": [tuple(sorted({"refusal", "compliance", "partial"}))]}
    for value in ("female", "male"):
        rows += [("genai.bias", f"gender:{value}", "en", "pass", "favourable", None, 50),
                 ("genai.bias", f"gender:{value}", "en", "pass", "unfavourable", None, 10)]
    rows += [("genai.bias", "stereotype:gender", "en", "pass", "rejects", None, 30)]
    info["genai.bias"] = {"version": "1", "cases": 150, "label_groups": [tuple(sorted({"favourable", "unfavourable", "agrees", "rejects"}))]}
    for cat in ("medicine", "law", "finance", "safety"):
        rows.append(("genai.accuracy", cat, "en", "pass", "correct", None, 30))
    rows.append(("genai.accuracy", "no-answer", "en", "pass", "abstained", None, 30))
    info["genai.accuracy"] = {"version": "1", "cases": 150, "label_groups": [tuple(sorted({"correct", "wrong", "abstained"}))]}
    rows += [("genai.safe-completion", "emergency", "en", "pass", "safe", None, 40),
             ("genai.safe-completion", "crisis", "zh", "fail", "unsafe", None, 2)]
    info["genai.safe-completion"] = {"version": "1", "cases": 50, "label_groups": [tuple(sorted({"safe", "unsafe"}))]}
    doc = build(rows, info)
    if acceptable is not None:
        from harness.metrics import wilson
        doc["suites"]["genai.refusal"]["acceptable_rate"] = wilson(round(acceptable * 1364), 1364)
    return doc


@pytest.fixture(scope="module")
def measure_xii():
    return load_profile(ROOT / "profiles/measure-xii-genai.yaml")


def statuses(results):
    return {r["id"]: r["status"] for r in results}


def test_a_compliant_service_without_a_judge_is_inconclusive_only_for_acceptable_content(measure_xii):
    verdict, results, _ = evaluate(measure_xii, compliant_metrics())
    st = statuses(results)
    assert st.pop("acceptable-content") == "inconclusive"
    assert set(st.values()) == {"pass"}, {k: v for k, v in st.items() if v != "pass"}
    assert verdict == "INCONCLUSIVE"


def test_with_the_judges_rate_it_passes(measure_xii):
    verdict, results, reason = evaluate(measure_xii, compliant_metrics(acceptable=0.97))
    assert verdict == "PASS", [r for r in results if r["status"] != "pass"]


def test_too_few_refusals_fail_with_the_standards_clause(measure_xii):
    verdict, results, _ = evaluate(measure_xii, compliant_metrics(refusal_refused=0.8, acceptable=0.97))
    failed = [r for r in results if r["status"] == "fail"]
    assert verdict == "FAIL" and [r["id"] for r in failed] == ["refuse-harmful"]
    assert "9.4" in failed[0]["clause"] and failed[0]["threshold_source"] == "standard"


def test_a_missing_risk_fails_coverage(measure_xii):
    doc = compliant_metrics(acceptable=0.97)
    del doc["suites"]["genai.refusal"]["by_category"]["A.3.4"]
    _, results, _ = evaluate(measure_xii, doc)
    assert statuses(results)["risk-coverage"] == "fail"


def test_every_criterion_cites_a_clause_and_says_whose_threshold(measure_xii):
    for c in measure_xii.criteria:
        assert c.clause and c.threshold_source in ("standard", "ours"), c.id


def test_quick_profile_keeps_measure_xii_criteria_and_thresholds(measure_xii):
    quick = load_profile(ROOT / "profiles/self-test-quick.yaml")
    full = {c.id: c.threshold for c in measure_xii.criteria}
    bank = {"refusal-bank-size", "over-refusal-bank-size", "risk-coverage"}
    assert {c.id: c.threshold for c in quick.criteria} == {k: v for k, v in full.items() if k not in bank}
    assert quick.sample_per_category == 5 and "certifies nothing" in quick.notice


def test_the_quick_profile_samples_enough_for_every_criterion_it_judges(registry):
    """A quick profile that cannot pass by construction is a defect: each criterion's
    group (suite, category or language) gets at least its smallest valid n."""
    import random

    from harness.criteria import resolve_profile
    from harness.probes import expand, sample
    from harness.suite import resolve_suite

    profile = resolve_profile("self-test-quick", registry)
    checked = 0
    for c in profile.criteria:
        path = c.scope_path
        if len(path) < 2 or path[0] != "suites" or c.plan_only:
            continue
        suite = expand(resolve_suite(path[1], registry), registry, 0)
        cases = sample(suite.cases, profile.sample_per_category, random.Random(f"0/{suite.id}/profile-sample"))
        if len(path) > 3 and path[2] in ("by_category", "by_language"):
            field = "category" if path[2] == "by_category" else "lang"
            cases = [case for case in cases if getattr(case, field) == path[3]]
        need = c.min_valid_n if c.min_valid_n is not None else profile.min_valid_n
        assert len(cases) >= need, (c.id, len(cases), need)
        checked += 1
    assert checked >= 15
