"""The JUnit XML report format: ``report.junit.xml``, for CI systems that show test
results (GitLab, Jenkins, GitHub test reporters...).

Layout (valid against the common JUnit schema, Jenkins' ``junit-10.xsd``)::

    <testsuites name="harness run RUN_ID" tests failures errors time>
      <testsuite name="criteria" tests failures errors skipped time timestamp>
        <properties> run id, verdict, reason, notice, profile, target </properties>
        <testcase classname="PROFILE_ID" name="CRITERION_ID" time="0">
          <failure message="..." type="criterion">  for a failed criterion
          <skipped message="..."/>                  for an inconclusive one, with why
        </testcase>
        <testcase classname="PROFILE_ID" name="run">  only for a run that stopped early:
          <error message="the run stopped early: ..." type="stopped"/>
        </testcase>
      </testsuite>
      <testsuite name="SUITE_ID" ...>    one per suite of the run; a robot suite's
                                         properties robot.worst (its worst value
                                         against the limit) and robot.measured_by
        <testcase classname="SUITE_ID" name="CASE_ID">   one per attempt, whatever the
          <failure message="EVIDENCE" type="example">    verdict (the report's outcomes):
          <error message="..." type="attempt">           passed, failed (with the example's
        </testcase>                                      evidence where the report carries
      </testsuite>                                       one) or errored
    </testsuites>

A report without ``outcomes`` (made by an older harness) lists only its failing
examples under each suite, as before.

The run's verdict is a property of the criteria suite. An inconclusive criterion is
``skipped``, so CI shows it as not passed. Text goes through ElementTree (which escapes
``<``, ``&`` and quotes); characters XML 1.0 cannot hold at all (most control
characters) are written as visible ``\\xNN`` escapes. The file is UTF-8, Chinese text
as it is. The output depends only on the report, so rendering a stored report again
gives the same bytes.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from harness import ReporterSpec, hookimpl

FILE_NAME = "report.junit.xml"

# Characters XML 1.0 cannot hold, even escaped: C0 controls but tab, newline and
# carriage return; lone surrogates; U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(value: Any) -> str:
    text = "" if value is None else str(value)
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", text)


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "n/a" if value is None else str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _rate(rate: Mapping[str, Any]) -> str:
    if rate.get("value") is None:
        return f"n/a (n={rate.get('n', 0)})"
    return f"{rate['value']:.4f} (95% CI {rate['ci_low']:.4f}-{rate['ci_high']:.4f}, n={rate['n']})"


def _threshold(threshold: Any) -> str:
    if isinstance(threshold, Mapping):
        return ", ".join(f"{k} {_number(v)}" for k, v in threshold.items()) or "none"
    return "none" if threshold is None else _number(threshold)


def _measured(criterion: Mapping[str, Any]) -> str:
    basis = criterion.get("basis")
    return _shown(criterion) + (f"; {basis}" if basis else "")


def _shown(criterion: Mapping[str, Any]) -> str:
    shown = _number(criterion.get("measured"))
    rate = criterion.get("rate")
    if not rate:
        return shown
    field = (criterion.get("pointer") or "").rsplit("/", 1)[-1]
    if field in ("", "value"):
        return _rate(rate)
    return f"{field} {shown} of the rate {_rate(rate)}"


def _seconds(start: Any, end: Any) -> float:
    try:
        return max(0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds())
    except (TypeError, ValueError):
        return 0.0


def _timestamp(value: Any) -> str | None:
    """ISO 8601 to the second, without a zone (the schema's form); the harness's
    times are UTC, and the exact ones are properties of the criteria suite."""
    try:
        return datetime.fromisoformat(value).strftime("%Y-%m-%dT%H:%M:%S")
    except (TypeError, ValueError):
        return None


def _suite(parent: ET.Element, name: str, *, tests: int, failures: int, skipped: int, time: float,
           timestamp: str | None) -> ET.Element:
    attrs = {"name": _clean(name), "tests": str(tests), "failures": str(failures), "errors": "0",
             "skipped": str(skipped), "time": f"{time:.3f}"}
    if timestamp:
        attrs["timestamp"] = timestamp
    return ET.SubElement(parent, "testsuite", attrs)


def _properties(parent: ET.Element, items: list[tuple[str, Any]]) -> None:
    shown = [(k, v) for k, v in items if v not in (None, "")]
    if shown:  # the schema wants at least one property inside <properties>
        props = ET.SubElement(parent, "properties")
        for key, value in shown:
            ET.SubElement(props, "property", {"name": key, "value": _clean(value)})


def _criterion_text(c: Mapping[str, Any]) -> str:
    lines = [f"criterion: {c['id']}", f"status: {c['status']}", f"clause: {c['clause']}",
             f"message: {c['message']}"]
    if c.get("pointer"):
        lines.append(f"pointer: {c['pointer']}")
    lines += [f"measured: {_measured(c)}", f"threshold: {_threshold(c.get('threshold'))}"]
    if c.get("threshold_source"):
        lines.append(f"threshold source: {c['threshold_source']}")
    if c.get("detail"):
        lines.append(f"detail: {c['detail']}")
    return _clean("\n".join(lines))


def _robot_line(entry: Mapping[str, Any]) -> str:
    from harness import robot

    return robot.reporting.text_line(entry)


def build(report: Mapping[str, Any]) -> ET.Element:
    """The ``<testsuites>`` element of a report."""
    run = report.get("run", {})
    manifest = report["manifest"]
    profile = manifest["profile"]
    criteria = report["criteria"]
    duration = _seconds(run.get("created_at"), run.get("finished_at"))
    stamp = _timestamp(run.get("created_at")) or _timestamp(manifest.get("created_at"))

    root = ET.Element("testsuites", {"name": _clean(f"harness run {run.get('id', '')}".strip())})
    failed = sum(c["status"] == "fail" for c in criteria)
    inconclusive = sum(c["status"] == "inconclusive" for c in criteria)
    crit = _suite(root, "criteria", tests=len(criteria), failures=failed, skipped=inconclusive, time=duration,
                  timestamp=stamp)
    target = manifest.get("target", {})
    _properties(crit, [
        ("verdict", report["verdict"]),
        ("reason", report.get("reason")),
        ("notice", report.get("notice")),
        ("run.id", run.get("id")),
        ("run.status", run.get("status")),
        ("run.created_at", run.get("created_at")),
        ("run.finished_at", run.get("finished_at")),
        ("run.stop_reason", run.get("stop_reason")),
        ("profile", f"{profile['id']} {profile['version']}"),
        ("profile.sha256", profile.get("sha256")),
        ("target", target.get("name")),
        ("target.model", target.get("model")),
        ("harness.version", manifest.get("harness", {}).get("version")),
        ("seed", manifest.get("seed")),
        ("signature.key_id", (report.get("signature") or {}).get("key_id")),
    ])
    for c in criteria:
        case = ET.SubElement(crit, "testcase", {"classname": _clean(profile["id"]), "name": _clean(c["id"]),
                                               "time": "0"})
        if c["status"] == "fail":
            message = (f"{c['message']} [{c['clause']}] measured {_measured(c)}; threshold "
                       f"{_threshold(c.get('threshold'))}" + (f"; {c['detail']}" if c.get("detail") else ""))
            failure = ET.SubElement(case, "failure", {"message": _clean(message), "type": "criterion"})
            failure.text = _criterion_text(c)
        elif c["status"] == "inconclusive":
            message = f"inconclusive: {c.get('detail') or c['message']} [{c['clause']}]"
            ET.SubElement(case, "skipped", {"message": _clean(message)})

    # the failing examples, one testsuite per suite of the run (in the manifest's order)
    by_suite: dict[str, list[Mapping[str, Any]]] = {s["id"]: [] for s in manifest.get("suites", [])}
    for example in report.get("failures") or []:
        by_suite.setdefault(example.get("suite", "?"), []).append(example)
    metrics = report.get("metrics", {}).get("suites", {})
    robot = {e.get("suite"): e for e in (report.get("robot") or {}).get("suites") or []}
    several_epochs = manifest.get("epochs", 1) > 1
    total_tests, total_failures = len(criteria), failed
    outcomes = report.get("outcomes")
    total_errors = 0
    if run.get("status") == "aborted" or run.get("stop_reason"):  # a run that stopped early is an error
        case = ET.SubElement(crit, "testcase", {"classname": _clean(profile["id"]), "name": "run", "time": "0"})
        ET.SubElement(case, "error", {"message": _clean(f"the run stopped early: {run.get('stop_reason')}"),
                                      "type": "stopped"})
        crit.set("tests", str(len(criteria) + 1))
        crit.set("errors", "1")
        total_tests, total_errors = total_tests + 1, 1
    if outcomes is not None:
        # one testcase per case, whatever the verdict, as the pytest plugin has
        tests, fails, errors = _cases(root, manifest, outcomes, by_suite, metrics, robot, stamp, several_epochs)
        root.set("tests", str(total_tests + tests))
        root.set("failures", str(total_failures + fails))
        root.set("errors", str(total_errors + errors))
        root.set("time", f"{duration:.3f}")
        return root
    for suite_id, examples in by_suite.items():
        suite = _suite(root, suite_id, tests=len(examples), failures=len(examples), skipped=0, time=0.0,
                       timestamp=stamp)
        version = next((s.get("version") for s in manifest.get("suites", []) if s["id"] == suite_id), None)
        _suite_properties(suite, version, metrics.get(suite_id, {}), robot.get(suite_id),
                          [("examples.shown", len(examples))])
        for example in examples:
            name = str(example.get("case_id", example.get("key", "?")))
            if several_epochs:
                name += f" [epoch {str(example.get('key', '')).rsplit('/', 1)[-1]}]"
            case = ET.SubElement(suite, "testcase", {"classname": _clean(suite_id), "name": _clean(name),
                                                     "time": "0"})
            _example_failure(case, example)
        total_tests += len(examples)
        total_failures += len(examples)
    root.set("tests", str(total_tests))
    root.set("failures", str(total_failures))
    root.set("errors", str(total_errors))
    root.set("time", f"{duration:.3f}")
    return root


def _suite_properties(suite: ET.Element, version: Any, m: Mapping[str, Any], worst: Mapping[str, Any] | None,
                      extra: tuple[tuple[str, Any], ...] | list[tuple[str, Any]] = ()) -> None:
    """A suite's properties: its version, counts, and for a robot suite its worst value."""
    _properties(suite, [("suite.version", version), ("attempts", m.get("n")), ("failed", m.get("failed")),
                        ("errors", m.get("errors")), *extra,
                        ("robot.worst", _robot_line(worst) if worst else None),
                        ("robot.measured_by", worst.get("measured_by") if worst else None)])


def _cases(root: ET.Element, manifest: Mapping[str, Any], outcomes: Mapping[str, Any],
           examples: Mapping[str, list[Mapping[str, Any]]], metrics: Mapping[str, Any],
           robot: Mapping[str, Any], stamp: str | None, several_epochs: bool) -> tuple[int, int, int]:
    """A testsuite per suite with a testcase per attempt: passed, ``failure`` (with the
    example's evidence where the report carries it) or ``error``."""
    tests = fails = errors = 0
    for entry in manifest.get("suites", []):
        suite_id = entry["id"]
        got = outcomes.get(suite_id) or {"keys": [], "status": ""}
        shown = {str(e.get("key", "")): e for e in examples.get(suite_id, [])}
        n_fail, n_error = got["status"].count("f"), got["status"].count("e")
        suite = _suite(root, suite_id, tests=len(got["keys"]), failures=n_fail, skipped=0, time=0.0,
                       timestamp=stamp)
        suite.set("errors", str(n_error))
        _suite_properties(suite, entry.get("version"), metrics.get(suite_id, {}), robot.get(suite_id))
        for key, mark in zip(got["keys"], got["status"], strict=True):
            case_id, _, epoch = key.rpartition("/")
            name = f"{case_id} [epoch {epoch}]" if several_epochs else case_id
            case = ET.SubElement(suite, "testcase", {"classname": _clean(suite_id), "name": _clean(name), "time": "0"})
            if mark == "f":
                example = shown.get(f"{suite_id}/{key}")
                if example:
                    _example_failure(case, example)
                else:
                    ET.SubElement(case, "failure", {"message": "failed (its evidence is in the run's store)",
                                                    "type": "case"})
            elif mark == "e":
                ET.SubElement(case, "error", {"message": "the attempt ended in an error", "type": "attempt"})
        tests += len(got["keys"])
        fails += n_fail
        errors += n_error
    return tests, fails, errors


def _example_failure(case: ET.Element, example: Mapping[str, Any]) -> None:
    label = example.get("label")
    evidence = example.get("evidence") or "failed"
    failure = ET.SubElement(case, "failure", {
        "message": _clean(f"{label}: {evidence}" if label else evidence), "type": "example"})
    failure.text = _clean("\n".join([
        f"key: {example.get('key', '')}",
        f"category: {example.get('category', '')}, language: {example.get('lang', '')}",
        f"label: {label}",
        f"evidence: {evidence}",
        "prompt:", str(example.get("prompt", "")),
        "response:", str(example.get("response", "")),
    ]))


def render(report: Mapping[str, Any], out_dir: Path) -> Path:
    path = out_dir / FILE_NAME
    root = build(report)
    ET.indent(root)
    tmp = path.with_name(path.name + ".tmp")
    ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=True)
    with tmp.open("ab") as f:
        f.write(b"\n")
    tmp.replace(path)  # a reader never sees half a report
    return path


@hookimpl
def register_reporters() -> list[ReporterSpec]:
    return [ReporterSpec("junit", render, f"JUnit XML ({FILE_NAME}): one test case per criterion and per "
                                          "failing example, for CI")]
