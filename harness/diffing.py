"""``harness diff A B``: what changed from run A to run B.

:func:`compare` is pure: two report dicts (and, optionally, each run's stored attempts)
in, one JSON-ready document out. It holds

- ``criteria``: each criterion's status in A and in B and how it changed:

  ========================  ===========
  A -> B                    change
  ========================  ===========
  same status               ``same``
  fail -> pass              ``better``
  inconclusive -> pass      ``better``
  pass -> fail              ``worse``
  pass -> inconclusive      ``worse``
  inconclusive -> fail      ``worse``
  anything -> missing       ``worse`` (B's profile does not judge it)
  fail -> inconclusive      ``changed`` (neither: B can no longer tell)
  missing -> anything       ``new``
  ========================  ===========

- ``rates``: every rate (``pass_rate``, ``<label>_rate``) of every suite, and of each
  category and language below it, with A's and B's value and 95% interval, the
  difference B - A with Newcombe's interval (:func:`harness.metrics.difference`),
  whether the two intervals overlap, and whether the difference is significant (its
  interval excludes 0). A rate is neither better nor worse by itself (a high refusal
  rate is good on should-refuse questions and bad on the others): the criteria judge.
- ``cases`` (when both runs' attempts are given): how many attempts changed status
  (pass / fail / error) between the runs, by key, counted per change, and the first
  :data:`EXAMPLES` of them; attempts in one run only are counted apart.

``worse`` is true when any criterion is worse: ``harness diff`` then exits 1.

:func:`open_side` finds a run (by id in a store, or a report.json path) for the CLI.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, StoreError
from .metrics import difference
from .models import AttemptResult

#: changed attempts listed in full (all are counted)
EXAMPLES = 50
_RATE_KEYS = {"value", "ci_low", "ci_high", "n"}


# -- criteria ---------------------------------------------------------------------------


def criterion_change(a: str | None, b: str | None) -> str:
    """How a criterion's status moved from A to B (None: the run does not judge it)."""
    if a == b:
        return "same"
    if b is None:
        return "worse"
    if a is None:
        return "new"
    if b == "pass":
        return "better"
    if a == "pass" or b == "fail":
        return "worse"
    return "changed"  # fail -> inconclusive


