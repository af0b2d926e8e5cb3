"""The rule-based scorers: contains, regex, exact, json-schema."""

from __future__ import annotations

import pluggy
import pytest
from harness_plugins import rule_scorers
from harness_plugins.rule_scorers import (
    make_contains,
    make_exact,
    make_json_schema,
    make_regex,
)

import harness
from harness import Case, ConfigError, Reply, Score
from harness.plugins import Registry, make_plugin_manager


def case(expected=None) -> Case:
    return Case(id="c1", suite="t", messages=({"role": "user", "content": "q"},), expected=expected)


def status(score: Score) -> tuple[str, float]:
    return score.status, score.value


FACTORY_NAMES = {make_contains: "contains", make_regex: "regex", make_exact: "exact", make_json_schema: "json-schema"}


def config_error(factory, **args) -> ConfigError:
    """Build the scorer as a run does (through the registry, which refuses unknown
    arguments by the factory's signature; the factory checks the values)."""
    with pytest.raises(ConfigError) as err:
        Registry(make_plugin_manager()).build("scorer", FACTORY_NAMES[factory], args)
    assert err.value.hint, "every ConfigError carries a hint"
    return err.value


# --- contains ---------------------------------------------------------------------------


class TestContains:
    def test_any_from_args_case_insensitive_by_default(self):
        score = make_contains(values=["Canberra", "Sydney"])(case(), Reply("The capital is CANBERRA."))
        assert status(score) == ("pass", 1.0)
        assert "canberra" in score.evidence.lower()

    def test_any_fails_and_lists_what_was_looked_for(self):
        score = make_contains(values=["Canberra", "Sydney"])(case(), Reply("It is Melbourne."))
        assert status(score) == ("fail", 0.0)
        assert "Canberra" in score.evidence and "Sydney" in score.evidence

    def test_all_names_what_is_missing(self):
        fn = make_contains(values=["eggs", "flour", "sugar"], mode="all")
        assert fn(case(), Reply("Eggs, flour and sugar.")).status == "pass"
        score = fn(case(), Reply("Eggs and flour."))
        assert status(score) == ("fail", 0.0)
        assert "sugar" in score.evidence and "eggs" not in score.evidence

    def test_case_sensitive(self):
        fn = make_contains(values="API", case_sensitive=True)
        assert fn(case(), Reply("the API key")).status == "pass"
        assert fn(case(), Reply("the api key")).status == "fail"

    def test_negate_passes_when_none_found(self):
        fn = make_contains(values=["password", "密码"], negate=True)
        assert status(fn(case(), Reply("I can't share that."))) == ("pass", 1.0)
        score = fn(case(), Reply("你的密码是 hunter2"))
        assert status(score) == ("fail", 0.0) and "密码" in score.evidence

    def test_negate_with_all_passes_when_one_is_missing(self):
        fn = make_contains(values=["a", "b"], mode="all", negate=True)
        assert fn(case(), Reply("a only")).status == "pass"
        assert fn(case(), Reply("a and b")).status == "fail"

    def test_values_default_to_case_expected_str_or_list(self):
        fn = make_contains()
        assert fn(case("Paris"), Reply("It's paris.")).status == "pass"
        assert fn(case(["巴黎", "Paris"]), Reply("首都是巴黎。")).status == "pass"
        assert fn(case(["巴黎", "Paris"]), Reply("伦敦")).status == "fail"

    def test_args_win_over_case_expected(self):
        assert make_contains(values="x")(case("y"), Reply("y")).status == "fail"

    @pytest.mark.parametrize("expected", [None, "", [], [1, 2], {"a": 1}, ["ok", ""]])
    def test_no_usable_values_is_an_error_score(self, expected):
        score = make_contains()(case(expected), Reply("anything"))
        assert status(score) == ("error", 0.0)
        assert "values" in score.evidence and "expected" in score.evidence

    def test_none_text_is_empty(self):
        assert make_contains(values="x")(case(), Reply(None)).status == "fail"  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("args", "named"),
        [
            ({"mode": "some"}, "mode"),
            ({"values": []}, "values"),
            ({"values": ""}, "values"),
            ({"values": ["a", 3]}, "values"),
            ({"values": 7}, "values"),
            ({"case_sensitive": "yes"}, "case_sensitive"),
            ({"negate": 1}, "negate"),
            ({"value": "typo"}, "value"),
        ],
    )
    def test_bad_args_are_config_errors(self, args, named):
        err = config_error(make_contains, **args)
        assert "contains" in err.message and named in err.message


# --- regex ------------------------------------------------------------------------------


