"""Accuracy of the rule-based graders on labelled development sets.

Run it as ``uv run python benchmarks/graders.py [--split all|tune|holdout] [--errors N]
[--judge TARGET --votes N]``. With ``--judge`` it also measures an LLM judge (any chat
target file): its agreement and Cohen's kappa with the labels, how many of its verdicts
were unstable, and the layered grader (rules, then the judge).

The refusal grader
------------------
``benchmarks/data/refusal-dev.{en,zh}.jsonl`` hold hand-written prompt/response pairs,
one JSON object a line: ``id``, ``lang``, ``prompt``, ``response``, optional
``finish_reason``, ``label`` (``refusal``, ``compliance`` or ``partial``) and ``kind`` (a
short tag of the phenomenon: ``safer-answer``, ``quoted-refusal``...).

Every reply goes through the real plugin registry, the way ``harness grade`` does it
(``harness/grading.py``): the ``refusal`` scorer is looked up in
``Registry(make_plugin_manager())``, built with its factory, and called with a ``Case``
and a ``Reply``; the label it gives is compared with the dev set's.

For each language, then for both together, it prints: n, accuracy, per-class precision,
recall and F1, macro-F1 (the unweighted mean of the three F1s), the confusion matrix
(rows: the dev set's label, columns: the grader's) and the kinds with the highest error
rate. One line per language states the goal: ``refusal grader, zh: macro-F1 0.93 (goal
>= 0.90: met)``.

Tuning and held-out figures
---------------------------
Every third line of each file, by id order (the 3rd, 6th, 9th...), is held out: the
classifier's tables were tuned on the other two thirds only. The summary prints
macro-F1 and accuracy on the tuning part, the held-out part and the whole set;
``--split`` chooses which part the detailed report covers (default: the whole set).

The metrics are computed here (no scikit-learn). A class that is never predicted has
precision 0 (not undefined), as is a class with no gold example for recall.

The script measures, it does not gate: it exits 0 whatever the figures (the test
``tests/plugins/test_refusal_devset.py`` is the gate) and 1 only when a data file is
missing or malformed or the plugin registry does not load.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere in the checkout
    sys.path.insert(0, str(ROOT))

DATA = Path(__file__).resolve().parent / "data"
LABELS = ("refusal", "compliance", "partial")
LANGS = ("en", "zh")
GOAL = 0.90
MIN_ROWS = 420
#: the dev set's label -> what a case of the harness would expect (partial passes none).
_EXPECT = {"refusal": "refuse", "compliance": "comply", "partial": "refuse"}
_FIELDS = {"id", "lang", "prompt", "response", "finish_reason", "label", "kind"}


def devset_path(lang: str) -> Path:
    return DATA / f"refusal-dev.{lang}.jsonl"


def load_devset(lang: str, path: Path | None = None) -> list[dict[str, Any]]:
    """The rows of one language's dev set, sorted by id. Raises ``ValueError`` naming
    the line on the first malformed one."""
    path = path or devset_path(lang)
    rows = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path.name} line {number}: not JSON: {exc.msg}") from exc
            problems = row_problems(row, lang)
            if problems:
                raise ValueError(f"{path.name} line {number}: {'; '.join(problems)}")
            rows.append(row)
    return sorted(rows, key=lambda r: r["id"])


def row_problems(row: Any, lang: str) -> list[str]:
    """What is wrong with one dev-set row (empty when nothing)."""
    if not isinstance(row, dict):
        return ["not a JSON object"]
    out = []
    missing = {"id", "lang", "prompt", "response", "label", "kind"} - row.keys()
    if missing:
        out.append(f"missing {', '.join(sorted(missing))}")
    extra = row.keys() - _FIELDS
    if extra:
        out.append(f"unknown field(s) {', '.join(sorted(extra))}")
    for key in ("id", "prompt", "response", "kind"):
        if key in row and not isinstance(row[key], str):
            out.append(f"{key} is not a string")
    for key in ("id", "prompt", "kind"):
        if isinstance(row.get(key), str) and not row[key].strip():
            out.append(f"{key} is empty")
    if "lang" in row and row["lang"] != lang:
        out.append(f"lang {row['lang']!r}, expected {lang!r}")
    if "label" in row and row["label"] not in LABELS:
        out.append(f"label {row['label']!r} is not one of {', '.join(LABELS)}")
    if row.get("finish_reason") is not None and not isinstance(row["finish_reason"], str):
        out.append("finish_reason is not a string")
    return out


def split(rows: Sequence[dict[str, Any]], part: str) -> list[dict[str, Any]]:
    """``tune`` (two thirds), ``holdout`` (every third row by id order) or ``all``."""
    ordered = sorted(rows, key=lambda r: r["id"])
    if part == "all":
        return list(ordered)
    held = part == "holdout"
    return [r for i, r in enumerate(ordered) if (i % 3 == 2) == held]


# ---------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------


@dataclass
class Report:
    n: int
    accuracy: float
    precision: dict[str, float]
    recall: dict[str, float]
    f1: dict[str, float]
    support: dict[str, int]
    macro_f1: float
    #: confusion[gold][predicted] = count
    confusion: dict[str, dict[str, int]]
    #: (kind, errors, n, the wrong labels given) for kinds with at least one error, worst first
    worst_kinds: list[tuple[str, int, int, Counter]] = field(default_factory=list)


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def metrics(gold: Sequence[str], pred: Sequence[str], kinds: Sequence[str] | None = None) -> Report:
    """Accuracy, per-class precision/recall/F1, macro-F1 and the confusion matrix."""
    if len(gold) != len(pred):
        raise ValueError("gold and predicted labels differ in length")
    confusion = {g: {p: 0 for p in LABELS} for g in LABELS}
    for g, p in zip(gold, pred, strict=True):
        confusion[g][p] += 1
    precision, recall, f1, support = {}, {}, {}, {}
    for c in LABELS:
        tp = confusion[c][c]
        predicted = sum(confusion[g][c] for g in LABELS)
        actual = sum(confusion[c].values())
        precision[c] = _ratio(tp, predicted)
        recall[c] = _ratio(tp, actual)
        pr = precision[c] + recall[c]
        f1[c] = 2 * precision[c] * recall[c] / pr if pr else 0.0
        support[c] = actual
    correct = sum(confusion[c][c] for c in LABELS)
    worst: list[tuple[str, int, int, Counter]] = []
    if kinds is not None:
        by_kind: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for k, g, p in zip(kinds, gold, pred, strict=True):
            by_kind[k].append((g, p))
        for k, pairs in by_kind.items():
            wrong = Counter(f"{g}->{p}" for g, p in pairs if g != p)
            errors = sum(wrong.values())
            if errors:
                worst.append((k, errors, len(pairs), wrong))
        worst.sort(key=lambda t: (-t[1] / t[2], -t[1], t[0]))
    return Report(
        n=len(gold), accuracy=_ratio(correct, len(gold)), precision=precision, recall=recall, f1=f1,
        support=support, macro_f1=sum(f1.values()) / len(LABELS), confusion=confusion, worst_kinds=worst,
    )


# ---------------------------------------------------------------------------
# Grading through the plugin registry
# ---------------------------------------------------------------------------


def refusal_grader() -> Callable[[dict[str, Any]], tuple[str, str]]:
    """A function grading one dev-set row through the registered ``refusal`` scorer,
    built as ``harness grade`` builds it: (label, evidence)."""
    from harness import Case, Reply, ScorerRef
    from harness.plugins import Registry, make_plugin_manager

    spec = Registry(make_plugin_manager()).scorer("refusal")
    fn = spec.factory()

    def grade(row: dict[str, Any]) -> tuple[str, str]:
        case = Case(id=str(row["id"]), suite="refusal-dev", messages=({"role": "user", "content": row["prompt"]},),
                    expected=_EXPECT[row["label"]], scorer=ScorerRef("refusal", {}), lang=row["lang"])
        reply = Reply(text=row["response"] or "", finish_reason=row.get("finish_reason"))
        score = fn(case, reply)
        return score.label or "", score.evidence

    return grade


def evaluate(rows: Iterable[dict[str, Any]], grade: Callable[[dict[str, Any]], tuple[str, str]]) -> tuple[Report, list]:
    """The report of ``grade`` on ``rows`` and the misclassified rows with evidence."""
    rows = list(rows)
    graded = [grade(r) for r in rows]
    pred = [label for label, _ in graded]
    report = metrics([r["label"] for r in rows], pred, [r["kind"] for r in rows])
    errors = [(r, label, ev) for r, (label, ev) in zip(rows, graded, strict=True) if label != r["label"]]
    return report, errors


# ---------------------------------------------------------------------------
# Printing
# ---------------------------------------------------------------------------


def goal_line(name: str, report: Report) -> str:
    met = "met" if report.macro_f1 >= GOAL else "MISSED"
    return f"refusal grader, {name}: macro-F1 {report.macro_f1:.2f} (goal >= {GOAL:.2f}: {met})"


def print_report(name: str, report: Report, out=sys.stdout) -> None:
    w = out.write
    w(f"\n== refusal grader, {name} ==\n")
    w(f"n {report.n}, accuracy {report.accuracy:.3f}, macro-F1 {report.macro_f1:.3f}\n")
    w(f"  {'class':<11} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}\n")
    for c in LABELS:
        w(f"  {c:<11} {report.precision[c]:>9.3f} {report.recall[c]:>7.3f} {report.f1[c]:>6.3f} {report.support[c]:>8}\n")
    w("  confusion (rows: dev-set label, columns: grader's label)\n")
    w(f"  {'':<11}" + "".join(f"{c:>12}" for c in LABELS) + "\n")
    for g in LABELS:
        w(f"  {g:<11}" + "".join(f"{report.confusion[g][p]:>12}" for p in LABELS) + "\n")
    if report.worst_kinds:
        w("  worst-misclassified kinds (errors/n: wrong labels)\n")
        for kind, errors, n, wrong in report.worst_kinds[:10]:
            detail = ", ".join(f"{k} x{v}" for k, v in wrong.most_common())
            w(f"    {kind:<28} {errors:>3}/{n:<3} {detail}\n")
    else:
        w("  no kind misclassified\n")
    w(goal_line(name, report) + "\n")


def cohen_kappa(gold: Sequence[str], pred: Sequence[str]) -> float:
    """Cohen's kappa: agreement beyond what the two label distributions give by chance."""
    n = len(gold)
    if not n:
        return 0.0
    observed = sum(g == p for g, p in zip(gold, pred, strict=True)) / n
    g_counts, p_counts = Counter(gold), Counter(pred)
    expected = sum(g_counts[c] * p_counts[c] for c in set(gold) | set(pred)) / (n * n)
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


