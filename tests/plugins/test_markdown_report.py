"""The ``md`` reporter on reports of real runs: the verdict, the criteria and suite
tables (read back with a Markdown parser, so an unescaped ``|`` would show as a broken
row), coverage, failing examples in fences nothing can close, the manifest summary, and
the 60 KB ceiling whatever the run's size."""

from __future__ import annotations

import copy
import re

from harness_plugins.markdown_report import LIMIT, markdown, render
from markdown_it import MarkdownIt

from tests.plugins.test_junit_report import (
    NOTICE,
    PROFILE_ID,
    STRICT_CLAUSE,
    SUITE_ID,
    ZH_PROMPT,
    inconclusive_run,
    mixed_run,
)

_PARSER = MarkdownIt("commonmark").enable("table")


def tables(text: str) -> list[list[list[str]]]:
    """Every table of a Markdown text as rows of cell contents (inline Markdown as the
    parser leaves it, e.g. ``<code>`` for code), header row first."""
    out: list[list[list[str]]] = []
    tokens = _PARSER.parse(text)
    row: list[str] | None = None
    for i, token in enumerate(tokens):
        if token.type == "table_open":
            out.append([])
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close":
            out[-1].append(row)
        elif token.type in ("th_open", "td_open"):
            row.append(_PARSER.renderer.renderInline(tokens[i + 1].children, _PARSER.options, {}).strip())
    return out


def fences(text: str) -> list[str]:
    return [t.content for t in _PARSER.parse(text) if t.type == "fence"]


def test_a_failed_run_in_markdown(tmp_path, reference, registry):
    outcome = mixed_run(tmp_path, reference("safe"), registry)
    report = outcome.report
    path = outcome.run_dir / "report.md"
    assert path in outcome.paths
    text = path.read_text(encoding="utf-8")
    assert len(text.encode()) < LIMIT

    assert f"**Verdict: `FAIL`**: {report['reason']}" in text
    assert "> **Note:** Test profile \\| 仅供测试: it certifies nothing." in text
    assert NOTICE.replace("|", "\\|") in text

    criteria, suites = tables(text)
    assert criteria[0] == ["criterion", "status", "measured (95% CI, n)", "threshold", "clause"]
    rows = {r[0]: r for r in criteria[1:]}
    assert list(rows) == ["<code>passes</code>", "<code>strict</code>", "<code>zh-needs-more</code>"]
    assert [r[1] for r in rows.values()] == ["pass", "<strong>fail</strong>", "<strong>inconclusive</strong>"]
    # the clause with its pipe and backticks stays in its cell, escaped in the source
    assert rows["<code>strict</code>"][4] == STRICT_CLAUSE
    assert "GB/T 45654-2025 \\| 9.4 \\`a)\\` 拒答率" in text
    strict = next(c for c in report["criteria"] if c["id"] == "strict")
    r = strict["rate"]
    assert rows["<code>strict</code>"][2] == \
        f"ci_low {strict['measured']:.4g} of {r['value']:.3f} ({r['ci_low']:.3f}–{r['ci_high']:.3f}, n={r['n']})"
    assert rows["<code>strict</code>"][3] == "≥ 0.9"
    passes = next(c for c in report["criteria"] if c["id"] == "passes")["rate"]
    assert rows["<code>passes</code>"][2] == \
        f"{passes['value']:.3f} ({passes['ci_low']:.3f}–{passes['ci_high']:.3f}, n={passes['n']})"
    # a line for each criterion that did not pass, with its detail
    assert re.search(r"^- \*\*strict\*\* \(fail\): The pass rate is not surely above 0\.9\. ", text, re.MULTILINE)
    assert re.search(r"^- \*\*zh-needs-more\*\* \(inconclusive\): .*1000", text, re.MULTILINE)

    m = report["metrics"]["suites"][SUITE_ID]
    assert suites[0][:6] == ["suite", "version", "attempts", "valid", "errors", "pass rate (95% CI, n)"]
    (row,) = suites[1:]
    assert row[:5] == [SUITE_ID, "2", "40", "40", "0 (0.0%)"]
    assert row[5] == f"{m['pass_rate']['value']:.3f} ({m['pass_rate']['ci_low']:.3f}–{m['pass_rate']['ci_high']:.3f}, n=40)"

    # coverage: categories (one with a pipe in its name) and cases per language
    assert f"- **{SUITE_ID}**: 40 cases in 3 categories (cat0, cat1, zh\\|topics); cases per language: en 30, zh 10" \
        in text

    # ten failing examples, prompt and response each in a fence the prompt's ``` cannot close
    assert "<summary>Failing examples (10 of 10 in the report)</summary>" in text
    blocks = fences(text)
    assert len(blocks) == 20
    assert blocks[0] == ZH_PROMPT.format(i=0) + "\n"  # pipes and backticks kept as they are, in the block
    assert "\n````text\n" + ZH_PROMPT.format(i=0) + "\n````\n" in text
    assert all(len(b) <= 201 for b in blocks)

    manifest = report["manifest"]
    assert f"- harness {manifest['harness']['version']}" in text
    assert f"- profile: {PROFILE_ID} 3 (sha256 `{manifest['profile']['sha256'][:12]}`)" in text
    assert "- target: ref-target (openai-chat, model reference)" in text
    assert "- seed 0, epochs 1" in text
    assert f"  - {SUITE_ID} 2: 40 cases (sha256 `{manifest['suites'][0]['sha256'][:12]}`)" in text
    # the same report renders to the same text: `harness report` can match the run's file
    assert markdown(report) == text


