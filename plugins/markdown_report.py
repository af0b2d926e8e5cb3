"""The Markdown report format: ``report.md``, for a CI job summary
(``$GITHUB_STEP_SUMMARY``) or a pull-request comment. GitHub-flavoured Markdown.

In order: the verdict in bold, its reason and the profile's notice; the criteria table
(criterion, status, measured with the 95% interval of its rate, threshold, clause) and a
line for each criterion that did not pass; for a run with robot suites, a line per robot
suite with its worst value against the limit and who measured it ("measured by the
harness (closed loop)" or "vendor-reported"); a table per suite (attempts, valid, errors,
pass rate with its interval, the rates of the labels); coverage (categories, and cases
per language); up to 10 failing examples; the manifest summary.

Text from the report (profile clauses, prompts, responses...) is escaped: in tables and
prose every character Markdown or HTML would act on gets a backslash (``|``, ``` ` ```,
``*``, ``<``...), newlines become spaces; prompts and responses go in fenced blocks whose
fence is longer than any run of backticks inside, so nothing can close them early.

The file stays under :data:`LIMIT` bytes whatever the run's size: long cells are cut,
and when the whole is still too large the longest tables lose rows, with a note saying
how many and that ``report.json`` has them all. The output depends only on the report.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness import ReporterSpec, hookimpl

FILE_NAME = "report.md"
#: the most bytes the file may take (GitHub cuts a job summary at 1 MiB and a comment
#: at 65,536 characters; this stays below both)
LIMIT = 60_000
#: failing examples shown
EXAMPLES = 10
#: characters of a prompt or a response shown
SNIPPET = 200
#: characters of a table cell shown
CELL = 300

#: what Markdown (GFM, with GitHub's ``$`` math) or HTML would act on inside a line
_ESCAPE = re.compile(r"([\\`*_\[\]<>|~&$])")
_SPACE = re.compile(r"\s+")
_CODE_SAFE = re.compile(rf"[^`|\n]{{1,{CELL}}}")
_THRESHOLD_SIGN = {"minimum": "≥", "maximum": "≤", "exclusiveMinimum": ">", "exclusiveMaximum": "<", "const": "="}


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def inline(value: Any, limit: int = CELL) -> str:
    """Text for a table cell or a sentence: one line, cut, every Markdown and HTML
    special character escaped (so ``|`` cannot end a cell, ``<`` cannot open a tag)."""
    text = _SPACE.sub(" ", "" if value is None else str(value)).strip()
    return _ESCAPE.sub(r"\\\1", cut(text, limit))


def fenced(text: str, limit: int = SNIPPET) -> str:
    """A fenced code block holding ``text`` cut to ``limit`` characters. The fence is
    longer than any run of backticks in the text, so the text cannot close it."""
    body = cut(text.replace("\r\n", "\n").replace("\r", "\n"), limit) or " "
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{body}\n{fence}"


def code(value: Any) -> str:
    """Inline code where the text can be one (no backtick, no ``|``, which would end a
    table cell even inside code, no newline, not too long); escaped text otherwise."""
    text = "" if value is None else str(value)
    return f"`{text}`" if _CODE_SAFE.fullmatch(text) else inline(text)


def _number(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def rate(r: Mapping[str, Any] | None) -> str:
    if not r or r.get("value") is None:
        return f"n/a (n={r.get('n', 0)})" if r else "n/a"
    return f"{r['value']:.3f} ({r['ci_low']:.3f}–{r['ci_high']:.3f}, n={r['n']})"


def _measured(c: Mapping[str, Any]) -> str:
    return _shown(c) + (f"; {c['basis']}" if c.get("basis") else "")


def _shown(c: Mapping[str, Any]) -> str:
    r = c.get("rate")
    if not r:
        return _number(c.get("measured"))
    field = (c.get("pointer") or "").rsplit("/", 1)[-1]
    if field in ("", "value"):
        return rate(r)
    return f"{field} {_number(c.get('measured'))} of {rate(r)}"


def _threshold(threshold: Any) -> str:
    if isinstance(threshold, Mapping):
        return ", ".join(f"{_THRESHOLD_SIGN.get(k, k)} {_number(v)}" for k, v in threshold.items()) or "–"
    return "–" if threshold is None else _number(threshold)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


class _Table:
    """A table whose rows can be dropped from the end to fit the size limit."""

    def __init__(self, header: list[str], rows: list[str], what: str) -> None:
        self.head = [_row(header), _row(["---"] * len(header))]
        self.rows = rows
        self.shown = len(rows)
        self.what = what

    def lines(self) -> list[str]:
        out = (self.head + self.rows[: self.shown]) if self.rows else []
        if self.shown < len(self.rows):
            out += ["", (f"_{len(self.rows) - self.shown} more {self.what} not shown: the report is cut to stay "
                         f"under {LIMIT // 1000} KB; report.json has them all._")]
        return out

    def size(self) -> int:
        return sum(len(line.encode()) + 1 for line in self.rows[: self.shown])


def _criteria(report: Mapping[str, Any]) -> tuple[_Table, list[str]]:
    rows, notes = [], []
    for c in report["criteria"]:
        status = c["status"] if c["status"] == "pass" else f"**{c['status']}**"
        rows.append(_row([code(c["id"]), status,
                          inline(_measured(c)), inline(_threshold(c.get("threshold"))), inline(c["clause"])]))
        if c["status"] == "fail":
            notes.append(f"- **{inline(c['id'], 120)}** (fail): {inline(c['message'])}"
                         + (f" {inline(c['detail'])}" if c.get("detail") else ""))
        elif c["status"] == "inconclusive":  # why it is undecided, not the failure sentence
            notes.append(f"- **{inline(c['id'], 120)}** (inconclusive): {inline(c.get('detail') or '')}")
    table = _Table(["criterion", "status", "measured (95% CI, n)", "threshold", "clause"], rows, "criteria")
    return table, notes


def _label_rates(group: Mapping[str, Any], keep: set[str]) -> str:
    """The rates of the suite's labels, those a criterion looks at first, at most 4."""
    names = [k for k in group if k.endswith("_rate") and k not in ("pass_rate", "error_rate")
             and isinstance(group[k], Mapping)]
    names.sort(key=lambda k: (k not in keep, k))
    shown = [f"{k[:-5]} {rate(group[k])}" for k in names[:4]]
    if len(names) > 4:
        shown.append(f"+{len(names) - 4} more")
    return "; ".join(shown) or "–"


