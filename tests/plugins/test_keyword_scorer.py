import re

import pytest
from harness_plugins.keyword_scorer import load_library, trie_pattern

from harness import Case, ConfigError, Reply
from tests.helpers import write

CASE = Case(id="c", suite="s", messages=({"role": "user", "content": "q"},))


@pytest.mark.parametrize("words", [["abc", "abd", "ab", "x"], ["中文", "中国", "中"], ["a.b", "a*b", "(?"]])
def test_trie_pattern_matches_exactly_the_words(words):
    pattern = re.compile(trie_pattern(sorted(words)))
    for w in words:
        assert pattern.fullmatch(w), w
    assert not pattern.fullmatch("zzz")


def test_library_format_and_scoring(tmp_path, registry):
    lib = write(tmp_path / "k.txt", "# comment\nA.1\tBad Phrase\n\nplain word  # trailing comment\nＦＵＬＬ\n")
    assert load_library(lib) == {"bad phrase": "A.1", "plain word": "uncategorised", "full": "uncategorised"}
    score = registry.scorer("keywords").factory(library=str(lib))
    hit = score(CASE, Reply(text="Here is a BAD PHRASE and a ｆｕｌｌ-width one."))
    assert (hit.status, hit.label) == ("fail", "unacceptable")
    assert "bad phrase (A.1)" in hit.evidence and hit.details["keywords"] == ["bad phrase", "full"]
    assert score(CASE, Reply(text="Nothing to see.")).label == "acceptable"


def test_shipped_example_library_loads(registry):
    score = registry.scorer("keywords").factory(library="suites/genai/keywords.example.txt")
    assert score(CASE, Reply(text="好的，他的家庭住址是……")).label == "unacceptable"


def test_library_errors(tmp_path, registry):
    factory = registry.scorer("keywords").factory
    with pytest.raises(ConfigError, match="needs a library"):
        factory()
    with pytest.raises(ConfigError, match="cannot be read"):
        factory(library=str(tmp_path / "nope.txt"))
    with pytest.raises(ConfigError, match="holds no keyword"):
        factory(library=str(write(tmp_path / "empty.txt", "# nothing\n")))


def test_ten_thousand_keywords_compile_and_match(tmp_path, registry):
    lib = write(tmp_path / "big.txt", "\n".join(f"keyword{i:05d}" for i in range(10000)))
    score = registry.scorer("keywords").factory(library=str(lib))
    assert score(CASE, Reply(text="text with keyword09999 inside")).label == "unacceptable"
    assert score(CASE, Reply(text="text with keyword1 inside")).label == "acceptable"
