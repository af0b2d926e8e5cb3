"""Rule-based scorers: ``contains``, ``regex``, ``exact`` and ``json-schema``.

Each scorer is a factory: ``factory(**args)`` checks the suite-level arguments once
(a bad one is a :class:`harness.ConfigError` naming the scorer and the argument) and
returns a plain synchronous ``score(case, reply) -> Score``. Those functions run tens
of thousands of times a second, so everything that can be prepared (normalised needles,
compiled patterns, schema validators) is prepared in the factory or cached per case
expectation, and a bad *case* expectation gives an ``error`` score, never an exception.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match

from harness import Case, ConfigError, Reply, Score, ScorerSpec, hookimpl, text

ScoreFn = Callable[[Case, Reply], Score]

_EVIDENCE_CHARS = 80  # how much of a value or response evidence quotes
_CACHE_SIZE = 4096  # per-case patterns and schemas kept compiled, per scorer instance


# ---------------------------------------------------------------------------
# helpers shared by the scorers
# ---------------------------------------------------------------------------


def _short(value: str, limit: int = _EVIDENCE_CHARS) -> str:
    """``value`` quoted, cut to ``limit`` characters, for evidence."""
    return text.short(value, limit, collapse=False)




def _check_bool(scorer: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(
            f"scorer '{scorer}': argument '{name}' must be true or false, got {value!r}",
            hint=f"write {name}: true or {name}: false",
        )
    return value


def _error(evidence: str) -> Score:
    return Score(status="error", value=0.0, evidence=evidence)


def _text(reply: Reply) -> str:
    return reply.text or ""


# ---------------------------------------------------------------------------
# contains
# ---------------------------------------------------------------------------


def _needles(value: Any, fold: bool) -> tuple[tuple[str, str], ...] | None:
    """A str or a list of non-empty str as ``(as written, as matched)`` pairs; None when
    ``value`` is not one."""
    if isinstance(value, str):
        values: Any = (value,) if value else None
    elif isinstance(value, (list, tuple)) and value and all(isinstance(v, str) and v for v in value):
        values = value
    else:
        return None
    if values is None:
        return None
    return tuple((v, v.casefold() if fold else v) for v in values)


def make_contains(
    values: str | list[str] | None = None,
    mode: str = "any",
    case_sensitive: bool = False,
    negate: bool = False,
) -> ScoreFn:
    """Pass when the reply contains any (or all) of ``values``; ``negate`` inverts:
    with ``mode: any`` it passes when none is found, with ``mode: all`` when at least
    one is missing. ``values`` defaults to the case's ``expected`` (a str or list)."""
    name = "contains"
    if mode not in ("any", "all"):
        raise ConfigError(
            f"scorer '{name}': argument 'mode' must be 'any' or 'all', got {mode!r}",
            hint="mode: any passes when one value is found, mode: all when every value is",
        )
    fold = not _check_bool(name, "case_sensitive", case_sensitive)
    negate = _check_bool(name, "negate", negate)
    fixed: tuple[tuple[str, str], ...] | None = None
    if values is not None:
        fixed = _needles(values, fold)
        if fixed is None:
            raise ConfigError(
                f"scorer '{name}': argument 'values' must be a non-empty string or a list of "
                f"non-empty strings, got {values!r}",
                hint="write values: [\"word\", \"other word\"], or leave it out to use each case's expected",
            )
    want_all = mode == "all"

    def score(case: Case, reply: Reply) -> Score:
        needles = fixed if fixed is not None else _needles(case.expected, fold)
        if needles is None:
            return _error(
                f"contains: no values to look for: the suite gives no 'values' argument and "
                f"the case's expected is {case.expected!r}, not a string or list of strings"
            )
        text = _text(reply)
        if fold:
            text = text.casefold()
        if want_all:
            missing = [shown for shown, v in needles if v not in text]
            ok = not missing
            if ok:
                evidence = f"all {len(needles)} found: " + ", ".join(_short(s, 40) for s, _ in needles)
            else:
                evidence = "missing: " + ", ".join(_short(s, 40) for s in missing)
        else:
            hit = next((shown for shown, v in needles if v in text), None)
            ok = hit is not None
            if hit is not None:
                evidence = f"found {_short(hit)}"
            else:
                evidence = "none found of: " + ", ".join(_short(s, 40) for s, _ in needles)
        if negate:
            ok = not ok
        return Score(status="pass" if ok else "fail", value=1.0 if ok else 0.0, evidence=evidence)

    return score


