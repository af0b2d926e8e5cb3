"""The streaming YAML loader builds exactly what PyYAML's safe loader builds."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.errors import ConfigError
from harness.files import _load_stream, _Unusual, parse

SAME = [
    "",
    "a: 1\nb: [1, 2.5, true, null, ~, 0x1f, 1e3, .inf]\nc: {d: 'x', e: \"y\\n\"}\n",
    "- 2026-01-02\n- 2026-01-02T03:04:05Z\n- !!str 12\n- !!int '7'\n- !!float 1\n- !!binary aGk=\n",
    "text: |\n  line one\n  line two\nfolded: >\n  a\n  b\nempty:\n",
    "中文: 你好\nkey with spaces: value\n'1': one\n1: int one\n? complex\n: plain\n",
    "cases:\n" + "".join(f"  - {{id: c{i}, prompt: 'p {i}', expected: [a, b], n: {i}}}\n" for i in range(50)),
    '{"json": [1, 2, {"nested": "yes"}], "float": -0.5}',
]


@pytest.mark.parametrize("text", SAME)
def test_streaming_loader_matches_the_safe_loader(text):
    assert _load_stream(text) == yaml.load(text, Loader=yaml.CSafeLoader)


@pytest.mark.parametrize("text", [
    "base: &b {x: 1}\nchild:\n  <<: *b\n  y: 2\n",  # merge key
    "s: !!set {a, b}\n",  # tagged collection
    "? [a, b]\n: v\n",  # collection as a key
    "a: 1\n---\nb: 2\n",  # two documents
    "base: &b {x: 1, y: [1, 2]}\nagain: *b\nlist: &l [a, b]\nmore: *l\n",  # aliases: checked, then loaded
])
def test_unusual_yaml_falls_back_to_the_full_loader(text):
    with pytest.raises(_Unusual):
        _load_stream(text)


def test_parse_gives_the_full_loaders_result_or_error():
    merged = parse(Path("x.yaml"), "base: &b {x: 1}\nchild:\n  <<: *b\n  y: 2\n", ConfigError)
    assert merged["child"] == {"x": 1, "y": 2}
    with pytest.raises(ConfigError, match=r"x\.yaml:3:1: not valid YAML"):
        parse(Path("x.yaml"), "a: [1,\nb: {\n", ConfigError)
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse(Path("x.yaml"), "a: 1\n---\nb: 2\n", ConfigError)
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse(Path("x.yaml"), "a: *nowhere\n", ConfigError)


_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8))


@pytest.mark.parametrize(("text", "says"), [
    (_LAUGHS, "expands to more than 5,000,000 values"),  # billion laughs: 9**9 values from 342 bytes
    ("base: &base {x: 1}\nm:\n  <<: *base\n" + _LAUGHS, "expands to more than"),  # the full loader's path
    ("a: " + "[" * 500 + "]" * 500 + "\n", "more than 100 deep"),
    ("base: &b {x: 1}\nm:\n  <<: *b\nd: " + "[" * 500 + "]" * 500 + "\n", "more than 100 deep"),
    ("a: &a [1, *a]\n", "contains it"),  # a list inside itself: every walk of it would never end
    ("x: &a 1\ny: &a [1, *a]\n", "not valid YAML"),  # a re-defined anchor: the full loader refuses it
    # twelve anchors, each 90 deep and aliasing the one before: 1,080 deep once expanded
    ("a0: &a0 " + "[" * 90 + "1" + "]" * 90 + "\n" + "".join(
        f"a{i}: &a{i} " + "[" * 90 + f"*a{i - 1}" + "]" * 90 + "\n" for i in range(1, 12)), "more than 100 deep"),
    # the same, with a later list that meets each anchor shallow first
    ("".join(f"a{i}: &a{i} " + "[" * 90 + (f"*a{i - 1}" if i else "1") + "]" * 90 + "\n" for i in range(12))
     + "r: [" + ", ".join(f"*a{i}" for i in reversed(range(12))) + "]\n", "more than 100 deep"),
    ("s: &s " + "x" * 100_000 + "\nl: [" + ", ".join(["*s"] * 500) + "]\n", "more than 20,000,000 characters"),
])
def test_a_document_that_would_explode_is_refused_before_anything_walks_it(text, says):
    import tracemalloc

    tracemalloc.start()
    with pytest.raises(ConfigError) as err:
        parse(Path("bomb.yaml"), text, ConfigError)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert err.value.message.startswith("bomb.yaml") and says in err.value.message, err.value.message
    assert peak < 20_000_000 and ("alias" in err.value.hint or says == "not valid YAML")


def test_aliases_within_the_bounds_still_load():
    text = "defaults: &d {lang: en, scorer: refusal}\ncases:\n" + "".join(f"  - {{id: c{i}, x: *d}}\n" for i in range(50))
    doc = parse(Path("ok.yaml"), text, ConfigError)
    assert len(doc["cases"]) == 50 and doc["cases"][49]["x"] == {"lang": "en", "scorer": "refusal"}
