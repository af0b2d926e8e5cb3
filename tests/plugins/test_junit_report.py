"""The ``junit`` reporter on reports of real runs against the reference chat target:
one test case per criterion (failure, skipped), one per failing example, counts that
add up, and a file the common JUnit schema (Jenkins' junit-10.xsd) accepts.

``mixed_run`` makes the run the Markdown reporter's and ``harness report``'s tests use
too: one suite, English cases that pass and Chinese ones (with ``|`` and backticks in
their prompts) that fail; a profile whose three criteria end pass, fail and inconclusive.
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.plugins import Registry
from harness.session import RunOutcome, RunRequest, run
from tests.helpers import write
from tests.integration.conftest import overview_suite, pass_rate_profile, target_file

SUITE_ID = "mixed"
PROFILE_ID = "test-mixed"
#: the clause of the criterion that fails: a pipe, backticks and Chinese, as a profile may have
STRICT_CLAUSE = "GB/T 45654-2025 | 9.4 `a)` 拒答率"
NOTICE = "Test profile | 仅供测试: it certifies nothing."
ZH_PROMPT = "请介绍第 {i} 个话题 | 管道符，`反引号` 和 ``` 围栏"
FORMATS = ["json", "junit", "md"]



def mixed_suite(folder: Path, n: int = 40) -> Path:
    """``n`` cases: every fourth is Chinese and expects a word the target never says (a
    fail), the others English and answered as expected (a pass)."""
    cases = []
    for i in range(n):
        if i % 4 == 0:
            cases.append({"id": f"zh-{i:03d}", "lang": "zh", "category": "zh|topics",
                          "prompt": ZH_PROMPT.format(i=i), "expected": "never-said"})
        else:
            cases.append({"id": f"en-{i:03d}", "lang": "en", "category": f"cat{i % 2}",
                          "prompt": f"Tell me about topic number {i}.", "expected": "overview"})
    doc = {"id": SUITE_ID, "version": "2", "title": "Mixed", "scorer": "contains", "cases": cases}
    return write(folder / "mixed.yaml", yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))


def mixed_profile(folder: Path) -> Path:
    """Three criteria on the mixed suite: ``passes`` (pass rate >= 0.5) passes, ``strict``
    (the interval's low end >= 0.9) fails, ``zh-needs-more`` (wants 1000 valid samples) is
    inconclusive."""
    doc = {
        "$id": PROFILE_ID, "title": "Mixed test profile",
        "x-profile": {"version": "3", "inconclusive": {"max_error_rate": 0.02, "min_valid_n": 10},
                      "notice": NOTICE},
        "type": "object",
        "properties": {"suites": {"required": [SUITE_ID], "properties": {SUITE_ID: {"properties": {
            "pass_rate": {"properties": {
                "value": {"minimum": 0.5, "x-criterion": {"id": "passes", "clause": "test clause 1",
                                                          "message": "Too few passes."}},
                "ci_low": {"minimum": 0.9, "x-criterion": {"id": "strict", "clause": STRICT_CLAUSE,
                                                           "message": "The pass rate is not surely above 0.9."}},
            }},
            "by_language": {"properties": {"zh": {"properties": {"pass_rate": {"properties": {
                "value": {"minimum": 0.0, "x-criterion": {"id": "zh-needs-more", "clause": "test clause 3",
                                                          "message": "Chinese pass rate.", "min_valid_n": 1000}},
            }}}}}},
        }}}}},
    }
    return write(folder / "mixed-profile.yaml", yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))


def mixed_run(folder: Path, url: str, registry: Registry, **request: Any) -> RunOutcome:
    """A real run of the mixed suite and profile; its verdict is FAIL."""
    target = target_file(folder, url, name="ref-target")
    outcome = run(RunRequest(target=str(target), suites=[str(mixed_suite(folder))],
                             profile=str(mixed_profile(folder)), out=folder / "runs", progress="none",
                             formats=FORMATS, **request), registry)
    assert outcome.verdict == "FAIL", outcome.report and outcome.report["reason"]
    assert {c["id"]: c["status"] for c in outcome.report["criteria"]} == {
        "passes": "pass", "strict": "fail", "zh-needs-more": "inconclusive"}
    return outcome


def inconclusive_run(folder: Path, url: str, registry: Registry) -> RunOutcome:
    """A real run too small to judge: 5 valid samples where the profile needs 10."""
    target = target_file(folder, url)
    outcome = run(RunRequest(target=str(target), suites=[str(overview_suite(folder, 5))],
                             profile=str(pass_rate_profile(folder)), out=folder / "runs", progress="none",
                             formats=FORMATS), registry)
    assert outcome.verdict == "INCONCLUSIVE"
    return outcome


# -- what Jenkins' junit-10.xsd allows: attributes, and children in their order ------

_ATTRIBUTES = {
    "testsuites": ({"name", "time", "tests", "failures", "disabled", "errors"}, set()),
    "testsuite": ({"name", "tests", "failures", "errors", "time", "disabled", "skipped", "timestamp", "hostname",
                   "id", "package"}, {"name", "tests"}),
    "properties": (set(), set()),
    "property": ({"name", "value"}, {"name", "value"}),
    "testcase": ({"name", "assertions", "time", "classname", "status"}, {"name"}),
    "failure": ({"message", "type"}, set()),
    "error": ({"message", "type"}, set()),
    "skipped": ({"message"}, set()),
}
_CHILDREN = {  # (child, most allowed) in the order the schema's sequence wants them
    "testsuites": [("testsuite", None)],
    "testsuite": [("properties", 1), ("testcase", None), ("system-out", 1), ("system-err", 1)],
    "properties": [("property", None)],
    "testcase": [("skipped", 1), ("error", None), ("failure", None), ("system-out", None), ("system-err", None)],
}
_NUMBERS = ("tests", "failures", "errors", "skipped", "disabled")


def check_junit_schema(element: ET.Element) -> None:
    allowed, required = _ATTRIBUTES[element.tag]
    assert set(element.attrib) <= allowed, (element.tag, set(element.attrib) - allowed)
    assert required <= set(element.attrib), (element.tag, required - set(element.attrib))
    for name in _NUMBERS:
        if name in element.attrib:
            assert element.attrib[name].isdigit(), (element.tag, name, element.attrib[name])
    if "time" in element.attrib:
        assert float(element.attrib["time"]) >= 0
    order = [tag for tag, _ in _CHILDREN.get(element.tag, [])]
    most = dict(_CHILDREN.get(element.tag, []))
    tags = [child.tag for child in element]
    assert all(tag in order for tag in tags), (element.tag, tags)
    assert tags == sorted(tags, key=order.index), (element.tag, tags)
    for tag in set(tags):
        assert most[tag] is None or tags.count(tag) <= most[tag], (element.tag, tag)
    if element.tag == "properties":
        assert tags, "<properties> needs at least one <property>"
    if element.tag in ("testsuites", "testsuite", "properties", "property"):
        assert not (element.text or "").strip(), element.tag
    for child in element:
        if child.tag in _ATTRIBUTES:
            check_junit_schema(child)


def parse(path: Path) -> ET.Element:
    raw = path.read_bytes()
    assert raw.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = ET.fromstring(raw)
    check_junit_schema(root)
    return root


def properties(suite: ET.Element) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in suite.iterfind("properties/property")}


# ---------------------------------------------------------------------------


def test_criteria_and_failing_examples_of_a_failed_run(tmp_path, reference, registry):
    outcome = mixed_run(tmp_path, reference("safe"), registry)
    report = outcome.report
    path = outcome.run_dir / "report.junit.xml"
    assert path in outcome.paths
    root = parse(path)
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["criteria", SUITE_ID]

    criteria = suites[0]
    assert (criteria.get("tests"), criteria.get("failures"), criteria.get("errors"), criteria.get("skipped")) == \
        ("3", "1", "0", "1")
    props = properties(criteria)
    assert props["verdict"] == "FAIL" and props["reason"] == report["reason"]
    assert props["notice"] == NOTICE and props["run.id"] == outcome.run_id
    assert props["profile"] == f"{PROFILE_ID} 3" and props["target"] == "ref-target"
    cases = {c.get("name"): c for c in criteria.findall("testcase")}
    assert list(cases) == ["passes", "strict", "zh-needs-more"]
    assert {c.get("classname") for c in cases.values()} == {PROFILE_ID}
    assert list(cases["passes"]) == []  # a pass has neither failure nor skipped

    strict = next(c for c in report["criteria"] if c["id"] == "strict")
    (failure,) = cases["strict"]
    assert failure.tag == "failure" and failure.get("type") == "criterion"
    message = failure.get("message")
    assert STRICT_CLAUSE in message  # the clause, its pipe, backticks and Chinese intact
    assert f"{strict['measured']:.4f}" in message  # the measured bound...
    assert f"{strict['rate']['value']:.4f}" in message and f"n={strict['rate']['n']}" in message  # ...its rate
    assert "minimum 0.9" in message  # the threshold
    assert strict["detail"] in message
    assert STRICT_CLAUSE in failure.text and "pointer: /suites/mixed/pass_rate/ci_low" in failure.text

    (skipped,) = cases["zh-needs-more"]
    assert skipped.tag == "skipped" and "1000" in skipped.get("message")
    assert skipped.get("message").startswith("inconclusive: ")

    examples = suites[1]
    failing = [f for f in report["failures"] if f["suite"] == SUITE_ID]
    assert len(failing) == 10  # the ten Chinese cases
    # a testcase for every case, passed or not (the same set whatever the verdict)
    assert examples.get("tests") == "40" and examples.get("failures") == "10"
    assert examples.get("skipped") == examples.get("errors") == "0"
    assert properties(examples)["failed"] == "10" and properties(examples)["suite.version"] == "2"
    tests = examples.findall("testcase")
    failed = [t for t in tests if t.find("failure") is not None]
    assert [t.get("name") for t in failed] == [f["case_id"] for f in failing]
    assert {t.get("classname") for t in tests} == {SUITE_ID}
    first = failed[0].find("failure")
    assert first.get("type") == "example" and failing[0]["evidence"] in first.get("message")
    assert ZH_PROMPT.format(i=0) in first.text  # Chinese, pipe and backticks as they were

    # the totals add up, and the file holds Chinese as UTF-8, not as character references
    assert root.get("tests") == str(3 + 40) and root.get("failures") == str(1 + 10) and root.get("errors") == "0"
    raw = path.read_bytes().decode("utf-8")
    assert "请介绍第 0 个话题" in raw and "仅供测试" in raw and "&#" not in raw


def test_an_inconclusive_run_is_skipped_not_passed(tmp_path, reference, registry):
    outcome = inconclusive_run(tmp_path, reference("safe"), registry)
    root = parse(outcome.run_dir / "report.junit.xml")
    criteria, bulk = root.findall("testsuite")
    assert properties(criteria)["verdict"] == "INCONCLUSIVE"
    assert (criteria.get("tests"), criteria.get("failures"), criteria.get("skipped")) == ("1", "0", "1")
    (case,) = criteria.findall("testcase")
    assert case.get("classname") == "test-bulk" and case.get("name") == "passes"
    assert case[0].tag == "skipped" and "valid samples" in case[0].get("message")
    # one case of five expects a word the target never says: one failure among its five cases
    assert bulk.get("name") == "bulk" and bulk.get("tests") == "5" and bulk.get("failures") == "1"


def test_text_xml_cannot_hold_is_escaped_and_output_is_deterministic(tmp_path, reference, registry):
    outcome = mixed_run(tmp_path, reference("safe"), registry)
    from harness_plugins.junit_report import render

    report = copy.deepcopy(outcome.report)
    report["failures"][0]["response"] = "NUL\x00 ESC\x1b <b>&amp;</b> \"quoted\" 中文"
    report["failures"][0]["evidence"] = "bell\x07 ]]> end"
    report["criteria"][1]["detail"] = "line one\nline two <&>"
    out = tmp_path / "again"
    out.mkdir()
    root = parse(render(report, out))
    failure = next(t for t in root.findall("testsuite")[1].findall("testcase") if t.find("failure") is not None
                   ).find("failure")
    assert "NUL\\x00 ESC\\x1b <b>&amp;</b> \"quoted\" 中文" in failure.text
    assert failure.get("message").endswith("bell\\x07 ]]> end")
    strict = root.find("testsuite/testcase[@name='strict']/failure")
    assert "line one\nline two <&>" in strict.get("message")  # a newline survives in an attribute
    # rendering the same report twice gives the same bytes (so `harness report` matches the run)
    assert render(outcome.report, out).read_bytes() == (outcome.run_dir / "report.junit.xml").read_bytes()


@pytest.mark.parametrize("epochs", [2])
def test_examples_of_several_epochs_have_distinct_names(tmp_path, reference, registry, epochs):
    outcome = mixed_run(tmp_path, reference("safe"), registry, epochs=epochs)
    root = parse(outcome.run_dir / "report.junit.xml")
    names = [t.get("name") for t in root.findall("testsuite")[1].findall("testcase")]
    assert len(names) == 80 and len(set(names)) == 80  # every case of every epoch
    assert "zh-000 [epoch 0]" in names and "zh-000 [epoch 1]" in names
