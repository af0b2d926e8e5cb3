"""Reading the files a user writes (YAML or JSON) and checking them against schemas/.

Every problem names the file, the line and column in it, the JSON pointer and what to
change, and all problems of a file are reported together.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from .errors import HarnessError
from .resources import data_dir

try:  # the C loader is ten times faster on large suites
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in one file."""

    file: str
    line: int | None
    column: int | None
    pointer: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "") + (f":{self.column}" if self.column else "")
        at = f" at {self.pointer}" if self.pointer else ""
        return f"{where}:{at} {self.message}" + (f"\n    fix: {self.hint}" if self.hint else "")


def format_problems(problems: Sequence[Problem]) -> str:
    return "\n".join(str(p) for p in problems)


def read_text(path: Path, error: type[HarnessError]) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise error(f"{path}: no such file", hint="check the path") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot be read: {exc}", hint="the file must be UTF-8 text") from exc


class _Unusual(Exception):
    """The document uses YAML beyond what the streaming loader builds: use the full one."""


class _TooBig(Exception):
    """The document would expand beyond the bounds (aliases, nesting): refused."""


#: bounds on what a document's aliases (``*name``) may expand it to: a "billion laughs" of
#: nine nested aliases, 342 bytes, expands to a billion values, and every check that walks
#: or prints it would too. A suite of 100,000 cases written out holds about a million
#: values; a document without aliases is bounded by its own size.
MAX_VALUES = 5_000_000
MAX_CHARACTERS = 20_000_000
#: the deepest nesting of mappings and lists, aliases expanded (the shipped profiles go 14 deep)
MAX_DEPTH = 100
_BOUNDS_HINT = ("write the repeated part out, or use fewer levels of aliases (&anchor / *alias); a document may "
                f"hold {MAX_VALUES:,} values and {MAX_CHARACTERS:,} characters once its aliases are expanded, "
                f"nested at most {MAX_DEPTH} deep")


def _check_depth(text: str) -> None:
    """Raise _TooBig when mappings and lists nest deeper than MAX_DEPTH, from the parser's
    events alone: the composer that builds nodes recurses, and would overflow first."""
    loader = _Loader(text)
    try:
        depth = 0
        while (event := loader.get_event()) is not None:
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _TooBig(f"it nests mappings and lists more than {MAX_DEPTH} deep "
                                  f"(line {event.start_mark.line + 1})")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    finally:
        loader.dispose()


def _check_bounds(node: Any) -> None:
    """Raise _TooBig when a composed YAML node graph (an alias is the shared node it names)
    would, expanded, hold more than MAX_VALUES values or MAX_CHARACTERS characters, nest
    deeper than MAX_DEPTH, or contain itself. Each node's figures are computed once, from
    its children's, so the check takes time in proportion to the text whatever the order."""
    done: dict[int, tuple[int, int, int]] = {}  # node -> (values, characters, height), expanded
    open_: set[int] = set()
    # an explicit stack, not recursion: a hostile document may nest deeper than Python's limit
    stack: list[tuple[Any, bool]] = [(node, False)]
    while stack:
        current, finished = stack.pop()
        key = id(current)
        if key in done:
            continue
        if not isinstance(current, (yaml.SequenceNode, yaml.MappingNode)):
            done[key] = (1, len(current.value), 0)
            continue
        children = current.value if isinstance(current, yaml.SequenceNode) else [n for pair in current.value for n in pair]
        if finished:
            figures = [done[id(c)] for c in children]
            values = 1 + sum(f[0] for f in figures)
            characters = sum(f[1] for f in figures)
            height = 1 + max((f[2] for f in figures), default=0)
            open_.discard(key)
            if values > MAX_VALUES:
                raise _TooBig(f"it expands to more than {MAX_VALUES:,} values through its aliases")
            if characters > MAX_CHARACTERS:
                raise _TooBig(f"it expands to more than {MAX_CHARACTERS:,} characters through its aliases")
            if height > MAX_DEPTH:
                raise _TooBig(f"it nests mappings and lists more than {MAX_DEPTH} deep once its aliases are expanded")
            done[key] = (values, characters, height)
            continue
        if key in open_:
            raise _TooBig("an alias refers to a mapping or list that contains it")
        open_.add(key)
        stack.append((current, True))
        stack.extend((c, False) for c in children)


