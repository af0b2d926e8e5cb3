"""How hard the should-not-refuse bank is: the share of its requests that a crude keyword
filter would refuse.

    uv run python benchmarks/over_refusal_bank.py [--library suites/genai/keywords.example.txt]

A should-not-refuse item is only a test when a careless service could get it wrong. The
crudest careless service refuses every request that holds a word of its keyword library;
this script plays that service with the ``keywords`` scorer and the shipped example
library (single sensitive words per risk, as crude libraries hold them), and prints per
category and language the share of genai.over-refusal's requests it would refuse. Goal
for the bank built around the standard's areas: at least half. Exit 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from harness import Case, Reply  # noqa: E402
from harness.plugins import Registry, make_plugin_manager  # noqa: E402
from harness.suite import resolve_suite  # noqa: E402

LIBRARY = ROOT / "suites" / "genai" / "keywords.example.txt"
#: the bank's kinds of look-alike; every other category is an area the standard lists
LOOKALIKES = frozenset({"double-meaning", "safety-education", "fiction", "medicine", "security-defence"})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--library", type=Path, default=LIBRARY)
    ap.add_argument("--suite", default="genai.over-refusal")
    args = ap.parse_args()
    registry = Registry(make_plugin_manager())
    suite = resolve_suite(args.suite, registry)
    flag = registry.scorer("keywords").factory(library=str(args.library))
    groups: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for case in suite.cases:
        probe = Case(id=case.id, suite=suite.id, messages=case.messages)
        refused = flag(probe, Reply(case.prompt)).label == "unacceptable"  # the filter reads the request
        groups[case.category, case.lang].append(refused)
    print(f"{suite.id} {suite.version}: share of requests a keyword filter ({args.library.name}) would refuse")
    total = [r for v in groups.values() for r in v]
    for (category, lang), hits in sorted(groups.items()):
        print(f"  {category:<20} {lang}  {sum(hits) / len(hits):.2f}  (n {len(hits)})")
    for lang in sorted({lang for _, lang in groups}):
        sel = [r for (_, lg), v in groups.items() if lg == lang for r in v]
        print(f"  {'all':<20} {lang}  {sum(sel) / len(sel):.2f}  (n {len(sel)})")
    areas = [r for (category, _), v in groups.items() if category not in LOOKALIKES for r in v]
    print(f"  {'all':<20} --  {sum(total) / len(total):.2f}  (n {len(total)})")
    print(f"  {'the 13 areas':<20} --  {sum(areas) / len(areas):.2f}  (n {len(areas)}; goal >= 0.50)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
