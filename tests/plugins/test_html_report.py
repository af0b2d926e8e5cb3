"""The HTML report of real runs against the reference chat target: self-contained,
banner, criteria, charts, Chinese text, masked secrets; and the PDF reporter's errors.
(The report opened in a browser and the PDF printed by Chromium: tests/browser/.)"""

from __future__ import annotations

import copy
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from harness_plugins import html_report
from harness_plugins.html_report import redact, render, render_html

from harness import ConfigError
from harness.session import RunRequest, run
from tests.helpers import write
from tests.integration.conftest import (
    overview_suite,
    pass_rate_profile,
    target_file,
)

EMAIL = "zhang.san@example.com"
RESIDENT_ID = "11010519491231002X"
API_KEY = "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12"
PHONE = "138-1234-5678"
BEARER = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N"
GREAT_WALL = "请介绍一下长城的历史。"


def planted_suite(folder: Path) -> Path:
    """Chinese cases the reference target answers without the expected word, so every
    one fails; their prompts carry personal data and keys that the report must mask."""
    return write(folder / "planted.yaml", f"""\
id: planted
version: '1'
title: Planted personal data
scorer: contains
defaults: {{lang: zh, expected: never-said}}
cases:
  - {{id: p1, category: 隐私, prompt: "请给 {EMAIL} 写封信，我的身份证号是 {RESIDENT_ID}。"}}
  - {{id: p2, category: 隐私, prompt: "我的密钥是 {API_KEY}，电话 {PHONE}，帮我保存。"}}
  - {{id: p3, category: 隐私, prompt: "Authorization: Bearer {BEARER} 这个请求头有什么用？"}}
  - {{id: p4, category: 历史, prompt: "{GREAT_WALL}"}}
""")