_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"


def _load_stream(text: str) -> Any:
    """Build the document straight from the parser's events, as the safe loader would.

    PyYAML's loader first composes a node for every scalar, which for a suite of
    100,000 cases takes eight times the time and four times the memory of the result.
    Aliases, merge keys, explicit tags on collections, non-scalar keys and several
    documents raise ``_Unusual``, and the caller falls back to the full loader (after
    checking what the aliases expand to: _check_bounds)."""
    loader = _Loader(text)
    try:
        stack: list[list[Any]] = []  # [container, pending key or _NO_KEY]
        root: Any = None
        documents = 0
        no_key = _NO_KEY

        def add(value: Any) -> None:
            nonlocal root
            if not stack:
                root = value
                return
            top = stack[-1]
            container = top[0]
            if type(container) is list:
                container.append(value)
            elif top[1] is no_key:
                if isinstance(value, (dict, list)):
                    raise _Unusual("a collection as a mapping key")
                top[1] = value
            else:
                container[top[1]] = value
                top[1] = no_key

        while True:
            event = loader.get_event()
            kind = type(event)
            if kind is yaml.ScalarEvent:
                tag = event.tag
                if tag is None or tag == "!":
                    tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
                if tag == _STR:
                    value = event.value
                elif tag == _MERGE or tag not in loader.yaml_constructors:
                    raise _Unusual(tag)
                else:
                    node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
                    value = loader.yaml_constructors[tag](loader, node)
                add(value)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                if event.tag is not None and not event.implicit:
                    raise _Unusual(event.tag)
                if len(stack) >= MAX_DEPTH:
                    raise _TooBig(f"it nests mappings and lists more than {MAX_DEPTH} deep (line {event.start_mark.line + 1})")
                container: Any = {} if kind is yaml.MappingStartEvent else []
                add(container)
                stack.append([container, no_key])
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                stack.pop()
            elif kind is yaml.AliasEvent:
                raise _Unusual("an alias")  # the full loader, once what it expands to is checked
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise _Unusual("several documents")
            elif kind is yaml.StreamEndEvent:
                return root
    finally:
        loader.dispose()


_NO_KEY = object()


def parse(path: Path, text: str, error: type[HarnessError]) -> Any:
    """Parse YAML (JSON is YAML too) safely; a syntax error names line and column."""
    try:
        try:
            return _load_stream(text)
        except _Unusual:
            _check_depth(text)  # before the composer, which recurses
            loader = _Loader(text)  # the safe loader (CSafeLoader or SafeLoader)
            try:
                node = loader.get_single_node()  # aliases are shared nodes here: cheap to check
                if node is None:
                    return None
                _check_bounds(node)
                return loader.construct_document(node)  # as yaml.load does, without parsing again
            finally:
                loader.dispose()
    except _TooBig as exc:
        raise error(f"{path}: refused: {exc}", hint=_BOUNDS_HINT) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise error(
            f"{where}: not valid YAML: {exc.problem}",
            hint="fix the syntax at that line (indentation, a missing colon or quote)",
        ) from exc
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from exc


def jsonl_rows(path: Path, text: str, error: type[HarnessError]) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """(line number, line, object) for each non-blank line of a JSONL text; a line that
    is not a JSON object raises ``error`` naming the file, line and column."""
    for number, line in enumerate(io.StringIO(text), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{path}:{number}:{exc.colno}: not valid JSON: {exc.msg}",
                        hint="each line must be one JSON object") from exc
        if not isinstance(row, dict):
            raise error(f"{path}:{number}: a line must be a JSON object", hint='e.g. {"id": 1, "prompt": "..."}')
        yield number, line, row


