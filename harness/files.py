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


#: the most values a document may hold once its aliases are expanded: a suite of 100,000
#: cases holds about a million; a "billion laughs" of nine nested aliases, 413 bytes,
#: holds a billion, and every check that walks or prints it would too
MAX_VALUES = 5_000_000
#: the deepest nesting of mappings and lists (the shipped profiles go 14 deep)
MAX_DEPTH = 100
_BOUNDS_HINT = ("write the repeated part out, or use fewer levels of aliases (&anchor / *alias); a document may hold "
                f"{MAX_VALUES:,} values once its aliases are expanded, nested at most {MAX_DEPTH} deep")


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
    """Raise _TooBig when a composed YAML node graph (aliases are shared nodes) would
    expand beyond MAX_VALUES values, nest deeper than MAX_DEPTH, or contain itself."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()
    # an explicit stack, not recursion: a hostile document may nest deeper than Python's limit
    stack: list[tuple[Any, int, bool]] = [(node, 1, False)]
    while stack:
        current, depth, done = stack.pop()
        key = id(current)
        if done:
            children = (current.value if isinstance(current, yaml.SequenceNode)
                        else [n for pair in current.value for n in pair])
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            open_.discard(key)
            if sizes[key] > MAX_VALUES:
                raise _TooBig(f"it expands to more than {MAX_VALUES:,} values through its aliases")
            continue
        if key in sizes:
            continue
        if not isinstance(current, (yaml.SequenceNode, yaml.MappingNode)):
            sizes[key] = 1
            continue
        if key in open_:
            raise _TooBig("an alias refers to a mapping or list that contains it")
        if depth > MAX_DEPTH:
            raise _TooBig(f"it nests mappings and lists more than {MAX_DEPTH} deep")
        open_.add(key)
        stack.append((current, depth, True))
        children = current.value if isinstance(current, yaml.SequenceNode) else [n for pair in current.value for n in pair]
        stack.extend((c, depth + 1, False) for c in children)


_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"


def _load_stream(text: str) -> Any:
    """Build the document straight from the parser's events, as the safe loader would.

    PyYAML's loader first composes a node for every scalar, which for a suite of
    100,000 cases takes eight times the time and four times the memory of the result.
    Merge keys, explicit tags on collections, non-scalar keys and several documents
    raise ``_Unusual``, and the caller falls back to the full loader."""
    loader = _Loader(text)
    try:
        anchors: dict[str, Any] = {}
        sizes: dict[str, int] = {}  # values an anchor's value expands to (a finished one)
        total = 0  # values of the document so far, every alias expanded
        stack: list[list[Any]] = []  # [container, pending key or _NO_KEY, anchor, total at its start]
        root: Any = None
        documents = 0
        no_key = _NO_KEY

        def add(value: Any, anchor: str | None) -> None:
            nonlocal root
            if anchor:
                anchors[anchor] = value
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
                add(value, event.anchor)
                total += 1
                if event.anchor:
                    sizes[event.anchor] = 1
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                if event.tag is not None and not event.implicit:
                    raise _Unusual(event.tag)
                if len(stack) >= MAX_DEPTH:
                    raise _TooBig(f"it nests mappings and lists more than {MAX_DEPTH} deep (line {event.start_mark.line + 1})")
                container: Any = {} if kind is yaml.MappingStartEvent else []
                add(container, event.anchor)
                total += 1
                stack.append([container, no_key, event.anchor, total])
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                _, _, anchor, start = stack.pop()
                if anchor:
                    sizes[anchor] = total - start + 1
            elif kind is yaml.AliasEvent:
                if event.anchor not in anchors:
                    raise _Unusual("an alias to an unknown anchor")  # the full loader says where
                if event.anchor not in sizes:
                    raise _Unusual("an alias inside its own anchor")  # the full loader's graph is checked
                add(anchors[event.anchor], None)
                total += sizes[event.anchor]
                if total > MAX_VALUES:
                    raise _TooBig(f"it expands to more than {MAX_VALUES:,} values through its aliases "
                                  f"(line {event.start_mark.line + 1})")
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
            _check_depth(text)
            _check_bounds(yaml.compose(text, Loader=_Loader))  # aliases are shared nodes here: cheap
            return yaml.load(text, Loader=_Loader)  # the safe loader (CSafeLoader or SafeLoader)
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
    """A sentence and a fix for one jsonschema error."""
    kind, value = error.validator, error.validator_value
    if kind == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        return f"unknown key {', '.join(map(repr, extra))}", f"remove it or use one of: {allowed}"
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
