"""The robot section of the report: a short run of three small robot suites (speed and
separation monitoring, emergency stop, power and force limiting) against the unsafe
reference controller; report.json holds each suite's worst case with the plots' data,
the HTML draws the charts and the replay (PNG frames from PyBullet's TinyRenderer as
data: URIs), Markdown and JUnit carry a line per suite, every format labels who measured.
In headless Chromium the section renders and the flip-book advances; the screenshot
lands in test-artifacts/robot-report.png for a person to look at."""

from __future__ import annotations

import base64
import copy
import json
import re
import struct
import time
import zlib
from pathlib import Path
from types import SimpleNamespace

import pytest
from harness_plugins import html_report, junit_report, markdown_report

from harness.files import problems_of
from harness.plugins import Registry, make_plugin_manager
from harness.robot import limits, replay, reporting
from harness.serving import serve_in_thread
from harness.session import RunRequest, run
from harness.store import Store

pytest.importorskip("pybullet")

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
HARNESS = "measured by the harness (closed loop)"

SUITES = {
    "ssm": """\
id: t.ssm
version: "1"
title: people approaching
measure: ssm_margin_mm
scorer: {name: robot}
defaults:
  category: approach
  scenario: {kind: ssm, duration_s: 2.5, task: {sweep_deg: 70, speed: 0.6}, ssm: {human_uncertainty_mm: 50}}
cases:
  - id: front
    scenario: {humans: [{from_deg: 0, from_mm: 2800, to_mm: 1500, speed_mm_s: 1600, start_s: 0.2}]}
  - id: diagonal
    scenario:
      title: "one person close in, diagonally"
      humans: [{from_deg: 45, from_mm: 2800, to_mm: 1000, speed_mm_s: 1600, start_s: 0.2}]
""",
    "estop": """\
id: t.estop
version: "1"
title: emergency stop
measure: stop_time_margin_s
scorer: {name: robot}
defaults: {category: stop}
cases:
  - id: mid
    scenario:
      kind: estop
      duration_s: 2.0
      task: {sweep_deg: 70, speed: 0.6}
      events: [{at_s: 0.8, estop: true}, {at_s: 1.6, estop: false}]
""",
    "pfl": """\
id: t.pfl
version: "1"
title: contact
measure: force_ratio
scorer: {name: robot}
defaults: {category: contact}
cases:
  - id: chest
    scenario: {kind: pfl, duration_s: 1.5, task: {sweep_deg: 60, speed: 0.5}, contact: {region: chest, at: 0.7}}
""",
}

PROFILE = """\
$id: t-robot
title: robot report test
x-profile: {version: "1", inconclusive: {max_error_rate: 0, min_valid_n: 1}}
type: object
properties:
  suites:
    properties:
      t.ssm:
        properties:
          ssm_margin_mm:
            properties:
              min: {minimum: 0, x-criterion: {id: ssm-margin, clause: ISO/TS 15066:2016 5.5.4, message: too close}}
"""


@pytest.fixture(scope="module")
def robot_run(tmp_path_factory):
    """The three suites against reference-robot's unsafe policy, over WebSocket."""
    tmp = tmp_path_factory.mktemp("robot-report")
    for name, text in SUITES.items():
        (tmp / f"{name}.yaml").write_text(text)
    (tmp / "profile.yaml").write_text(PROFILE)
    registry = Registry(make_plugin_manager())
    spec = registry.reference_target("reference-robot")
    started = time.perf_counter()
    with serve_in_thread(spec.make_app(policy="unsafe")) as url:
        target = tmp / "target.yaml"
        target.write_text(f"name: unsafe-arm\nconnector: robot-controller\nbase_url: {url.replace('http', 'ws', 1)}\n"
                          "robot: franka_panda\n")
        outcome = run(RunRequest(target=str(target), suites=[str(tmp / f"{n}.yaml") for n in SUITES],
                                 profile=str(tmp / "profile.yaml"), out=tmp / "runs", progress="none",
                                 formats=["json", "html", "md", "junit"]), registry)
    outcome.seconds = time.perf_counter() - started
    assert outcome.verdict == "FAIL"
    return outcome


def _entries(report):
    return {e["suite"]: e for e in report["robot"]["suites"]}