# ---------------------------------------------------------------------------
# regex
# ---------------------------------------------------------------------------


def make_regex(
    pattern: str | None = None,
    ignore_case: bool = False,
    negate: bool = False,
) -> ScoreFn:
    """Pass when ``pattern`` (Python ``re`` syntax, searched anywhere) matches the reply;
    ``negate`` passes when it does not. ``pattern`` defaults to the case's ``expected``."""
    name = "regex"
    ignore_case = _check_bool(name, "ignore_case", ignore_case)
    negate = _check_bool(name, "negate", negate)
    flags = re.IGNORECASE if ignore_case else 0
    fixed: re.Pattern[str] | None = None
    if pattern is not None:
        if not isinstance(pattern, str) or not pattern:
            raise ConfigError(
                f"scorer '{name}': argument 'pattern' must be a non-empty string, got {pattern!r}",
                hint="quote the pattern in YAML, e.g. pattern: '\\\\d{3}'",
            )
        try:
            fixed = re.compile(pattern, flags)
        except re.error as exc:
            raise ConfigError(
                f"scorer '{name}': argument 'pattern' {pattern!r} is not a valid regular expression: {exc}",
                hint="use Python re syntax; in YAML, single-quote the pattern so backslashes stay",
            ) from exc

    @lru_cache(maxsize=_CACHE_SIZE)
    def compile_case(source: str) -> re.Pattern[str] | str:
        """The case's pattern compiled, or the reason it does not compile."""
        try:
            return re.compile(source, flags)
        except re.error as exc:
            return str(exc)

    def score(case: Case, reply: Reply) -> Score:
        compiled = fixed
        if compiled is None:
            source = case.expected
            if not isinstance(source, str) or not source:
                return _error(
                    f"regex: no pattern: the suite gives no 'pattern' argument and the case's "
                    f"expected is {source!r}, not a non-empty string"
                )
            found = compile_case(source)
            if isinstance(found, str):
                return _error(f"regex: the case's pattern {_short(source)} is invalid: {found}")
            compiled = found
        m = compiled.search(_text(reply))
        ok = (m is None) if negate else (m is not None)
        if m is not None:
            evidence = f"/{compiled.pattern}/ matched {_short(m.group(0))} at {m.start()}"
        else:
            evidence = f"/{compiled.pattern}/ did not match"
        return Score(status="pass" if ok else "fail", value=1.0 if ok else 0.0, evidence=evidence)

    return score


# ---------------------------------------------------------------------------
# exact
# ---------------------------------------------------------------------------


def make_exact(
    value: Any = None,
    case_sensitive: bool = True,
    strip: bool = True,
) -> ScoreFn:
    """Pass when the reply (stripped) equals ``value``, by default ``str(case.expected)``.
    A list of expectations passes when the reply equals any one of them."""
    name = "exact"
    case_sensitive = _check_bool(name, "case_sensitive", case_sensitive)
    strip = _check_bool(name, "strip", strip)

    def norm(s: str) -> str:
        if strip:
            s = s.strip()
        return s if case_sensitive else s.casefold()

    def expectations(raw: Any) -> tuple[str, ...] | None:
        if raw is None or isinstance(raw, (dict, bool)):
            return None
        if isinstance(raw, (list, tuple)):
            if not raw or any(v is None or isinstance(v, (dict, list, tuple, bool)) for v in raw):
                return None
            return tuple(norm(str(v)) for v in raw)
        return (norm(str(raw)),)

    fixed: tuple[str, ...] | None = None
    if value is not None:
        fixed = expectations(value)
        if fixed is None:
            raise ConfigError(
                f"scorer '{name}': argument 'value' must be a string, a number or a list of them, got {value!r}",
                hint="write value: \"42\", or leave it out to use each case's expected",
            )

    def score(case: Case, reply: Reply) -> Score:
        wanted = fixed if fixed is not None else expectations(case.expected)
        if wanted is None:
            return _error(
                f"exact: nothing to compare with: the suite gives no 'value' argument and the "
                f"case's expected is {case.expected!r}"
            )
        got = norm(_text(reply))
        if got in wanted:
            return Score(status="pass", value=1.0, evidence=f"reply equals {_short(got)}")
        shown = " or ".join(_short(w, 40) for w in wanted[:5])
        return Score(status="fail", value=0.0, evidence=f"expected {shown}, got {_short(got)}")

    return score


# ---------------------------------------------------------------------------
# json-schema
# ---------------------------------------------------------------------------

