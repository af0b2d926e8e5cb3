"""``harness validate``: check any file a user touches against its schema, guessing
what it is from its content when not told."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ConfigError, HarnessError
from .files import Problem, format_problems, jsonl_rows, locate, parse, pointer, problems_of, read_text


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


def _unknown_scorers(path: Path, text: str, data: Any, known: set[str]) -> list[Problem]:
    """Every scorer a suite names that is not installed, where it names it: the suite's
    own (``scorer`` or ``defaults.scorer``) once, and each case's own."""
    def name(ref: Any) -> Any:
        return ref.get("name") if isinstance(ref, dict) else ref

    places: list[tuple[list[str | int], Any]] = [(["scorer"], data.get("scorer")),
                                                 (["defaults", "scorer"], (data.get("defaults") or {}).get("scorer"))]
    places += [(["cases", i, "scorer"], case.get("scorer")) for i, case in enumerate(data.get("cases") or [])
               if isinstance(case, dict)]
    problems = []
    for parts, ref in places:
        scorer = name(ref)
        if isinstance(scorer, str) and scorer not in known:
            near = difflib.get_close_matches(scorer, sorted(known), n=1)
            line, column = locate(text, parts) or (None, None)
            problems.append(Problem(str(path), line, column, pointer(parts), f"scorer {scorer!r} is not installed",
                                    (f"did you mean {near[0]!r}? " if near else "")
                                    + "installed: " + ", ".join(sorted(known))))
    return problems


def check_file(path: Path, kind: str | None, registry: Callable[[], Any],
               warn: Callable[[str], None] = lambda _: None) -> str:
    """Check one file; return its kind, or raise a ``HarnessError`` naming every problem.
    ``warn`` gets what is worth a look but not an error (a profile requiring a suite that
    is not installed, which a run may be given as a file)."""
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

        problems = _unknown_scorers(path, text, data, set(registry().scorers())) if isinstance(data, dict) else []
        scorers = ("\n" + format_problems(problems)) if problems else ""
        try:
            load_suite(path)  # every problem of the format at once
        except HarnessError as exc:  # with the unknown scorers: one pass shows all
            raise type(exc)(exc.message + scorers, hint=exc.hint) from None
        if problems:
            raise ConfigError(f"{path} names scorers that are not installed:" + scorers,
                              hint="`harness list scorers` shows what is installed; a plugin's scorer needs "
                                   "-p MODULE or its package installed")
    elif kind == "profile":
        from .criteria import load_profile, required_suites
        from .suite import _yaml_files, peek_id

        profile = load_profile(path)
        # the ids the installed suites declare, read without building them: a broken suite
        # elsewhere is that file's problem, not this profile's
        installed = {i for f in _yaml_files(registry().suite_dirs()) if (i := peek_id(f))}
        for name in required_suites(profile):
            if name not in installed:  # a user's own suite is given with --suite: a warning, not an error
                near = difflib.get_close_matches(name, sorted(installed), n=1)
                where = locate(text, ["properties", "suites", "required"])
                warn(f"warning: {path}:{where[0] if where else '?'}: requires suite {name!r}, which is not "
                     "installed" + (f": did you mean {near[0]!r}?" if near else
                                    " (give it to `harness run` with --suite FILE)"))
    else:
        schema = SCHEMAS.get(kind, kind)
        problems = problems_of(path, text, data, schema)
        if problems:
            raise ConfigError(f"{path} is not a valid {kind} document:\n" + format_problems(problems),
                              hint=f"see schemas/{schema}.schema.json")
    return kind