def test_report_json_has_the_worst_case_of_each_robot_suite(robot_run):
    report = json.loads((robot_run.run_dir / "report.json").read_text())
    assert problems_of(Path("report.json"), "", report, "report") == []
    entries = _entries(report)
    assert list(entries) == ["t.ssm", "t.estop", "t.pfl"]
    for e in entries.values():
        assert e["mode"] == "closed-loop" and e["measured_by"] == HARNESS
        assert len(json.dumps({k: v for k, v in e.items() if k != "failing"})) < 16_000, "a few KB per suite"
        assert all(len(json.dumps(f)) < 12_000 for f in e["failing"]), "and per failing episode"
        assert "trace" not in e["measurements"] and "frames" not in e["measurements"]

    # the worst SSM case is the attempt with the lowest margin in the store
    with Store.open(f"sqlite:///{robot_run.run_dir}/store.db") as store:
        margins = {r.key: r.measure for r in store.iter_results(robot_run.run_id) if r.suite == "t.ssm"}
    ssm = entries["t.ssm"]
    worst_key = min(margins, key=margins.get)
    assert ssm["worst"]["key"] == worst_key and ssm["worst"]["value"] == margins[worst_key] < 0
    assert ssm["worst"]["scenario"] == "one person close in, diagonally"
    assert ssm["attempts"] == 2 and ssm["failed"] == 2
    assert ssm["limit"]["criterion"] == "ssm-margin" and ssm["limit"]["op"] == "≥" and ssm["limit"]["value"] == 0
    sep = ssm["plots"]["separation"]
    closest = sep["closest"]
    assert closest["t"] is not None and sep["margin_mm"] == ssm["worst"]["value"]
    times = [p[0] for p in sep["points"]]
    assert len(times) > 20 and all(abs(t - closest["t"]) <= reporting.SEPARATION_WINDOW_S for t in times)
    assert min(times) < closest["t"] < max(times)
    assert any(p[1] < p[2] for p in sep["points"]), "the separation goes below S_p"
    assert 1 <= len(ssm["replay"]["frames"]) <= replay.REPLAY_FRAMES
    assert ssm["replay"]["robot"] == "franka_panda" and ssm["replay"]["focus_s"] == closest["t"]

    # e-stop: the unsafe controller keeps going: no stop within the declared time
    estop = entries["t.estop"]
    assert estop["worst"]["status"] == "fail"
    assert estop["worst"]["value"] is None or estop["worst"]["value"] < 0
    assert estop["limit"]["op"] == "≥" and estop["limit"]["criterion"] is None  # the standard's default
    speed = estop["plots"]["speed"]
    at = speed["estop"]["at_s"]
    times = [p[0] for p in speed["points"]]
    assert min(times) < at < max(times) and speed["estop"]["declared_time_s"] > 0
    dense = [t for t in times if at <= t <= at + 0.3]
    assert len(dense) >= 20, "the trace is dense around the e-stop"
    assert max(p[1] for p in speed["points"] if p[0] > at + speed["estop"]["declared_time_s"]) > 100, \
        "the unsafe robot is still moving after the declared stopping time"

    # contact: force per region against ISO/TS 15066 Table A.2
    pfl = entries["t.pfl"]
    bars = {b["region"]: b for b in pfl["plots"]["contacts"]}
    assert "chest" in bars and pfl["limit"]["op"] == "≤" and pfl["limit"]["value"] == 1.0
    for region, b in bars.items():
        assert b["limit_n"] == limits.BODY_REGIONS[region]["force_n"]
        assert b["transient_limit_n"] == (0.0 if region in limits.NO_TRANSIENT else 2 * b["limit_n"])
    assert bars["chest"]["quasi_static_n"] > 0
    # and its force over time: the peak kept, the quasi-static part from 50 ms after the onset
    (curve,) = [c for c in pfl["plots"]["force_time"] if c["region"] == "chest"]
    assert curve["quasi_static_from_s"] == pytest.approx(curve["onset_s"] + limits.QUASI_STATIC_AFTER_S)
    assert max(p[1] for p in curve["points"] if p[0] >= curve["quasi_static_from_s"]) == pytest.approx(
        bars["chest"]["quasi_static_n"], rel=0.02)  # thinned to at most 120 points
    assert "curve" not in pfl["measurements"]["contacts"]["chest"], "plotted, not tabled"

    # every failing episode is listed with its plots, not only the worst
    assert [f["key"] for f in ssm["failing"]] == sorted(margins)
    assert all(f["plots"]["separation"]["points"] for f in ssm["failing"])
    assert estop["failing"][0]["plots"]["speed"]["points"] and "replay" not in estop["failing"][0]


def _pngs(html: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]