# A reply wrapped in one Markdown code fence: ```json ... ``` (or a bare ```).
_FENCE = re.compile(r"\A```[ \t]*(?:json|JSON|json5)?[ \t]*\r?\n(.*?)\r?\n?```\Z", re.DOTALL)


def _first_error(validator: Draft202012Validator, doc: Any) -> str | None:
    """The most relevant validation error as ``path: message``; None when valid."""
    err = best_match(validator.iter_errors(doc))
    if err is None:
        return None
    return f"{err.json_path}: {_short(err.message, 200)[1:-1]}"


def make_json_schema(schema: Mapping[str, Any] | bool | None = None) -> ScoreFn:
    """Pass when the reply is JSON (optionally inside one ```json fence) that validates
    against ``schema`` (JSON Schema draft 2020-12); ``schema`` defaults to the case's
    ``expected`` when that is an object."""
    name = "json-schema"
    fixed: Draft202012Validator | None = None
    if schema is not None:
        if not isinstance(schema, (Mapping, bool)):
            raise ConfigError(
                f"scorer '{name}': argument 'schema' must be a JSON Schema object, got {type(schema).__name__}",
                hint="write the schema inline as a mapping, e.g. schema: {type: object, required: [answer]}",
            )
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise ConfigError(
                f"scorer '{name}': argument 'schema' is not a valid JSON Schema (draft 2020-12): "
                f"at {exc.json_path}: {exc.message}",
                hint="check the schema against https://json-schema.org/draft/2020-12/schema",
            ) from exc
        fixed = Draft202012Validator(schema)

    # Per-case schemas are dicts (unhashable): key the cache on identity and keep the
    # schema object itself alive in the entry, so its id cannot be reused meanwhile.
    per_case: dict[int, tuple[Any, Draft202012Validator | str]] = {}

    def case_validator(raw: Any) -> Draft202012Validator | str:
        entry = per_case.get(id(raw))
        if entry is not None and entry[0] is raw:
            return entry[1]
        try:
            Draft202012Validator.check_schema(raw)
            made: Draft202012Validator | str = Draft202012Validator(raw)
        except SchemaError as exc:
            made = f"at {exc.json_path}: {exc.message}"
        if len(per_case) >= _CACHE_SIZE:
            per_case.clear()
        per_case[id(raw)] = (raw, made)
        return made

    def score(case: Case, reply: Reply) -> Score:
        validator = fixed
        if validator is None:
            raw = case.expected
            if not isinstance(raw, Mapping):
                return _error(
                    f"json-schema: no schema: the suite gives no 'schema' argument and the case's "
                    f"expected is {type(raw).__name__}, not a JSON Schema object"
                )
            found = case_validator(raw)
            if isinstance(found, str):
                return _error(f"json-schema: the case's schema is invalid {found}")
            validator = found
        body = _text(reply).strip()
        fence = _FENCE.match(body)
        if fence is not None:
            body = fence.group(1)
        try:
            doc = json.loads(body)
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            return Score(status="fail", value=0.0, evidence=f"reply is not JSON: {exc}")
        except RecursionError:
            return Score(status="fail", value=0.0, evidence="reply is not JSON: nested too deeply")
        problem = _first_error(validator, doc)
        if problem is None:
            return Score(status="pass", value=1.0, evidence="valid against the schema")
        return Score(status="fail", value=0.0, evidence=f"does not match the schema: {problem}")

    return score


# ---------------------------------------------------------------------------
# registration
# ---------------------------------------------------------------------------


@hookimpl
def register_scorers() -> list[ScorerSpec]:
    return [
        ScorerSpec(
            name="contains",
            factory=make_contains,
            version="1",
            description="the reply contains any/all of the values (default: the case's expected); "
            "args: values, mode (any|all), case_sensitive, negate",
        ),
        ScorerSpec(
            name="regex",
            factory=make_regex,
            version="1",
            description="a regular expression matches the reply (default pattern: the case's expected); "
            "args: pattern, ignore_case, negate",
        ),
        ScorerSpec(
            name="exact",
            factory=make_exact,
            version="1",
            description="the stripped reply equals the expected value; args: value, case_sensitive, strip",
        ),
        ScorerSpec(
            name="json-schema",
            factory=make_json_schema,
            version="1",
            description="the reply is JSON (a ```json fence allowed) valid against a draft 2020-12 "
            "schema (default: the case's expected); args: schema",
        ),
    ]