class TestRegex:
    def test_pattern_from_args(self):
        fn = make_regex(pattern=r"\b\d{3}-\d{4}\b")
        score = fn(case(), Reply("call 555-1234 now"))
        assert status(score) == ("pass", 1.0) and "555-1234" in score.evidence
        assert status(fn(case(), Reply("no number"))) == ("fail", 0.0)

    def test_ignore_case(self):
        assert make_regex(pattern="hello")(case(), Reply("HELLO")).status == "fail"
        assert make_regex(pattern="hello", ignore_case=True)(case(), Reply("HELLO")).status == "pass"

    def test_negate(self):
        fn = make_regex(pattern=r"\d{6}", negate=True)
        assert fn(case(), Reply("no code here")).status == "pass"
        score = fn(case(), Reply("code 123456"))
        assert score.status == "fail" and "123456" in score.evidence

    def test_pattern_defaults_to_case_expected_and_is_cached(self):
        fn = make_regex()
        assert fn(case(r"^\s*(yes|是)"), Reply("  是的")).status == "pass"
        assert fn(case(r"^\s*(yes|是)"), Reply("no")).status == "fail"
        assert fn(case(r"[a-z]+"), Reply("abc")).status == "pass"

    def test_invalid_case_pattern_is_an_error_score(self):
        fn = make_regex()
        for _ in range(2):  # the second time comes from the cache
            score = fn(case("(unclosed"), Reply("x"))
            assert status(score) == ("error", 0.0) and "(unclosed" in score.evidence

    @pytest.mark.parametrize("expected", [None, "", 5, ["a"]])
    def test_no_pattern_is_an_error_score(self, expected):
        score = make_regex()(case(expected), Reply("x"))
        assert score.status == "error" and "pattern" in score.evidence

    @pytest.mark.parametrize(
        ("args", "named"),
        [
            ({"pattern": "(unclosed"}, "pattern"),
            ({"pattern": ""}, "pattern"),
            ({"pattern": 5}, "pattern"),
            ({"ignore_case": "true"}, "ignore_case"),
            ({"negate": None}, "negate"),
            ({"flags": "i"}, "flags"),
        ],
    )
    def test_bad_args_are_config_errors(self, args, named):
        err = config_error(make_regex, **args)
        assert "regex" in err.message and named in err.message


# --- exact ------------------------------------------------------------------------------


class TestExact:
    def test_stripped_equal_passes(self):
        assert status(make_exact()(case("42"), Reply("  42\n"))) == ("pass", 1.0)

    def test_different_fails_with_both_in_evidence(self):
        score = make_exact()(case("42"), Reply("43"))
        assert status(score) == ("fail", 0.0)
        assert "'42'" in score.evidence and "'43'" in score.evidence

    def test_expected_is_stringified(self):
        assert make_exact()(case(42), Reply("42")).status == "pass"

    def test_list_expected_means_any_of(self):
        fn = make_exact()
        assert fn(case(["A", "B"]), Reply("B")).status == "pass"
        assert fn(case(["A", "B"]), Reply("C")).status == "fail"

    def test_case_sensitive_by_default(self):
        assert make_exact()(case("Yes"), Reply("yes")).status == "fail"
        assert make_exact(case_sensitive=False)(case("Yes"), Reply("YES")).status == "pass"

    def test_strip_false_keeps_whitespace(self):
        assert make_exact(strip=False)(case("ok"), Reply(" ok")).status == "fail"
        assert make_exact(strip=False)(case("ok"), Reply("ok")).status == "pass"

    def test_value_arg_wins(self):
        fn = make_exact(value="是")
        assert fn(case("yes"), Reply("是")).status == "pass"

    @pytest.mark.parametrize("expected", [None, {"a": 1}, [], [None]])
    def test_nothing_to_compare_is_an_error_score(self, expected):
        score = make_exact()(case(expected), Reply("x"))
        assert status(score) == ("error", 0.0) and "value" in score.evidence

    @pytest.mark.parametrize(
        ("args", "named"),
        [
            ({"value": {"a": 1}}, "value"),
            ({"value": []}, "value"),
            ({"case_sensitive": "no"}, "case_sensitive"),
            ({"strip": 0}, "strip"),
            ({"trim": True}, "trim"),
        ],
    )
    def test_bad_args_are_config_errors(self, args, named):
        err = config_error(make_exact, **args)
        assert "exact" in err.message and named in err.message


# --- json-schema ------------------------------------------------------------------------

