"""The review protocol of the shipped question banks: a seeded sample per bank, judged by
reviewers who did not write the items, and the shares kept with the bank's version.

    uv run python benchmarks/bank_review.py draw genai.refusal [--n 120] [--seed 1]
    uv run python benchmarks/bank_review.py score REVIEWED.jsonl [REVIEWED.jsonl ...]

``draw`` writes ``data/bank-review/<suite>-<version>.sample.jsonl``: a seeded random draw
stratified by category and language (every stratum gets its share, at least one item),
one JSON object per line with the item (id, category, lang, prompt, expected) and three
fields for the reviewer to fill:

``natural``      true when the request reads as a real user would write it, in natural
                 language (for zh: natural native Chinese, no translationese)
``category_ok``  true when the item sits in the right category (for A.x.y: the right risk
                 of GB/T 45654-2025 Appendix A)
``expectation``  true when the expected behaviour is right (a should-refuse item truly
                 deserves a refusal; a should-not-refuse item a careful answer)

plus ``note`` for what is wrong. The reviewer writes the filled file as ``*.reviewed.jsonl``
(``reviewer`` names them). ``score`` prints each share with its 95% Wilson interval,
per language and overall, against the goal of 95%, and writes the summary next to the
sample as ``<suite>-<version>.review.json``: the figures travel with the bank's version.
Exit 0 whatever the figures; 1 on a malformed file.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from harness import ConfigError  # noqa: E402
from harness.files import jsonl_rows  # noqa: E402
from harness.metrics import wilson  # noqa: E402
from harness.plugins import Registry, make_plugin_manager  # noqa: E402
from harness.suite import resolve_suite  # noqa: E402

OUT = Path(__file__).resolve().parent / "data" / "bank-review"
CHECKS = ("natural", "category", "expectation")
GOAL = 0.95


def draw(suite_ref: str, n: int, seed: int) -> Path:
    suite = resolve_suite(suite_ref, Registry(make_plugin_manager()))
    strata: dict[tuple[str, str], list] = defaultdict(list)
    for case in suite.cases:
        strata[case.category, case.lang].append(case)
    rng = random.Random(f"{seed}/{suite.id}/{suite.version}")
    total = len(suite.cases)
    chosen = []
    for key in sorted(strata):
        cases = strata[key]
        k = max(1, round(n * len(cases) / total))
        chosen += rng.sample(cases, min(k, len(cases)))
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{suite.id}-{suite.version}.sample.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for c in chosen:
            f.write(json.dumps({"id": c.id, "suite": suite.id, "version": suite.version, "category": c.category,
                                "lang": c.lang, "prompt": c.prompt, "expected": c.expected, "natural": None,
                                "category_ok": None, "expectation": None, "note": ""}, ensure_ascii=False) + "\n")
    print(f"{path}: {len(chosen)} items of {total} ({len(strata)} strata, seed {seed})")
    return path


def score(paths: list[Path]) -> int:
    rows = []
    for path in paths:
        try:
            lines = list(jsonl_rows(path, path.read_text(encoding="utf-8"), ConfigError))
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 1
        for number, _, row in lines:
            bad = [k for k in ("natural", "category_ok", "expectation") if not isinstance(row.get(k), bool)]
            if bad:
                print(f"{path}:{number}: {', '.join(bad)} must be true or false (fill every field of the sample)",
                      file=sys.stderr)
                return 1
            rows.append(row)
    if not rows:
        print("no reviewed rows", file=sys.stderr)
        return 1
    by_suite: dict[tuple[str, str], list] = defaultdict(list)
    for r in rows:
        by_suite[r["suite"], r["version"]].append(r)
    for (suite, version), items in sorted(by_suite.items()):
        reviewers = sorted({r.get("reviewer", "?") for r in items})
        print(f"{suite} {version}: {len(items)} reviewed items, reviewers {', '.join(reviewers)}")
        summary: dict = {"suite": suite, "version": version, "reviewers": reviewers, "n": len(items), "shares": {}}
        for key, name in (("natural", "natural phrasing"), ("category_ok", "right category"),
                          ("expectation", "right expectation")):
            line = f"  {name:<18}"
            summary["shares"][key] = {}
            for lang in (*sorted({r["lang"] for r in items}), "all"):
                sel = [r for r in items if lang == "all" or r["lang"] == lang]
                ci = wilson(sum(r[key] for r in sel), len(sel))
                summary["shares"][key][lang] = ci
                line += f"  {lang} {ci['value']:.3f} [{ci['ci_low']:.3f}, {ci['ci_high']:.3f}]"
            met = summary["shares"][key]["all"]["value"] >= GOAL
            print(line + f"  (goal >= {GOAL:.2f}: {'met' if met else 'MISSED'})")
        for r in items:
            if not (r["natural"] and r["category_ok"] and r["expectation"]):
                print(f"    - {r['id']}: {r.get('note') or 'no note'}")
        out = OUT / f"{suite}-{version}.review.json"
        out.write_text(json.dumps(summary, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"  wrote {out}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("draw", help="write a seeded, stratified sample of a bank for review")
    d.add_argument("suite")
    d.add_argument("--n", type=int, default=120)
    d.add_argument("--seed", type=int, default=1)
    s = sub.add_parser("score", help="print and keep the shares of reviewed samples")
    s.add_argument("files", nargs="+", type=Path)
    args = ap.parse_args()
    if args.command == "draw":
        draw(args.suite, args.n, args.seed)
        return 0
    return score(args.files)


if __name__ == "__main__":
    sys.exit(main())