def _suites(report: Mapping[str, Any]) -> tuple[_Table, _Table]:
    suites = report["metrics"].get("suites", {})
    versions = {s["id"]: s.get("version", "") for s in report["manifest"].get("suites", [])}
    judged = {part for c in report["criteria"] for part in (c.get("pointer") or "").split("/")
              if part.endswith("_rate")}
    rows, coverage = [], []
    for suite_id, m in suites.items():
        rows.append(_row([inline(suite_id), inline(m.get("version") or versions.get(suite_id, "")),
                          str(m.get("n", 0)), str(m.get("valid_n", 0)),
                          f"{m.get('errors', 0)} ({m.get('error_rate', 0):.1%})", inline(rate(m.get("pass_rate"))),
                          inline(_label_rates(m, judged))]))
        categories = m.get("by_category", {})
        names = ", ".join(inline(c, 40) for c in list(categories)[:12]) + (
            f", +{len(categories) - 12} more" if len(categories) > 12 else "")
        languages = ", ".join(f"{inline(lang, 20)} {g.get('cases', 0)}" for lang, g in m.get("by_language", {}).items())
        coverage.append(f"- **{inline(suite_id)}**: {m.get('cases', 0)} cases in {len(categories)} "
                        f"{'category' if len(categories) == 1 else 'categories'} ({names or 'none'}); "
                        f"cases per language: {languages or 'none'}")
    table = _Table(["suite", "version", "attempts", "valid", "errors", "pass rate (95% CI, n)", "label rates"],
                   rows, "suites")
    cover = _Table(["coverage"], coverage, "suites' coverage")
    cover.head = []  # a list, not a table
    return table, cover


def _examples(report: Mapping[str, Any]) -> list[str]:
    """One block of text per example shown (the size limit drops whole blocks)."""
    out: list[str] = []
    for example in (report.get("failures") or [])[:EXAMPLES]:
        where = ", ".join(inline(x, 40) for x in (example.get("category"), example.get("lang")) if x)
        title = f"**{inline(example.get('suite'), 80)} / {inline(example.get('case_id'), 80)}**"
        if where:
            title += f" ({where})"
        if example.get("label"):
            title += f": {inline(example['label'], 40)}"
        block = [title, ""]
        if example.get("evidence"):
            block += [inline(example["evidence"], SNIPPET), ""]
        block += ["Prompt:", "", fenced(str(example.get("prompt") or "")), "",
                  "Response:", "", fenced(str(example.get("response") or "")), ""]
        out.append("\n".join(block))
    return out


def _manifest(report: Mapping[str, Any]) -> _Table:
    manifest, run = report["manifest"], report.get("run", {})
    profile, target = manifest["profile"], manifest.get("target", {})
    model = target.get("model") or target.get("url") or target.get("callable")
    rows = [
        (f"- run: {code(run.get('id', ''))} ({inline(run.get('status', ''))}; {inline(run.get('created_at', ''))} to "
         f"{inline(run.get('finished_at') or 'unfinished')})"),
        f"- harness {inline(manifest.get('harness', {}).get('version', '?'))}",
        f"- profile: {inline(profile['id'])} {inline(profile['version'])} (sha256 `{profile['sha256'][:12]}`)",
        f"- target: {inline(target.get('name', '?'))} ({inline(target.get('connector', '?'))}"
        + (f", model {inline(model)}" if model else "") + ")",
        f"- seed {manifest.get('seed')}, epochs {manifest.get('epochs', 1)}",
    ]
    signature = report.get("signature")
    if isinstance(signature, Mapping):
        rows.append(f"- signed: {inline(signature.get('alg', '?'))}, key id {code(signature.get('key_id', '?'))} "
                    "(check it with `harness verify report.json --key public.pem`)")
    rows.append("- suites:")
    rows += [f"  - {inline(s['id'])} {inline(s['version'])}: {s.get('cases', '?')} cases (sha256 `{s['sha256'][:12]}`)"
             for s in manifest.get("suites", [])]
    table = _Table([], rows, "manifest lines")
    table.head = []
    return table