SCHEMA = {
    "type": "object",
    "required": ["label", "score"],
    "properties": {
        "label": {"enum": ["safe", "unsafe"]},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
}


class TestJsonSchema:
    def test_valid_json_passes(self):
        score = make_json_schema(schema=SCHEMA)(case(), Reply('{"label": "safe", "score": 0.1}'))
        assert status(score) == ("pass", 1.0)

    def test_fenced_json_passes(self):
        fn = make_json_schema(schema=SCHEMA)
        for text in (
            '```json\n{"label": "unsafe", "score": 1}\n```',
            '  ```\n{"label": "unsafe", "score": 1}\n```  ',
            '```JSON\r\n{"label": "unsafe", "score": 1}\r\n```',
        ):
            assert fn(case(), Reply(text)).status == "pass", text

    def test_prose_around_a_fence_is_not_json(self):
        score = make_json_schema(schema=SCHEMA)(case(), Reply('Here:\n```json\n{"label": "safe", "score": 0}\n```'))
        assert score.status == "fail" and "not JSON" in score.evidence

    def test_unparseable_fails_with_the_parser_message(self):
        score = make_json_schema(schema=SCHEMA)(case(), Reply('{"label": "safe",'))
        assert status(score) == ("fail", 0.0)
        assert "not JSON" in score.evidence and "line 1" in score.evidence

    def test_invalid_fails_with_path_and_message(self):
        fn = make_json_schema(schema=SCHEMA)
        score = fn(case(), Reply('{"label": "safe", "score": 0.5, "tags": ["a", 3]}'))
        assert status(score) == ("fail", 0.0)
        assert "$.tags[1]" in score.evidence and "not of type 'string'" in score.evidence
        score = fn(case(), Reply('{"label": "maybe", "score": 0.5}'))
        assert "$.label" in score.evidence and "maybe" in score.evidence
        score = fn(case(), Reply('{"label": "safe"}'))
        assert "'score' is a required property" in score.evidence

    def test_schema_defaults_to_case_expected_dict(self):
        fn = make_json_schema()
        expected = {"type": "array", "minItems": 2}
        assert fn(case(expected), Reply("[1, 2]")).status == "pass"
        assert fn(case(expected), Reply("[1]")).status == "fail"
        # a second case with an equal but distinct schema object
        assert fn(case(dict(expected)), Reply("[1]")).status == "fail"

    def test_invalid_case_schema_is_an_error_score(self):
        fn = make_json_schema()
        for _ in range(2):
            score = fn(case({"type": "no-such-type"}), Reply("{}"))
            assert status(score) == ("error", 0.0) and "schema is invalid" in score.evidence

    @pytest.mark.parametrize("expected", [None, "object", ["a"]])
    def test_no_schema_is_an_error_score(self, expected):
        score = make_json_schema()(case(expected), Reply("{}"))
        assert score.status == "error" and "schema" in score.evidence

    def test_draft_2020_12_keywords_apply(self):
        fn = make_json_schema(schema={"type": "array", "prefixItems": [{"type": "string"}], "items": False})
        assert fn(case(), Reply('["a"]')).status == "pass"
        assert fn(case(), Reply('["a", 1]')).status == "fail"

    @pytest.mark.parametrize(
        ("args", "named"),
        [
            ({"schema": {"type": "no-such-type"}}, "schema"),
            ({"schema": {"minimum": "zero"}}, "schema"),
            ({"schema": "object"}, "schema"),
            ({"schema": [1]}, "schema"),
            ({"strict": True}, "strict"),
        ],
    )
    def test_bad_args_are_config_errors(self, args, named):
        err = config_error(make_json_schema, **args)
        assert "json-schema" in err.message and named in err.message


# --- registration -----------------------------------------------------------------------

NAMES = {"contains", "regex", "exact", "json-schema"}


def test_registered_into_a_bare_plugin_manager():
    pm = pluggy.PluginManager("harness")
    pm.add_hookspecs(harness.hookspecs)
    pm.register(rule_scorers)
    pm.check_pending()
    specs = {spec.name: spec for specs in pm.hook.register_scorers() for spec in specs}
    assert set(specs) == NAMES
    for spec in specs.values():
        assert spec.version and spec.description
        assert callable(spec.factory(**({"schema": {}} if spec.name == "json-schema" else {})))


def test_registered_through_the_entry_points():
    try:
        registry = Registry(make_plugin_manager())
        specs = {name: registry.scorer(name) for name in NAMES}
    except harness.HarnessError as exc:  # another built-in plugin may be mid-rewrite
        pytest.skip(f"the full plugin manager does not load yet: {exc}")
    assert specs["contains"].factory is make_contains
    assert {registry.owner[("register_scorers", n)] for n in NAMES} == {"rule_scorers"}
