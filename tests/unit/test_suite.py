import json

import pytest

from harness.errors import SuiteError
from harness.suite import load_suite, resolve_suite
from tests.helpers import write

INLINE = """\
id: demo.s
version: "1"
title: Demo
scorer: {name: contains, args: {values: [ok]}}
defaults: {expected: refuse, lang: en}
cases:
  - id: a
    prompt: hello
    category: A.1
  - id: b
    messages:
      - {role: user, content: hi}
      - {role: assistant, content: hello}
      - {role: user, content: and now?}
    lang: zh
    scorer: exact
    expected: yes
"""


def test_inline_cases(tmp_path):
    suite = load_suite(write(tmp_path / "s.yaml", INLINE))
    a, b = suite.cases
    assert (a.id, a.prompt, a.expected, a.lang, a.category, a.scorer.name) == ("a", "hello", "refuse", "en", "A.1", "contains")
    assert a.scorer.args == {"values": ["ok"]}
    assert b.prompt == "and now?" and len(b.messages) == 3 and b.lang == "zh" and b.scorer.name == "exact"
    assert suite.languages == ("en", "zh") and len(suite.sha256) == 64


def test_csv_bank_with_column_mapping(tmp_path):
    write(tmp_path / "private" / "bank.csv", "qid,question,risk,language\n1,q one,A.1,zh\n2,\"q, two\",A.2,en\n")
    path = write(tmp_path / "s.yaml", """\
id: bank.s
version: "1"
title: Bank
scorer: refusal
defaults: {expected: refuse}
source:
  path: private/bank.csv
  columns: {id: qid, prompt: question, category: risk, lang: language}
""")
    suite = load_suite(path)
    assert [(c.id, c.prompt, c.category, c.lang, c.expected) for c in suite.cases] == [
        ("1", "q one", "A.1", "zh", "refuse"), ("2", "q, two", "A.2", "en", "refuse")]
    before = suite.sha256
    write(tmp_path / "private" / "bank.csv", "qid,question,risk,language\n1,q one changed,A.1,zh\n")
    assert load_suite(path).sha256 != before  # the bank is part of the suite's hash


def test_jsonl_bank(tmp_path):
    rows = [{"id": 1, "prompt": "p1", "lang": "en"}, {"id": 2, "prompt": "p2", "expected": "comply"}]
    write(tmp_path / "b.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    suite = load_suite(write(tmp_path / "s.yaml", "id: j\nversion: '1'\ntitle: J\nsource: {path: b.jsonl}\n"))
    assert [c.expected for c in suite.cases] == [None, "comply"]


@pytest.mark.parametrize("bank", ["b.csv", "b.jsonl"])
def test_a_mapped_column_the_bank_lacks_is_an_error_not_a_silent_und(tmp_path, bank):
    # a typo in the mapping would make every case's language 'und' and every per-language
    # criterion undecidable, with nothing said
    if bank == "b.csv":
        write(tmp_path / bank, "id,prompt,language\n1,x,zh\n2,y,en\n")
    else:
        write(tmp_path / bank, '{"id": 1, "prompt": "x", "language": "zh"}\n{"id": 2, "prompt": "y"}\n')
    suite = f"id: j\nversion: '1'\ntitle: J\nsource: {{path: {bank}, columns: {{lang: langauge}}}}\n"
    with pytest.raises(SuiteError) as info:
        load_suite(write(tmp_path / "s.yaml", suite))
    assert f"{bank}:" in info.value.message and "no column 'langauge' (for lang)" in info.value.message
    assert "did you mean 'language'?" in info.value.hint
    ok = load_suite(write(tmp_path / "s.yaml", suite.replace("langauge", "language")))
    assert [c.lang for c in ok.cases][0] == "zh"


def test_missing_bank_names_suite_line_and_path(tmp_path):
    path = write(tmp_path / "s.yaml", "id: j\nversion: '1'\ntitle: J\nsource:\n  path: nowhere.csv\n")
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    assert f"{path}:5" in info.value.message and "nowhere.csv" in info.value.message
    assert "relative to the suite file" in info.value.hint


def test_bad_jsonl_line_is_named(tmp_path):
    write(tmp_path / "b.jsonl", '{"id": 1, "prompt": "x"}\n{"id": 2, "prompt": \n')
    with pytest.raises(SuiteError, match=r"b\.jsonl:2:"):
        load_suite(write(tmp_path / "s.yaml", "id: j\nversion: '1'\ntitle: J\nsource: {path: b.jsonl}\n"))


def test_csv_without_prompt_column(tmp_path):
    write(tmp_path / "b.csv", "id,text\n1,x\n")
    with pytest.raises(SuiteError, match="no column 'prompt'"):
        load_suite(write(tmp_path / "s.yaml", "id: j\nversion: '1'\ntitle: J\nsource: {path: b.csv}\n"))


def test_schema_problems_name_line_column_pointer_and_fix(tmp_path):
    path = write(tmp_path / "s.yaml", INLINE.replace("    category: A.1", "    category: A.1\n    colour: red")
                 .replace('version: "1"', "version: 1"))
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    text = info.value.message
    assert f"{path}:2:10: at /version 1 is a int, expected string" in text
    assert f"{path}:10:13: at /cases/0/colour unknown key 'colour'" in text


def test_bad_yaml_names_line(tmp_path):
    path = write(tmp_path / "s.yaml", "id: x\ncases: [\n  - a: b\n")
    with pytest.raises(SuiteError, match=rf"{path}:3:\d+: not valid YAML"):
        load_suite(path)


def test_duplicate_case_id(tmp_path):
    path = write(tmp_path / "s.yaml", INLINE.replace("id: b", "id: a"))
    with pytest.raises(SuiteError, match=r"s\.yaml:10: case id 'a' is used twice"):
        load_suite(path)


def test_shipped_suites_resolve_by_id(registry):
    suite = resolve_suite("starter.refusal", registry)
    assert suite.id == "starter.refusal" and {"zh", "en"} <= set(suite.languages)
    with pytest.raises(SuiteError, match="no suite with id 'nope'") as info:
        resolve_suite("nope", registry)
    assert "starter.refusal" in info.value.hint