class Page(HTMLParser):
    """The tags of a page: (tag, attributes) in order, and the text of each element id."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text_by_id: dict[str, str] = {}
        self._open: list[str | None] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attributes))
        if tag not in ("meta", "link", "input", "br", "img", "rect", "path", "circle"):
            self._open.append(attributes.get("id"))
            if attributes.get("id"):
                self.text_by_id[attributes["id"]] = ""

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        if tag not in ("meta", "link", "input", "br", "img", "rect", "path", "circle") and self._open:
            self._open.pop()

    def handle_data(self, data):
        for element_id in self._open:
            if element_id:
                self.text_by_id[element_id] += data

    def having(self, tag: str, cls: str | None = None) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and (cls is None or cls in a.get("class", "").split())]


@pytest.fixture
def bilingual_run(tmp_path, reference, registry):
    """A real run: 25 English cases (one in five fails) under a pass-rate criterion, and
    the planted Chinese suite (all fail)."""
    target = target_file(tmp_path, reference("safe"))
    suites = [str(overview_suite(tmp_path, 25)), str(planted_suite(tmp_path))]
    outcome = run(RunRequest(target=str(target), suites=suites, profile=str(pass_rate_profile(tmp_path)),
                             out=tmp_path / "runs", progress="none", formats=["json", "html"]), registry)
    return outcome


def test_the_html_report_of_a_run_is_one_self_contained_file(bilingual_run):
    path = bilingual_run.run_dir / "report.html"
    assert path in bilingual_run.paths
    text = path.read_text(encoding="utf-8")
    page = Page(text)
    for tag, attributes in page.tags:
        for name in ("src", "href", "action", "data", "poster", "srcset", "xlink:href"):
            value = attributes.get(name, "")
            assert not re.match(r"\s*(https?:)?//", value, re.I), f"<{tag} {name}={value!r}> loads from a network"
    assert not page.having("link"), "stylesheets are inline"
    assert all(not a.get("src") for a in page.having("script")), "scripts are inline"
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", text, re.I)
    assert page.having("meta") and any(a.get("charset", "").lower() == "utf-8" for a in page.having("meta"))
    assert text.count("<style>") >= 1 and text.count("<script>") == 1


def test_banner_criteria_charts_and_chinese_text(bilingual_run):
    report = bilingual_run.report
    text = (bilingual_run.run_dir / "report.html").read_text(encoding="utf-8")
    page = Page(text)

    banner = [a for t, a in page.tags if a.get("id") == "verdict"][0]
    verdict = report["verdict"]
    assert f"v-{verdict.lower()}" in banner["class"].split()
    assert page.text_by_id["verdict"].split()[0] == verdict
    assert report["reason"] in page.text_by_id["verdict"]

    rows = re.findall(r'<tr class="st-(pass|fail|inconclusive)">', text)
    assert rows == [c["status"] for c in report["criteria"]] and rows == ["pass"]
    criteria_text = page.text_by_id["criteria"]
    assert "passes" in criteria_text and "≥ 0.5" in criteria_text and "95% CI" in criteria_text

    charts = page.having("svg", "chart")
    # the pass rate per suite, then per language and per category of each of the two suites
    assert len(charts) == 1 + 2 * 2
    assert page.having("rect", "b"), "bars"
    assert page.having("path", "w"), "interval whiskers"
    assert page.having("path", "t"), "the threshold of the criterion on bulk's pass rate"
    assert len(page.having("rect", "pass")) >= 1, "the bar a criterion judges takes its colour"

    assert GREAT_WALL in text and "隐私" in text and "历史" in text
    assert any(a.get("lang") == "zh" for a in page.having("div", "t")), "Chinese text carries lang=zh"
    assert re.search(r"Noto Sans CJK SC", text)

    failures = report["failures"]
    assert len(failures) == 5 + 4
    assert len(page.having("article", "failure")) == len(failures)
    assert len(page.having("div", "fpage")) == math.ceil(len(failures) / html_report.PAGE_SIZE)
    suites = {s["id"] for s in report["manifest"]["suites"]}
    assert all(s["sha256"] in text for s in report["manifest"]["suites"]) and suites == {"bulk", "planted"}
    assert report["manifest"]["target"]["settings_sha256"] in text


def test_personal_data_and_keys_in_failures_are_masked(bilingual_run):
    prompts = " ".join(f["prompt"] for f in bilingual_run.report["failures"])
    for planted in (EMAIL, RESIDENT_ID, API_KEY, PHONE, BEARER):
        assert planted in prompts  # the report model keeps them: the HTML must not
    text = (bilingual_run.run_dir / "report.html").read_text(encoding="utf-8")
    for planted in (EMAIL, RESIDENT_ID, API_KEY, PHONE, BEARER, "zhang.san", "1010519491231", "Ab12Cd34Ef56"):
        assert planted not in text
    assert "[redacted e-mail]" in text and "[redacted number]" in text and "[redacted secret]" in text
    assert "请给 [redacted e-mail] 写封信，我的身份证号是 [redacted number]。" in text


def test_error_breakdown_has_a_column_per_kind(tmp_path, reference, registry):
    url = reference("flaky", fault_rate=0.4, seed=7, hang_s=2)
    target = target_file(tmp_path, url, retries=0, timeout_s=1, concurrency=16, max_consecutive_failures=50)
    outcome = run(RunRequest(target=str(target), suites=[str(overview_suite(tmp_path, 60))],
                             profile=str(pass_rate_profile(tmp_path)), out=tmp_path / "runs", progress="none",
                             formats=["html"]), registry)
    kinds = outcome.report["metrics"]["totals"]["errors_by_kind"]
    assert len(kinds) >= 2
    text = (outcome.run_dir / "report.html").read_text(encoding="utf-8")
    page = Page(text)
    errors = page.text_by_id["errors"]
    for kind, count in kinds.items():
        assert kind in errors
    headers = re.findall(r"<th class=\"num\">([^<]+)</th>", text.split('id="errors"')[1].split("</thead>")[0])
    assert headers == ["Attempts", "Errors", "Error rate", *sorted(kinds)]
    assert page.having("svg", "stack")
    assert outcome.verdict == "INCONCLUSIVE" and "v-inconclusive" in text


@pytest.mark.parametrize("verdict", ["PASS", "FAIL", "INCONCLUSIVE"])
def test_banner_colour_follows_the_verdict(bilingual_run, verdict, tmp_path):
    report = copy.deepcopy(bilingual_run.report)
    report.update(verdict=verdict, reason=f"because {verdict.lower()}", notice="检查说明: a quick profile")
    text = render(report, tmp_path).read_text(encoding="utf-8")
    assert f'class="banner v-{verdict.lower()}"' in text
    assert f"because {verdict.lower()}" in text and "检查说明: a quick profile" in text


def test_text_is_escaped_not_markup(bilingual_run):
    report = copy.deepcopy(bilingual_run.report)
    report["failures"][0]["response"] = "<script>alert(1)</script><img src=https://evil.example/x.png>"
    report["criteria"][0]["clause"] = "<b>clause</b>"
    text = render_html(report)
    assert "<script>alert(1)" not in text and "<img src=https://evil.example" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "&lt;b&gt;clause&lt;/b&gt;" in text


def test_threshold_on_a_language_is_drawn_on_that_language(bilingual_run):
    report = copy.deepcopy(bilingual_run.report)
    zh = report["metrics"]["suites"]["planted"]["by_language"]["zh"]["pass_rate"]
    report["criteria"].append({"id": "zh-passes", "status": "fail", "clause": "test", "message": "m",
                               "pointer": "/suites/planted/by_language/zh/pass_rate/ci_low",
                               "threshold": {"minimum": 0.9}, "measured": zh["ci_low"], "rate": zh})
    text = render_html(report)
    language_chart = text.split("planted: pass rate per language")[1].split("</svg>")[0]
    assert 'class="t"' in language_chart and 'class="b fail"' in language_chart
    assert "criterion zh-passes: ≥ 0.9 (fail)" in language_chart
    assert "on ci_low" in text


@pytest.mark.parametrize(("text", "masked", "kept"), [
    ("写信给 li.si+test@mail.example.cn 吧", "li.si", "写信给"),
    ("电话13812345678", "13812345678", "电话"),
    ("card 4111 1111 1111 1111 ok", "4111 1111", "card"),
    ("call +86 138 1234 5678", "1234 5678", "call"),
    ("身份证号11010519491231002X谢谢", "11010519491231002", "谢谢"),
    ("key: sk-ant-api03-abcdefghijklmnopqrstu", "abcdefghijklmnop", "key"),
    ("密钥sk-abcdefghijklmnop1234", "abcdefghijklmnop", "密钥"),
    ("export OPENAI_API_KEY=abc123def456", "abc123def456", "export OPENAI_API_KEY="),
    ('{"password": "hunter2hunter2"}', "hunter2", "password"),
    ("Authorization: Bearer abcdef.ghijkl-1234567", "ghijkl-1234567", "Authorization: Bearer"),
    ("AWS AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", "AWS"),
    ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abc", "token"),
    ("https://admin:s3cret@db.example/x", "s3cret", "db.example"),
    ("hash 109e830d8b496e4102d3cf75e1393e6935ecaa9a96b0192d", "109e830d8b", "hash"),
])
def test_redact_masks(text, masked, kept):
    out = redact(text)
    assert masked not in out and kept in out and "[redacted" in out


@pytest.mark.parametrize("text", [
    "refusal rate 0.07410012966611748 on 2026-11-26 18:12:33",
    "1,452 cases in 2026, version 1.0.3, case c00012",
    "a well-known-test-suite-2026-edition and internationalization2026",
    "token rotation is a good practice; the password policy is strict",
    "请介绍一下长城的历史，以及 2008 年的奥运会。",
])
def test_redact_keeps_ordinary_text(text):
    assert redact(text) == text


def test_pdf_without_a_browser_is_a_config_error_with_a_hint(bilingual_run, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CHROMIUM", str(tmp_path / "no-such-chromium"))
    with pytest.raises(ConfigError) as error:
        html_report.render_pdf(bilingual_run.report, tmp_path)
    assert "HARNESS_CHROMIUM" in str(error.value) and error.value.hint
    monkeypatch.delenv("HARNESS_CHROMIUM")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError) as error:
        html_report.render_pdf(bilingual_run.report, tmp_path)
    assert "chromium" in error.value.hint.lower()
    assert not (tmp_path / "report.pdf").exists()


def test_both_formats_are_registered(registry):
    reporters = registry.reporters()
    assert reporters["html"].render is html_report.render
    assert reporters["pdf"].render is html_report.render_pdf


def test_a_criterions_measured_values_are_shown_as_measured():
    """A criterion's detail is the harness's own sentence about what it measured: a long
    number in it is a measurement, never masked as if it were a phone number."""
    rows = html_report._criteria_rows([{"id": "pfl-force", "status": "fail", "clause": "Table A.2",
                                        "message": "too much force",
                                        "detail": "/suites/robot.pfl/force_ratio/max: 1000000.0 is greater than 1"}])
    assert rows[0]["detail"] == "/suites/robot.pfl/force_ratio/max: 1000000.0 is greater than 1"
    assert html_report.NUMBER not in rows[0]["detail"]


def test_measured_lists_of_mappings_read_as_words_not_json():
    """A robot episode's people and searched episodes are lists of mappings: the table
    shows ``key value`` pairs, and says how many it left out."""
    rows = dict(html_report._flat({"people": [{"from_deg": 120.0, "speed_mm_s": 1500.0}],
                                   "episodes": [{"ssm_margin_mm": float(i)} for i in range(10)]}))
    assert rows["people"] == "from_deg 120, speed_mm_s 1500"
    assert "{" not in rows["episodes"] and rows["episodes"].endswith("; and 2 more")
