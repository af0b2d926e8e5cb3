"""Accuracy of the ``ai-disclosure`` scorer on labelled replies it was not written against.

    uv run python benchmarks/disclosure.py [FILE.jsonl ...] [--errors N]

Each line of a file is one labelled pair: ``id``, ``lang``, ``style``, ``prompt`` (what
the user asked), ``response`` and ``label`` (``discloses``, ``denies`` or ``evades``). The
files of ``data/disclosure/`` were each written by a writer who saw neither the code nor
its tests, from a one-page statement of the labels, after the version they measured was
committed:

* ``d01.jsonl`` (240) measured the first request-aware commit (accuracy 0.725); its
  misses then shaped the answer reading (negated and tag questions, either-or
  questions, the request's own words in the answer), so it is development data now;
* ``d02.jsonl`` (200) was read only after that was committed: its figure is the honest one.
  As first measured: accuracy 0.810 [0.750, 0.858] (en 0.770, zh 0.850), macro-F1 0.812,
  against 0.600 with the request left unread; every miss was a disclosure or a denial
  read as ``evades`` (34 of 38), never a denial read as a disclosure (0 of 60): the
  scorer fails a service that discloses in words it does not know, it does not pass
  one that denies.

Every reply is scored twice through the registry, as ``harness run`` does it: with its
request (version 2 reads an elliptical "Yep!" in the light of "Are you a bot?") and with
an empty request (what is left when the request is not read). Printed per language and in all: accuracy with
its Wilson interval, macro-F1, per-label recall, the confusion matrix, and how many
replies only the request decided. It measures; it does not gate: exit 0 whatever the
figures, 1 when a file is missing or malformed.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from harness import Case, ConfigError, Reply
from harness.files import jsonl_rows
from harness.metrics import wilson
from harness.plugins import Registry, make_plugin_manager

DATA = Path(__file__).resolve().parent / "data" / "disclosure"
LABELS = ("discloses", "denies", "evades")


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    f1s = []
    for c in LABELS:
        tp = sum(g == c and p == c for g, p in pairs)
        pp, gp = sum(p == c for _, p in pairs), sum(g == c for g, _ in pairs)
        prec, rec = tp / max(1, pp), tp / max(1, gp)
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return sum(f1s) / len(f1s)


def report(name: str, pairs: list[tuple[str, str]]) -> None:
    n = len(pairs)
    ok = sum(g == p for g, p in pairs)
    ci = wilson(ok, n)
    lo, hi = ci["ci_low"], ci["ci_high"]
    recall = ", ".join(f"{c} {sum(g == c == p for g, p in pairs) / max(1, sum(g == c for g, _ in pairs)):.2f}"
                       for c in LABELS)
    print(f"  {name:<16} n {n:>4}  accuracy {ok / n:.3f} [{lo:.3f}, {hi:.3f}]  macro-F1 {macro_f1(pairs):.3f}"
          f"  recall: {recall}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", type=Path, default=[DATA / "d02.jsonl"])
    ap.add_argument("--errors", type=int, default=0, help="print up to N misread replies")
    args = ap.parse_args()
    rows = []
    for path in args.files:
        if not path.exists():
            print(f"{path}: no such file", file=sys.stderr)
            return 1
        try:
            lines = list(jsonl_rows(path, path.read_text(encoding="utf-8"), ConfigError))
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 1
        for line, _, row in lines:
            if row.get("label") not in LABELS or not isinstance(row.get("response"), str):
                print(f"{path}:{line}: not a labelled row (needs prompt, response, label in {LABELS})",
                      file=sys.stderr)
                return 1
            rows.append(row)
    score = Registry(make_plugin_manager()).scorer("ai-disclosure").factory()
    with_request, without, errors = [], [], []
    for r in rows:
        case = Case(id=r.get("id", "?"), suite="disclosure", lang=r.get("lang"),
                    messages=({"role": "user", "content": r.get("prompt") or ""},))
        blank = Case(id=r.get("id", "?"), suite="disclosure", lang=r.get("lang"),
                     messages=({"role": "user", "content": ""},))
        got = score(case, Reply(r["response"]))
        with_request.append((r.get("lang"), r["label"], got.label))
        without.append((r.get("lang"), r["label"], score(blank, Reply(r["response"])).label))
        if got.label != r["label"]:
            errors.append((r, got))
    print(f"ai-disclosure on {len(rows)} labelled replies ({', '.join(str(p) for p in args.files)})")
    for title, results in (("with the request (version 2)", with_request), ("without the request", without)):
        print(title)
        for lang in ("en", "zh"):
            report(lang, [(g, p) for lg, g, p in results if lg == lang])
        report("all", [(g, p) for _, g, p in results])
    print("confusion with the request (rows: gold; columns: " + ", ".join(LABELS) + ")")
    counts = Counter((g, p) for _, g, p in with_request)
    for g in LABELS:
        print(f"    {g:<10}" + "".join(f"{counts[(g, p)]:>8}" for p in LABELS))
    decided = sum(a[2] != b[2] for a, b in zip(with_request, without, strict=True))
    print(f"replies whose label the request changed: {decided}")
    for r, got in errors[: args.errors]:
        print(f"- {r.get('id')} gold {r['label']}, got {got.label}: {r.get('prompt')!r} -> {r['response'][:120]!r}"
              f"\n    {got.evidence}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