def compare_criteria(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per criterion id in A or B, in A's order then B's new ones."""
    in_a = {c["id"]: c for c in a}
    in_b = {c["id"]: c for c in b}
    ids = list(in_a) + [i for i in in_b if i not in in_a]
    rows = []
    for cid in ids:
        ca, cb = in_a.get(cid), in_b.get(cid)
        sa, sb = (ca or {}).get("status"), (cb or {}).get("status")
        rows.append({"id": cid, "clause": (ca or cb or {}).get("clause", ""), "a": sa, "b": sb,
                     "change": criterion_change(sa, sb),
                     "a_measured": (ca or {}).get("measured"), "b_measured": (cb or {}).get("measured")})
    return rows


# -- rates ------------------------------------------------------------------------------


def _is_rate(value: Any) -> bool:
    return isinstance(value, dict) and _RATE_KEYS <= value.keys()


def _rates(group: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in (group or {}).items() if _is_rate(v)}


def compare_rate(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any]:
    """A's and B's rate, B - A with Newcombe's interval, overlap and significance
    (None where either side has no value)."""
    row: dict[str, Any] = {"a": a, "b": b, "difference": None, "overlap": None, "significant": None,
                           "direction": None}
    if not (a and b) or a.get("value") is None or b.get("value") is None:
        return row
    diff = difference(b, a)  # B - A
    row["difference"] = diff
    row["overlap"] = a["ci_low"] <= b["ci_high"] and b["ci_low"] <= a["ci_high"]
    row["significant"] = diff["ci_low"] > 0 or diff["ci_high"] < 0
    row["direction"] = "up" if diff["gap"] > 0 else "down" if diff["gap"] < 0 else "same"
    return row


def _groups(suite_a: dict[str, Any], suite_b: dict[str, Any]) -> Iterator[tuple[str, str | None, Any, Any]]:
    yield "suite", None, suite_a, suite_b
    for scope, key in (("category", "by_category"), ("language", "by_language")):
        below_a, below_b = suite_a.get(key) or {}, suite_b.get(key) or {}
        for name in sorted(below_a.keys() | below_b.keys()):
            yield scope, name, below_a.get(name), below_b.get(name)


def compare_rates(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per rate of each suite, category and language in either metrics document."""
    suites_a, suites_b = a.get("suites") or {}, b.get("suites") or {}
    rows = []
    for suite in sorted(suites_a.keys() | suites_b.keys()):
        for scope, group, ga, gb in _groups(suites_a.get(suite) or {}, suites_b.get(suite) or {}):
            ra, rb = _rates(ga), _rates(gb)
            for metric in sorted(ra.keys() | rb.keys()):
                rows.append({"suite": suite, "scope": scope, "group": group, "metric": metric,
                             **compare_rate(ra.get(metric), rb.get(metric))})
    return rows


# -- attempts ---------------------------------------------------------------------------


def _pairs(a: Iterable[AttemptResult], b: Iterable[AttemptResult]
           ) -> Iterator[tuple[AttemptResult | None, AttemptResult | None]]:
    """Attempts of A and B paired by key. Both streams are read in step; an attempt
    waits in a small table until its partner comes, so two streams in the same order
    (the store's, by key) pair at once, and any order still pairs right."""
    wait_a: dict[str, AttemptResult] = {}
    wait_b: dict[str, AttemptResult] = {}
    ia, ib = iter(a), iter(b)
    done_a = done_b = False
    while not (done_a and done_b):
        if not done_a:
            ra = next(ia, None)
            if ra is None:
                done_a = True
            elif ra.key in wait_b:
                yield ra, wait_b.pop(ra.key)
            else:
                wait_a[ra.key] = ra
        if not done_b:
            rb = next(ib, None)
            if rb is None:
                done_b = True
            elif rb.key in wait_a:
                yield wait_a.pop(rb.key), rb
            else:
                wait_b[rb.key] = rb
    for ra in wait_a.values():
        yield ra, None
    for rb in wait_b.values():
        yield None, rb


def compare_cases(a: Iterable[AttemptResult], b: Iterable[AttemptResult], limit: int = EXAMPLES) -> dict[str, Any]:
    """Attempts whose status changed between A and B (same key), counted per change
    (``pass->fail``...), with the first ``limit`` listed; attempts in one run only are
    counted as ``only_in_a`` / ``only_in_b``; ``labels_changed`` counts attempts whose
    label changed (whether or not their status did)."""
    by_change: Counter[str] = Counter()
    compared = changed = labels_changed = only_a = only_b = 0
    examples: list[dict[str, Any]] = []
    for ra, rb in _pairs(a, b):
        if ra is None:
            only_b += 1
            continue
        if rb is None:
            only_a += 1
            continue
        compared += 1
        if ra.label != rb.label:
            labels_changed += 1
        if ra.status == rb.status:
            continue
        changed += 1
        by_change[f"{ra.status}->{rb.status}"] += 1
        if len(examples) < limit:
            examples.append({"key": ra.key, "suite": ra.suite, "case_id": ra.case_id, "epoch": ra.epoch,
                             "category": ra.category, "lang": ra.lang, "a": ra.status, "b": rb.status,
                             "a_label": ra.label, "b_label": rb.label,
                             "b_evidence": (rb.evidence or rb.error or "")[:200]})
    examples.sort(key=lambda e: e["key"])
    return {"compared": compared, "changed": changed, "by_change": dict(sorted(by_change.items())),
            "labels_changed": labels_changed, "only_in_a": only_a, "only_in_b": only_b,
            "examples": examples, "shown": len(examples)}


# -- the whole diff -----------------------------------------------------------------------


def _side(report: dict[str, Any], ref: str | None) -> dict[str, Any]:
    manifest = report.get("manifest") or {}
    profile = manifest.get("profile") or {}
    run = report.get("run") or {}
    out = {"ref": ref, "run": run.get("id"), "verdict": report.get("verdict"),
           "profile": {"id": profile.get("id"), "version": profile.get("version"), "sha256": profile.get("sha256")},
           "suites": {s.get("id"): s.get("sha256") for s in manifest.get("suites") or []}}
    if run.get("derived_from"):
        out["derived_from"] = run["derived_from"]
    return out


def compare(a: dict[str, Any], b: dict[str, Any], a_results: Iterable[AttemptResult] | None = None,
            b_results: Iterable[AttemptResult] | None = None, *, a_ref: str | None = None,
            b_ref: str | None = None, limit: int = EXAMPLES) -> dict[str, Any]:
    """The diff of report ``a`` and report ``b`` (see the module docstring)."""
    criteria = compare_criteria(a.get("criteria") or [], b.get("criteria") or [])
    rates = compare_rates(a.get("metrics") or {}, b.get("metrics") or {})
    cases = compare_cases(a_results, b_results, limit) if a_results is not None and b_results is not None else None
    side_a, side_b = _side(a, a_ref), _side(b, b_ref)
    notes = []
    if side_a["profile"]["sha256"] != side_b["profile"]["sha256"]:
        notes.append(f"the runs are judged by different profiles ({side_a['profile']['id']} "
                     f"{side_a['profile']['version']} and {side_b['profile']['id']} {side_b['profile']['version']})")
    differing = sorted(s for s in side_a["suites"].keys() & side_b["suites"].keys()
                       if side_a["suites"][s] != side_b["suites"][s])
    if differing:
        notes.append("suites differ between the runs: " + ", ".join(differing))
    if cases is None:
        notes.append("attempts not compared: give two run ids whose stores can be opened")
    changes = Counter(c["change"] for c in criteria)
    return {
        "a": side_a,
        "b": side_b,
        "verdict": {"a": a.get("verdict"), "b": b.get("verdict")},
        "worse": changes["worse"] > 0,
        "summary": {"criteria": {k: changes[k] for k in ("better", "worse", "same", "changed", "new")},
                    "rates": len(rates), "significant": sum(1 for r in rates if r["significant"]),
                    "cases_changed": cases["changed"] if cases else None},
        "criteria": criteria,
        "rates": rates,
        "cases": cases,
        "notes": notes,
    }


# -- finding the two runs ---------------------------------------------------------------------


@dataclass
class Side:
    """A run to compare: its report, and its store when it was found by id."""

    ref: str
    report: dict[str, Any]
    store: Any = None
    run_id: str | None = None

    def results(self) -> Iterator[AttemptResult] | None:
        return self.store.iter_results(self.run_id) if self.store is not None else None


def _report_file(path: Path) -> dict[str, Any]:
    from .files import format_problems, problems_of
    from .signing import load_report

    doc = load_report(path)
    problems = problems_of(path, path.read_text(encoding="utf-8"), doc, "report")  # readable: load_report read it
    if problems:
        raise ConfigError(f"{path} is not a valid report:\n" + format_problems(problems),
                          hint="the format is described in schemas/report.schema.json")
    return doc


def _looks_like_path(ref: str) -> bool:
    return ref.endswith(".json") or "/" in ref or "\\" in ref


@contextmanager
def open_sides(refs: list[str], out: Path, db: str | None) -> Iterator[list[Side]]:
    """Each of ``refs`` (a run id, or a report.json path or a folder holding one) as a
    :class:`Side`; stores are opened once per URL and closed at the end. A HarnessError
    for a ref that names nothing usable."""
    from .store.where import store_url
    from .store import Store

    stores: dict[str, Any] = {}
    try:
        sides = []
        for ref in refs:
            path = Path(ref)
            if path.is_dir() and (path / "report.json").is_file():
                path = path / "report.json"
            if path.is_file():
                sides.append(Side(ref, _report_file(path)))
                continue
            if _looks_like_path(ref):
                raise ConfigError(f"no report file {ref}", hint="give a run id or the path of a report.json")
            url = store_url(ref, out, db)
            if url not in stores:
                stores[url] = Store.open(url)
            record = stores[url].get_run(ref)
            if record is None:
                raise StoreError(f"no run {ref} in the store {stores[url].url}",
                                 hint="check the run id, and give the --out and --db the run was made with")
            if record.report is None:
                raise StoreError(f"run {ref} has no report yet (it is {record.status})",
                                 hint=f"finish it first: harness run --resume {ref}")
            sides.append(Side(ref, record.report, stores[url], ref))
        yield sides
    finally:
        for store in stores.values():
            store.close()


# -- printing ---------------------------------------------------------------------------------

_COLOUR = {"pass": "green", "fail": "red", "inconclusive": "yellow", None: "dim"}
_CHANGE = {"better": "green", "worse": "bold red", "same": "dim", "changed": "yellow", "new": "cyan"}


def _rate_text(rate: dict[str, Any] | None) -> str:
    if not rate:
        return "missing"
    if rate.get("value") is None:
        return "n/a"
    return f"{rate['value']:.3f} [{rate['ci_low']:.3f}, {rate['ci_high']:.3f}]"


def _diff_text(diff: dict[str, Any] | None) -> str:
    if not diff:
        return ""
    return f"{diff['gap']:+.3f} [{diff['ci_low']:+.3f}, {diff['ci_high']:+.3f}]"


#: a terminal narrower than this gets the rates as a list, a rate to a block
WIDE_TERMINAL = 120


def print_diff(diff: dict[str, Any], console: Any) -> None:
    """The diff as Rich tables: criteria, rates, changed attempts, then a one-line result."""
    from rich.table import Table

    a, b = diff["a"], diff["b"]
    table = Table(title=f"Criteria: A = {a['run'] or a['ref']} ({a['verdict']}), "
                        f"B = {b['run'] or b['ref']} ({b['verdict']})")
    for column in ("criterion", "A", "B", "change"):
        table.add_column(column, overflow="fold", no_wrap=column == "criterion")
    for c in diff["criteria"]:
        table.add_row(c["id"], f"[{_COLOUR[c['a']]}]{c['a'] or 'missing'}[/]",
                      f"[{_COLOUR[c['b']]}]{c['b'] or 'missing'}[/]", f"[{_CHANGE[c['change']]}]{c['change']}[/]")
    console.print(table)

    # every suite-level rate; below a suite, only the rates that moved or exist on one side
    shown = [r for r in diff["rates"] if r["scope"] == "suite" or r["difference"] is None
             or r["difference"]["gap"] != 0]
    title = "Rates: value [95% interval]; B - A [Newcombe's 95% interval]"
    if console.width >= WIDE_TERMINAL:
        table = Table(title=title)
        for column in ("suite", "group", "rate", "n A/B", "A", "B", "B - A", "overlap", "significant"):
            table.add_column(column, overflow="fold", no_wrap=column in ("suite", "A", "B", "B - A", "n A/B"))
    else:  # a rate to a block: which one, then A, B and the difference, each whole
        console.print(f"[bold]{title}[/]")
    for r in shown:
        group = "all" if r["scope"] == "suite" else f"{r['scope']} {r['group']}"
        significant = "" if r["significant"] is None else ("[bold]yes[/]" if r["significant"] else "no")
        overlap = "" if r["overlap"] is None else ("yes" if r["overlap"] else "no")
        n = f"{(r['a'] or {}).get('n', '-')}/{(r['b'] or {}).get('n', '-')}"
        if console.width >= WIDE_TERMINAL:
            table.add_row(r["suite"], group, r["metric"], n, _rate_text(r["a"]), _rate_text(r["b"]),
                          _diff_text(r["difference"]), overlap, significant)
            continue
        console.print(f"{r['suite']}  {group}  {r['metric']}  (n {n})", overflow="fold", highlight=False)
        console.print(f"  A {_rate_text(r['a'])}   B {_rate_text(r['b'])}", highlight=False)
        if r["difference"]:
            console.print(f"  B - A {_diff_text(r['difference'])}"
                          + (f"  intervals overlap: {overlap}" if overlap else "")
                          + (f"  significant: {significant}" if significant else ""), highlight=False)
    if console.width >= WIDE_TERMINAL:
        console.print(table)
    hidden = len(diff["rates"]) - len(shown)
    if hidden:
        console.print(f"({hidden} category and language rates that did not move are not shown; --json has all)")

    cases = diff["cases"]
    if cases is not None:
        table = Table(title=f"Attempts that changed status: {cases['changed']} of {cases['compared']} "
                            f"(showing {cases['shown']})")
        for column in ("key", "A", "B", "A label", "B label"):
            table.add_column(column, overflow="fold")
        for e in cases["examples"]:
            table.add_row(e["key"], f"[{_COLOUR[e['a']] if e['a'] != 'error' else 'magenta'}]{e['a']}[/]",
                          f"[{_COLOUR[e['b']] if e['b'] != 'error' else 'magenta'}]{e['b']}[/]",
                          e["a_label"] or "", e["b_label"] or "")
        if cases["examples"]:
            console.print(table)
        counts = ", ".join(f"{k} {v}" for k, v in cases["by_change"].items()) or "none"
        console.print(f"attempts changed: {cases['changed']} ({counts}); labels changed: {cases['labels_changed']}; "
                      f"only in A: {cases['only_in_a']}; only in B: {cases['only_in_b']}")
    for note in diff["notes"]:
        console.print(f"[bold]note:[/] {note}")
    s = diff["summary"]["criteria"]
    line = ", ".join(f"{v} {k}" for k, v in s.items() if v)
    if diff["worse"]:
        console.print(f"[bold red]WORSE[/]: B is worse than A on {s['worse']} criteria ({line})")
    else:
        console.print(f"[bold green]NOT WORSE[/]: no criterion is worse in B ({line or 'no criteria'})")