def judge_report(data: dict[str, list[dict[str, Any]]], target: str, votes: int) -> None:
    """The LLM judge's reliability on the dev set: agreement and Cohen's kappa with the
    labels, how many verdicts were unstable (split votes), and the layered grader
    (rules, then the judge) as a whole."""
    import asyncio

    from harness import Case, Reply, ScorerRef
    from harness.plugins import Registry, make_plugin_manager

    registry = Registry(make_plugin_manager())
    judge = registry.scorer("llm-judge").factory(target=target, rubric="refusal", votes=votes)
    layered = registry.scorer("refusal").factory(judge=target, votes=votes)

    async def grade_all(rows: list[dict[str, Any]], fn: Any) -> list[str]:
        labels = []
        for row in rows:
            case = Case(id=str(row["id"]), suite="refusal-dev", lang=row["lang"], expected=_EXPECT[row["label"]],
                        messages=({"role": "user", "content": row["prompt"]},), scorer=ScorerRef("refusal", {}))
            score = await fn(case, Reply(text=row["response"] or "", finish_reason=row.get("finish_reason")))
            labels.append(score.label or "")
        return labels

    print(f"\nLLM judge {target} (votes {votes}) on the dev sets")
    for lang in LANGS:
        rows = data[lang]
        gold = [r["label"] for r in rows]
        said = asyncio.run(grade_all(rows, judge))
        decided = [(g, p) for g, p in zip(gold, said, strict=True) if p in LABELS]
        unstable = sum(p == "unstable" for p in said)
        kappa = cohen_kappa([g for g, _ in decided], [p for _, p in decided])
        agree = sum(g == p for g, p in decided) / len(decided) if decided else 0.0
        print(f"llm judge, {lang}: Cohen's kappa {kappa:.3f}, agreement {agree:.3f} on {len(decided)} decided, "
              f"{unstable} unstable, {len(rows) - len(decided) - unstable} unreadable")
        both = asyncio.run(grade_all(rows, layered))
        report = metrics(gold, both, [r["kind"] for r in rows])
        print(f"refusal grader with the judge, {lang}: macro-F1 {report.macro_f1:.3f}, accuracy {report.accuracy:.3f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("all", "tune", "holdout"), default="all",
                        help="which part of the dev sets the detailed report covers (default: all)")
    parser.add_argument("--errors", type=int, default=0, metavar="N",
                        help="also print up to N misclassified rows per language, with evidence")
    parser.add_argument("--judge", metavar="TARGET",
                        help="also measure an LLM judge (a target file): Cohen's kappa with the labels")
    parser.add_argument("--votes", type=int, default=1, help="votes per judged reply (default 1)")
    args = parser.parse_args(argv)

    try:
        data = {lang: load_devset(lang) for lang in LANGS}
    except (OSError, ValueError) as exc:
        print(f"graders: {exc}", file=sys.stderr)
        return 1
    try:
        grade = refusal_grader()
    except Exception as exc:  # a plugin that does not load is reported, not a traceback
        print(f"graders: the plugin registry does not load: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1

    print("refusal grader: macro-F1 and accuracy by split (tuning: 2/3 by id, held out: every 3rd id)")
    print(f"  {'':<8} {'tuning':>16} {'held out':>16} {'whole set':>16}")
    for name, rows in [*data.items(), ("overall", [r for lang in LANGS for r in data[lang]])]:
        cells = []
        for part in ("tune", "holdout", "all"):
            if name == "overall":
                chosen = [r for lang in LANGS for r in split(data[lang], part)]
            else:
                chosen = split(rows, part)
            rep, _ = evaluate(chosen, grade)
            cells.append(f"{rep.macro_f1:.3f} / {rep.accuracy:.3f}")
        print(f"  {name:<8} {cells[0]:>16} {cells[1]:>16} {cells[2]:>16}")
    print("  (each cell: macro-F1 / accuracy)")

    lines = []
    all_rows: list[dict[str, Any]] = []
    for lang in LANGS:
        rows = split(data[lang], args.split)
        all_rows += rows
        report, errors = evaluate(rows, grade)
        label = lang if args.split == "all" else f"{lang} ({args.split})"
        print_report(label, report)
        lines.append(goal_line(label, report))
        for row, got, evidence in errors[: args.errors]:
            print(f"    [{row['id']} {row['kind']}] {row['label']} -> {got}: {evidence}")
            print(f"       {json.dumps(row['response'][:300], ensure_ascii=False)}")
    report, _ = evaluate(all_rows, grade)
    label = "overall" if args.split == "all" else f"overall ({args.split})"
    print_report(label, report)
    lines.append(goal_line(label, report))

    print()
    for line in lines:
        print(line)
    if args.judge:
        judge_report(data, args.judge, args.votes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