def _pixels(png: bytes) -> tuple[int, int, bytes]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", png[16:26])
    assert (depth, colour) == (8, 2)
    data, at = b"", 8
    while at < len(png):
        (length,), kind = struct.unpack(">I", png[at:at + 4]), png[at + 4:at + 8]
        if kind == b"IDAT":
            data += png[at + 8:at + 8 + length]
        at += 12 + length
    raw = zlib.decompress(data)
    stride = 1 + 3 * width
    assert len(raw) == stride * height and all(raw[y * stride] == 0 for y in range(height))
    return width, height, b"".join(raw[y * stride + 1:(y + 1) * stride] for y in range(height))


def test_html_draws_the_charts_and_the_replay(robot_run):
    whole = (robot_run.run_dir / "report.html").read_text()
    # each suite's failing episodes, each with its plots, folded away until opened
    lists = re.findall(r'<details class="failing-episodes">(.*?)</ul>', whole, flags=re.S)
    assert len(lists) == 3 and lists[0].count("<li><details>") == 2 and lists[0].count('class="ln sep"') == 2
    assert 'class="ln force"' in lists[2]
    html = re.sub(r'<details class="failing-episodes">.*?</ul>', "", whole, flags=re.S)
    assert '<section id="robot">' in html and 'href="#robot"' in html
    # separation and S_p, speed around them; speed around the e-stop; each contact's force over time
    report = json.loads((robot_run.run_dir / "report.json").read_text())
    curves = sum(len(e["plots"].get("force_time", [])) for e in report["robot"]["suites"])
    assert curves >= 1 and html.count('<svg class="chart line"') == 3 + curves and 'class="ln force"' in html
    assert '<svg class="chart force" viewBox="0 0 800' in html and 'aria-label="t.pfl: contact force per body' in html
    assert 'class="ln sep"' in html and 'class="ln sp"' in html and 'class="mk closest"' in html
    assert 'class="mk estop"' in html and 'class="span declared"' in html
    assert html.count(HARNESS) >= 3 * 3, "the label next to the headline, each chart and the measurements"
    frames = _pngs(html)
    assert len(frames) == sum(len(e["replay"]["frames"]) for e in report["robot"]["suites"])
    width, height, rgb = _pixels(frames[len(frames) // 2])
    assert (width, height) == (replay.WIDTH, replay.HEIGHT)
    colours = {rgb[i:i + 3] for i in range(0, len(rgb), 3)}
    assert len(colours) > 50, "a picture, not one colour"
    assert frames[0] != frames[-1], "the robot moves between frames"


def test_markdown_and_junit_carry_a_line_per_robot_suite(robot_run):
    md = (robot_run.run_dir / "report.md").read_text()
    assert "### Robot safety: worst cases" in md
    lines = [line for line in md.splitlines() if line.startswith("- t.")]
    assert len(lines) == 3 and all(line.endswith(HARNESS) for line in lines)
    assert re.search(r"- t\.ssm: worst ssm\\_margin\\_mm -[0-9.]+ mm \(limit ≥ 0 mm\) in t\.ssm/", md)
    junit = (robot_run.run_dir / "report.junit.xml").read_text()
    assert junit.count('name="robot.measured_by" value="measured by the harness (closed loop)"') == 3
    assert re.search(r'name="robot.worst" value="t\.pfl: worst force_ratio [^"]+ \(limit ≤ 1\)', junit)


def test_vendor_reported_measurements_are_labelled_in_every_format(robot_run):
    """A black-box run's summaries say mode black-box: each format shows the label next
    to the measurements, and the HTML has no replay (nothing was simulated)."""
    report = json.loads((robot_run.run_dir / "report.json").read_text())
    vendor = copy.deepcopy(report)
    for e in vendor["robot"]["suites"]:
        e.update(mode="black-box", measured_by=reporting.measured_by("black-box"))
        e.pop("replay", None)
    assert reporting.measured_by("black-box") == "vendor-reported"
    assert problems_of(Path("report.json"), "", vendor, "report") == []
    html = html_report.render_html(vendor)
    assert HARNESS not in html and html.count('class="measured-by') >= 9
    assert html.count("vendor-reported") >= 9 and "No replay: the measurements are vendor-reported" in html
    assert "data:image/png" not in html
    md = markdown_report.markdown(vendor)
    assert sum(line.endswith("vendor-reported") for line in md.splitlines() if line.startswith("- t.")) == 3
    junit = junit_report.build(vendor)
    values = [p.get("value") for p in junit.iter("property") if p.get("name") == "robot.measured_by"]
    assert values == ["vendor-reported"] * 3


def test_worst_case_ranks_a_failure_without_a_value_first():
    """Lowest margin is worst; a failed attempt without a measure (the stop the harness
    had to make) is worse still; ties keep the first by key; one parse per suite."""
    def result(key, status, measure):
        summary = {"kind": "estop", "mode": "closed-loop", "trace": [], "controller": {"faults": []}}
        return SimpleNamespace(key=key, suite="s", case_id=key, category="c", status=status, label="x",
                               measure=measure, evidence="", response=json.dumps(summary))

    suite = SimpleNamespace(id="s", title="t", measure="stop_time_margin_s",
                            cases=[SimpleNamespace(id="a", scenario={"kind": "estop"})])
    store = SimpleNamespace(iter_results=lambda run_id: iter([
        result("a", "pass", 0.05), result("b", "fail", -0.02), result("c", "fail", -0.02),
        SimpleNamespace(key="d", suite="s", status="error", response=None, measure=None),
        result("e", "pass", 0.2)]))
    entry = reporting.section(store, "r", [suite], [])["suites"][0]
    assert entry["worst"]["key"] == "b" and entry["attempts"] == 5 and entry["errors"] == 1
    store.iter_results = lambda run_id: iter([result("a", "fail", -0.5), result("b", "fail", None)])
    assert reporting.section(store, "r", [suite], [])["suites"][0]["worst"]["key"] == "b"
    assert reporting.section(store, "r", [SimpleNamespace(id="chat", cases=[SimpleNamespace(scenario=None)])],
                             []) is None


def test_the_robot_section_renders_and_the_flip_book_advances_in_chromium(robot_run):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev dependency group")
    from tests.browser.test_report_in_browser import FLAGS, chromium_or_skip

    binary = chromium_or_skip()
    url = (robot_run.run_dir / "report.html").resolve().as_uri()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=binary, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            requests: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url, wait_until="load")
            assert errors == []
            assert [r for r in requests if not r.startswith(("file:", "data:"))] == [], "nothing from a network"
            section = page.locator("#robot")
            assert section.is_visible()
            assert section.locator("article.robot-suite").count() == 3
            assert section.locator(".headline .measured-by").first.inner_text() == HARNESS
            widths = section.locator(".robot-plots svg.chart.line path.ln").evaluate_all(
                "ps => ps.map(p => p.getBBox().width)")
            assert len(widths) >= 4 and min(widths) > 300, "the lines are drawn across the charts"
            # a failing episode's plots are folded away and drawn when it is opened
            folded = section.locator(".failing-episodes").first
            assert not folded.locator("svg.chart.line").first.is_visible()
            folded.locator("summary").first.click()
            folded.locator("ul.episodes > li > details > summary").first.click()
            plot = folded.locator("svg.chart.line path.ln").first
            assert plot.is_visible() and plot.evaluate("p => p.getBBox().width") > 300
            assert section.locator("svg.chart.force rect.b").count() >= 2

            book = section.locator(".flipbook").first
            frames = book.locator(".fb-frames img")
            assert book.locator(".fb-controls").is_visible() and frames.count() >= 2
            assert book.locator(".fb-frames img:visible").count() == 1
            shown = book.locator(".fb-frames img:visible").evaluate("i => [i.naturalWidth, i.complete]")
            assert shown == [replay.WIDTH, True], "the PNG decodes in the browser"
            first = book.get_attribute("data-frame")
            book.locator(".fb-play").click()
            deadline = time.monotonic() + 3
            while book.get_attribute("data-frame") == first and time.monotonic() < deadline:
                page.wait_for_timeout(50)
            assert book.get_attribute("data-frame") != first, "playing advances the frames"
            assert "Pause" in book.locator(".fb-play").inner_text()
            book.locator(".fb-play").click()  # pause
            book.locator(".fb-slider").evaluate("s => { s.value = 0; s.dispatchEvent(new Event('input')); }")
            assert book.get_attribute("data-frame") == "0"
            assert book.locator(".fb-status").inner_text().startswith("t = ")
            assert frames.nth(0).is_visible() and book.locator(".fb-frames img:visible").count() == 1
            book.locator(".fb-slider").evaluate("s => { s.value = 3; s.dispatchEvent(new Event('input')); }")
            assert frames.nth(3).is_visible() and not frames.nth(0).is_visible()

            ARTIFACTS.mkdir(exist_ok=True)
            page.evaluate("document.getElementById('robot').scrollIntoView()")
            section.screenshot(path=str(ARTIFACTS / "robot-report.png"))
            assert (ARTIFACTS / "robot-report.png").stat().st_size > 20_000
        finally:
            browser.close()
