"""Suites: finding them by id or path, reading the YAML and any private question bank
(CSV or JSONL with a column mapping), and building :class:`Case` objects."""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .errors import HarnessError, SuiteError
from .files import jsonl_rows, load_checked, locate, parse
from .models import Case, ScorerRef, Suite

if TYPE_CHECKING:
    from .plugins import Registry

BANK_FIELDS = ("id", "prompt", "system", "expected", "category", "lang")
_NO_METADATA: Mapping[str, Any] = MappingProxyType({})  # shared by every case without metadata


def _scorer_ref(value: Any) -> ScorerRef:
    if isinstance(value, str):
        return ScorerRef(value)
    return ScorerRef(value["name"], value.get("args") or {})


class _Bank:
    """A question bank (CSV or JSONL) a suite points at: its bytes, for the hash, and
    its rows, read one at a time so a large bank is never held twice."""

    def __init__(self, suite_path: Path, source: dict[str, Any], text: str) -> None:
        self.path = (suite_path.parent / source["path"]).resolve()
        try:
            self.raw = self.path.read_bytes()
        except OSError as exc:
            line = locate(text, ["source", "path"])
            raise SuiteError(
                f"{suite_path}:{line[0] if line else '?'}: the question bank {source['path']} cannot be read "
                f"({exc.strerror})",
                hint=f"the path is relative to the suite file; expected it at {self.path}",
            ) from exc
        self.format = source.get("format") or ("jsonl" if self.path.suffix.lower() in (".jsonl", ".ndjson") else "csv")
        self.columns = {field: source.get("columns", {}).get(field, field) for field in BANK_FIELDS}
        #: the columns the suite names itself: each must exist, or every row would silently
        #: lose that field (a language mapped to a missing column makes every case 'und')
        self.named = dict(source.get("columns", {}))

    def _no_such_columns(self, line: int, found: list[str]) -> SuiteError:
        missing = [(f, c) for f, c in self.columns.items()
                   if c not in found and (f in self.named or f in ("id", "prompt"))]
        close = "; ".join(f"{c!r}: did you mean {near[0]!r}?" for _, c in missing
                          if (near := difflib.get_close_matches(c, found, n=1)))
        return SuiteError(f"{self.path}:{line}: the bank has no column "
                          + ", ".join(f"{c!r} (for {f})" for f, c in missing),
                          hint=(close + ". " if close else "") + f"name its columns in the suite's source.columns; "
                          f"the bank has {', '.join(map(repr, found)) or 'none'}")

    def _records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        try:
            body = self.raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SuiteError(f"{self.path}: not UTF-8 text", hint="save the bank as UTF-8") from exc
        if self.format == "csv":
            reader = csv.DictReader(io.StringIO(body))
            header = reader.fieldnames or []
            if any(c not in header for f, c in self.columns.items() if f in self.named or f in ("id", "prompt")):
                raise self._no_such_columns(1, list(header))
            for row in reader:
                yield reader.line_num, row
            return
        seen: dict[str, None] = {}
        number = 0
        for number, _, row in jsonl_rows(self.path, body, SuiteError):
            seen.update(dict.fromkeys(row))
            yield number, row
        if any(c not in seen for c in self.named.values()):  # a key that no line has
            raise self._no_such_columns(number, list(seen))

    def rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(line number, fields) per question, fields named as in a suite's cases."""
        for number, row in self._records():
            fields = {f: row[c] for f, c in self.columns.items() if row.get(c) not in (None, "")}
            for needed in ("id", "prompt"):
                if needed not in fields:
                    raise SuiteError(f"{self.path}:{number}: no {needed} (column {self.columns[needed]!r})",
                                     hint="fill it in or fix the mapping")
            yield number, fields


def _check_scenario(scenario: Any, where: str) -> None:
    """A robot scenario (with the suite's shared keys) against its schema."""
    from .files import explain, pointer, validator

    for error in validator("robot-scenario").iter_errors(scenario):
        message, hint = explain(error)
        raise SuiteError(f"{where}: scenario{pointer(error.absolute_path)}: {message}", hint=hint)


