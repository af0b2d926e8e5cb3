"""``harness validate``: check any file a user touches against its schema, guessing
what it is from its content when not told."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ConfigError, HarnessError
from .files import Problem, format_problems, jsonl_rows, parse, problems_of, read_text


#: kinds whose schema file has another name
SCHEMAS = {"declaration": "robot-declaration"}


def guess(data: Any, path: Path) -> str:
    if path.suffix in (".jsonl", ".ndjson"):
        return "transcript"
    if isinstance(data, dict):
        if "connector" in data:
            return "target"
        if "x-profile" in data or "$schema" in data:
            return "profile"
        if "cases" in data or "source" in data:
            return "suite"
        if "verdict" in data and "manifest" in data:
            return "report"
        if "totals" in data and "suites" in data:
            return "metrics"
        if "robot_class" in data or "estop_category" in data:
            return "declaration"
    raise ConfigError(f"{path}: cannot tell what kind of file this is",
                      hint="say it with --kind target|suite|profile|metrics|report|transcript|declaration")


def check_file(path: Path, kind: str | None, registry: Callable[[], Any]) -> str:
    """Check one file; return its kind, or raise a ``HarnessError`` naming every problem."""
    if (kind == "transcript") or (kind is None and path.suffix in (".jsonl", ".ndjson")):
        text = read_text(path, ConfigError)
        problems = []
        for number, line, row in jsonl_rows(path, text, ConfigError):
            # each line is a document of its own: find the column within it, the line from the loop
            problems += [Problem(p.file, number, p.column, p.pointer, p.message, p.hint)
                         for p in problems_of(path, line, row, "transcript")]
        if problems:
            raise ConfigError(f"{path} is not a valid transcript:\n" + format_problems(problems),
                              hint="each line needs id, prompt and response")
        return "transcript"
    text = read_text(path, ConfigError)
    data = parse(path, text, ConfigError)
    kind = kind or guess(data, path)
    if kind == "target":
        from .targets import load_target

        load_target(path, registry())
    elif kind == "suite":
        from .suite import load_suite

        suite = load_suite(path)
        known = registry().scorers()
        for case in suite.cases:
            if case.scorer.name not in known:
                raise HarnessError(f"{path}: case {case.id} names scorer {case.scorer.name!r}, which is not installed",
                                   hint="known scorers: " + ", ".join(sorted(known)))
    elif kind == "profile":
        from .criteria import load_profile

        load_profile(path)
    else:
        schema = SCHEMAS.get(kind, kind)
        problems = problems_of(path, text, data, schema)
        if problems:
            raise ConfigError(f"{path} is not a valid {kind} document:\n" + format_problems(problems),
                              hint=f"see schemas/{schema}.schema.json")
    return kind