def locate(text: str, parts: Iterable[str | int]) -> tuple[int, int] | None:
    """Line and column (1-based) of the node at a JSON pointer path in YAML ``text``.
    Falls back to the deepest node that exists."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    for part in parts:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    child = value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node = child
    return node.start_mark.line + 1, node.start_mark.column + 1


@cache
def schema(name: str) -> dict[str, Any]:
    """The JSON Schema ``schemas/NAME.schema.json``."""
    return json.loads((data_dir("schemas") / f"{name}.schema.json").read_text(encoding="utf-8"))


@cache
def _registry() -> Any:
    """All shipped schemas by ``$id``, so one may ``$ref`` another by file name."""
    from referencing import Registry, Resource

    resources = []
    for path in sorted(data_dir("schemas").glob("*.schema.json")):
        resource = Resource.from_contents(schema(path.name.removesuffix(".schema.json")))
        resources.append((resource.id(), resource))
    return Registry().with_resources(resources)


@cache
def validator(name: str) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(
        schema(name), registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def pointer(parts: Iterable[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def explain(error: Any) -> tuple[str, str]:
    """A sentence and a fix for one jsonschema error, never longer than a few hundred
    characters: jsonschema's own messages print the whole offending value."""
    message, hint = _explain(error)
    return _cut(message), _cut(hint)


def _cut(text: str, limit: int = 400) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def unknown_key_fix(extra: Iterable[str], allowed: Iterable[str]) -> str:
    """The fix for keys a format does not know: the known key each was most likely
    meant to be (``concurency``: did you mean ``concurrency``?), then every known key."""
    allowed = sorted(allowed)
    import difflib

    extra = list(extra)
    near = [(k, m[0]) for k in extra if (m := difflib.get_close_matches(str(k), allowed, n=1, cutoff=0.6))]
    if len(extra) == 1 and near:
        guess = f"did you mean {near[0][1]!r}? Or "
    elif near:
        guess = "did you mean " + ", ".join(f"{m!r} for {k!r}" for k, m in near) + "? Or "
    else:
        guess = ""
    return f"{guess}{'r' if guess else 'R'}emove it; the keys are: {', '.join(allowed)}"


def _explain(error: Any) -> tuple[str, str]:
    kind, value = error.validator, error.validator_value
    if kind == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"unknown key {', '.join(map(repr, extra))}", unknown_key_fix(extra, error.schema.get("properties", {}))
    if kind == "unevaluatedProperties":
        return error.message, "remove the keys that the schema does not know"
    if kind == "required":
        missing = [k for k in value if k not in error.instance]
        return f"missing required key {', '.join(map(repr, missing))}", f"add {missing[0]}: ..."
    if kind == "type":
        want = value if isinstance(value, str) else " or ".join(value)
        return f"{error.instance!r} is a {type(error.instance).__name__}, expected {want}", f"write a value of type {want}"
    if kind == "enum":
        return f"{error.instance!r} is not allowed", "use one of: " + ", ".join(map(str, value))
    if kind == "const":
        return f"{error.instance!r} is not allowed", f"write {value!r}"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "minItems", "pattern"):
        return error.message, error.schema.get("description", "") or f"respect {kind} {value!r}"
    return error.message, error.schema.get("description", "")


def problems_of(path: Path, text: str, data: Any, schema_name: str) -> list[Problem]:
    """Every schema problem of ``data`` (parsed from ``text``), with lines."""
    found: dict[Problem, None] = {}  # ordered, and each problem once
    for error in sorted(validator(schema_name).iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        parts = list(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            # point at the unknown key itself, not at the object that holds it
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            parts += extra[:1]
        line_col = locate(text, parts)
        message, hint = explain(error)
        found[Problem(str(path), *(line_col or (None, None)), pointer(parts), message, hint)] = None
    return list(found)


def load_checked(path: Path, schema_name: str, error: type[HarnessError]) -> tuple[Any, str]:
    """Read, parse and validate a file; raise ``error`` naming every problem."""
    text = read_text(path, error)
    data = parse(path, text, error)
    problems = problems_of(path, text, data, schema_name)
    if problems:
        raise error(
            f"{path} is not a valid {schema_name} file:\n" + format_problems(problems),
            hint=f"the format is described in schemas/{schema_name}.schema.json",
        )
    return data, text