def load_suite(path: Path) -> Suite:
    """Read, check and build one suite file. Every problem names file and line."""
    data, text = load_checked(path, "suite", SuiteError)
    suite_id = data["id"]
    defaults = data.get("defaults", {})
    default_scorer = _scorer_ref(data.get("scorer", "contains"))
    digest = hashlib.sha256(text.encode("utf-8"))

    shared_scenario = defaults.get("scenario")

    def build(fields: dict[str, Any]) -> Case:
        scenario = fields.get("scenario")
        if scenario is not None and shared_scenario:
            scenario = {**shared_scenario, **scenario}
        if scenario is not None:  # what a report shows as the case's prompt
            messages = [{"role": "user", "content": scenario.get("title") or f"{scenario['kind']} scenario"}]
        else:
            messages = fields.get("messages") or [{"role": "user", "content": fields["prompt"]}]
        return Case(
            id=str(fields["id"]),
            suite=suite_id,
            messages=tuple(messages),
            expected=fields.get("expected", defaults.get("expected")),
            scorer=_scorer_ref(fields["scorer"]) if "scorer" in fields else default_scorer,
            system=fields.get("system", data.get("system")),
            category=str(fields.get("category", defaults.get("category", "default"))),
            lang=str(fields.get("lang", defaults.get("lang", "und"))),
            metadata=fields.get("metadata") or _NO_METADATA,
            scenario=scenario,
        )

    cases = [build(fields) for fields in data.get("cases", [])]
    inline = len(cases)
    bank_lines: list[int] = []
    bank = _Bank(path, data["source"], text) if "source" in data else None
    if bank:
        digest.update(b"\0")
        digest.update(bank.raw)
        for number, fields in bank.rows():
            bank_lines.append(number)
            cases.append(build(fields))

    def place(index: int) -> str:  # composing the YAML costs: only for an error
        if index >= inline:
            return f"{bank.path}:{bank_lines[index - inline]}"  # type: ignore[union-attr]
        line = locate(text, ["cases", index])
        return f"{path}:{line[0] if line else '?'}"

    for index, case in enumerate(cases):
        if case.scenario is not None:
            _check_scenario(case.scenario, place(index))
    seen: dict[str, int] = {}
    for index, case in enumerate(cases):
        if case.id in seen:
            raise SuiteError(f"{place(index)}: case id {case.id!r} is used twice in suite {suite_id} "
                             f"(first at {place(seen[case.id])})",
                             hint="ids must be unique and stable: they are part of each attempt's key")
        seen[case.id] = index
    if not cases and "derive" not in data:
        raise SuiteError(f"{path}: suite {suite_id} has no cases", hint="add cases or a source question bank")
    return Suite(
        id=suite_id,
        version=str(data["version"]),
        title=data["title"],
        cases=tuple(cases),
        clause=data.get("clause", ""),
        description=data.get("description", ""),
        languages=tuple(data.get("languages") or sorted({c.lang for c in cases})),
        categories=tuple(data.get("categories") or sorted({c.category for c in cases})),
        path=path,
        sha256=digest.hexdigest(),
        derive=data.get("derive"),
        measure=data.get("measure"),
    )


def _yaml_files(folders: list[Path]) -> Iterator[Path]:
    for folder in folders:
        yield from sorted(folder.rglob("*.yaml"))


def peek_id(path: Path) -> str | None:
    """The ``id`` of a suite or profile file, without building it; remembered per file
    version (path, size, modification time): looking a suite up by id reads every file
    of the folders, which a service does for every run it is asked for."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return _peek_id(path, stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=4096)
def _peek_id(path: Path, size: int, mtime_ns: int) -> str | None:
    try:
        data = parse(path, path.read_text(encoding="utf-8"), SuiteError)
    except (OSError, SuiteError):
        return None
    if not isinstance(data, dict):
        return None
    return data.get("id") or data.get("$id")


def find(id_or_path: str, folders: list[Path], kind: str, error: type[HarnessError] = SuiteError) -> Path:
    """A file by path, or by the id it declares in one of ``folders``."""
    candidate = Path(id_or_path)
    if candidate.suffix in (".yaml", ".yml", ".json") or candidate.exists():
        if not candidate.is_file():
            raise error(f"{id_or_path}: no such {kind} file", hint="check the path")
        return candidate
    known = []
    for path in _yaml_files(folders):
        found = peek_id(path)
        if found == id_or_path:
            return path
        if found:
            known.append(found)
    near = difflib.get_close_matches(id_or_path, known, n=1)
    raise error(f"no {kind} with id {id_or_path!r}" + (f": did you mean {near[0]!r}?" if near else ""),
                hint=f"give a path, or one of: {', '.join(sorted(known)) or 'none installed'}")


def resolve_suite(id_or_path: str, registry: Registry) -> Suite:
    return load_suite(find(id_or_path, registry.suite_dirs(), "suite"))


def list_suites(registry: Registry) -> list[Suite]:
    return [load_suite(p) for p in _yaml_files(registry.suite_dirs())]
