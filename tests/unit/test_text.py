"""harness.text: the one set of bilingual text helpers the built-in scorers share."""

from __future__ import annotations

from pathlib import Path

from harness import text

ROOT = Path(__file__).resolve().parents[2]


def test_han_is_chinese_characters_and_not_punctuation():
    assert text.has_han("帮我") and text.has_han("㐀") and text.has_han("豈")  # ext A, compatibility
    assert not text.has_han("，。！？「」") and not text.has_han("ＡＩ") and not text.has_han("abc")


def test_language_reads_a_chinese_sentence_with_english_terms_as_chinese():
    assert text.language("帮我写一个 Python 脚本，读取 CSV 文件") == "zh"
    assert text.language("How do I say 你好 in Chinese?") == "en"
    assert text.language("") == "en"


def test_fold_and_short():
    assert text.fold("ＡＩ生成 Straße") == "ai生成 strasse"
    assert text.short("a  b\n c") == "'a b c'"
    assert text.short("x" * 100, 10) == repr("x" * 9 + "…")
    assert text.short("a  b", collapse=False, quote=False) == "a  b"


def test_the_builtin_scorers_and_probes_keep_no_range_or_evidence_helper_of_their_own():
    for path in (ROOT / "plugins").glob("*.py"):
        # reporters (and the HTML report's text module) cut text to fit a page, not to quote it
        if path.name.endswith("_report.py") or path.name == "_report_text.py":
            continue
        source = path.read_text(encoding="utf-8")
        assert '"[\\u3400-\\u9fff]"' not in source and "[\\u3400-\\u4dbf\\u4e00-\\u9fff\\uf900-\\ufaff]" not in source, path
        assert '+ "…"' not in source and '+ "..."' not in source, path