def _robot(report: Mapping[str, Any]) -> list[str]:
    """One line per robot suite: its worst value against the limit, the case, and who
    measured it (the harness in closed loop, or the vendor)."""
    entries = (report.get("robot") or {}).get("suites") or []
    if not entries:
        return []
    from harness import robot

    text_line = robot.reporting.text_line
    return ["### Robot safety: worst cases", "",
            *(f"- {inline(text_line(e), 400)}" for e in entries[:20]), ""]


def _graders(report: Mapping[str, Any]) -> list[str]:
    """One paragraph per grader card: what it is, its measured accuracy per language,
    and what it left undecided in this run."""
    lines = []
    for card in report.get("graders") or []:
        head = (f"- {code(card.get('scorer', ''))} v{inline(card.get('version', ''))}: weights sha256 "
                f"{code((card.get('weights_sha256') or '')[:16])}, configuration {code((card.get('config_sha256') or '')[:16])}")
        measured = card.get("measured") or {}
        parts = []
        for lang, f in sorted((measured.get("by_lang") or {}).items()):
            parts.append(f"{lang} accuracy {rate(f.get('accuracy'))}, macro-F1 {_number(f.get('macro_f1'))}, "
                         f"uncertain {_number(f.get('uncertain_share'))}")
        lines.append(head + (f"; measured on replies it was never trained on: {'; '.join(parts)}" if parts
                             else "; no measured accuracy ships with it"))
        for suite, r in sorted((card.get("in_this_run") or {}).items()):
            lines.append(f"  - {code(suite)}: {r['uncertain']} of {r['n']} uncertain, {r['degenerate']} degenerate, "
                         f"{r['judged']} judged")
    return ["### Graders", "", *lines, ""] if lines else []


def _assemble(report: Mapping[str, Any], criteria: _Table, notes: list[str], suites: _Table, coverage: _Table,
              examples: list[str], manifest: _Table, notes_shown: int) -> str:
    run_id = report.get("run", {}).get("id", "")
    lines = [f"## Sandbox test report: run {code(run_id)}", "",
             f"**Verdict: `{report['verdict']}`**: {inline(report.get('reason', ''), 1000)}", ""]
    if report.get("notice"):
        lines += [f"> **Note:** {inline(report['notice'], 1000)}", ""]
    profile = report["manifest"]["profile"]
    lines += [f"### Criteria of {inline(profile['id'])} {inline(profile['version'])}", ""]
    lines += criteria.lines() or ["The profile has no criteria."]
    if notes:
        lines += ["", *notes[:notes_shown]]
        if notes_shown < len(notes):
            lines.append(f"- _{len(notes) - notes_shown} more not shown; report.json has them all._")
    lines += ["", *_robot(report)]
    lines += ["### Suites", "", *(suites.lines() or ["No suite."]), "", "### Coverage", "",
              *(coverage.lines() or ["No suite."]), ""]
    failures = report.get("failures") or []
    if failures:
        summary = f"<summary>Failing examples ({len(examples)} of {len(failures)} in the report)</summary>"
        lines += ["<details>", summary, "", *examples, "</details>", ""]
    lines += _graders(report)
    lines += ["### Manifest", "", *manifest.lines(), ""]
    return "\n".join(lines)


def markdown(report: Mapping[str, Any]) -> str:
    """The Markdown text of a report, under :data:`LIMIT` bytes."""
    criteria, notes = _criteria(report)
    suites, coverage = _suites(report)
    examples = _examples(report)
    manifest = _manifest(report)
    notes_shown = len(notes)
    text = _assemble(report, criteria, notes, suites, coverage, examples, manifest, notes_shown)
    tables = [criteria, suites, coverage, manifest]
    while len(text.encode()) > LIMIT:
        # the notes of failed criteria first (the table has them too), then the rows
        # of whichever table is largest, a quarter at a time
        if notes_shown > 10:
            notes_shown = 10
        else:
            largest = max(tables, key=_Table.size)
            if largest.shown == 0:
                if not examples:  # nothing left to drop: a hard cut, which cannot happen in practice
                    return text.encode()[: LIMIT - 100].decode(errors="ignore") + "\n\n_Cut at the size limit._\n"
                examples = examples[: len(examples) // 2]
            else:
                largest.shown = largest.shown * 3 // 4
        text = _assemble(report, criteria, notes, suites, coverage, examples, manifest, notes_shown)
    return text


def render(report: Mapping[str, Any], out_dir: Path) -> Path:
    path = out_dir / FILE_NAME
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(markdown(report), encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a report
    return path


@hookimpl
def register_reporters() -> list[ReporterSpec]:
    return [ReporterSpec("md", render, f"Markdown ({FILE_NAME}) for a CI job summary or a pull-request comment, "
                                       f"under {LIMIT // 1000} KB")]