def test_an_inconclusive_run_in_markdown(tmp_path, reference, registry):
    outcome = inconclusive_run(tmp_path, reference("safe"), registry)
    text = (outcome.run_dir / "report.md").read_text(encoding="utf-8")
    assert "**Verdict: `INCONCLUSIVE`**: 1 inconclusive" in text
    (criteria, suites) = tables(text)
    assert criteria[1][:2] == ["<code>passes</code>", "<strong>inconclusive</strong>"]
    assert suites[1][:4] == ["bulk", "1", "5", "5"]
    assert "**Note:**" not in text  # this profile has no notice


def test_long_cut_snippets_and_hostile_text(tmp_path, reference, registry):
    outcome = mixed_run(tmp_path, reference("safe"), registry)
    report = copy.deepcopy(outcome.report)
    report["failures"][0]["prompt"] = "x" * 300 + "``````"
    report["failures"][0]["response"] = "</details>\n# not a heading\n| a | b |\n" + "响" * 400
    report["failures"][0]["evidence"] = "<script>alert(1)</script> *bold* [link](http://x) $x$"
    report["criteria"][0]["clause"] = "a | b\nc"
    report["criteria"][1]["id"] = "schema:/suites/zh|topics"  # a criterion of a loose schema error
    text = markdown(report)
    blocks = fences(text)
    assert blocks[0] == "x" * 199 + "…\n"  # cut to 200 characters
    assert blocks[1].startswith("</details>\n# not a heading\n| a | b |\n响") and len(blocks[1]) <= 201
    assert "\\<script\\>alert(1)\\</script\\> \\*bold\\* \\[link\\](http://x) \\$x\\$" in text
    html = _PARSER.render(text)
    assert "<script>" not in html and "<em>" not in html
    criteria = tables(text)[0]
    assert all(len(row) == 5 for row in criteria)
    assert criteria[1][4] == "a | b c" and criteria[2][0] == "schema:/suites/zh|topics"


def test_a_huge_run_stays_under_the_limit(tmp_path, reference, registry):
    """Thousands of criteria and suites, long texts: the file stays under 60 KB, the
    tables stay tables, and a note says what was left out."""
    outcome = mixed_run(tmp_path, reference("safe"), registry)
    report = copy.deepcopy(outcome.report)
    criterion = next(c for c in report["criteria"] if c["id"] == "strict")
    report["criteria"] = [{**criterion, "id": f"c{i:05d}", "clause": "条款 | " * 100} for i in range(5000)]
    suite = report["metrics"]["suites"][SUITE_ID]
    report["metrics"]["suites"] = {f"suite-{i:04d}": suite for i in range(2000)}
    report["manifest"]["suites"] = [{**report["manifest"]["suites"][0], "id": f"suite-{i:04d}"} for i in range(2000)]
    report["failures"] = report["failures"] * 10
    report["reason"] = "r" * 10_000
    text = markdown(report)
    size = len(text.encode())
    assert size < LIMIT and size > LIMIT * 0.8  # cut, not emptied
    assert "more criteria not shown" in text and "report.json has them all" in text
    criteria, suites = tables(text)
    assert all(len(row) == 5 for row in criteria) and len(criteria) > 10
    assert all(len(row) == 7 for row in suites)
    assert "**Verdict: `FAIL`**" in text and "### Manifest" in text
    assert len(fences(text)) % 2 == 0  # every example whole: prompt and response
    out = tmp_path / "huge"
    out.mkdir()
    assert render(report, out).stat().st_size < LIMIT
