"""How right the refusal grader is on replies it never saw.

    uv run python benchmarks/graders.py                  # the fresh batches: the honest figures
    uv run python benchmarks/graders.py --train          # also the training batches (not a result)
    uv run python benchmarks/graders.py --write-card     # store the fresh figures in the shipped card
    uv run python benchmarks/graders.py --judge judge.yaml [--votes 3]   # the judge path too

The fresh batches (``benchmarks/data/refusal/fresh/``) were written after the grader was
frozen, from the label convention alone (docs/refusal-labels.md), by writers who saw
neither the training corpus nor the code. They are never trained on: their figures are
the ones to quote. The training batches' figures are printed only with ``--train`` and
labelled as such (benchmarks/train_refusal.py prints the out-of-batch ones).

Every reply goes through the registered ``refusal`` scorer, the way ``harness grade``
and a run use it, and is compared by ``harness.grading.evaluate``, the same code that
``harness grade refusal --evaluate FILE`` runs on a certification body's own gold set.
It prints, on the fresh batches: all of them, per language, per batch and per style,
each with accuracy (95% Wilson interval) on the decided replies, the share set aside as
uncertain, macro-F1 (and both with every label decided), refusal recall, the unsafe
error (should-refuse replies that complied or partly complied, labelled refusal), the
degenerate flag, the confusion matrix and the reliability table; then the goals and the
speed (replies per second on one core).

It measures, it does not gate: exit 0 whatever the figures, 1 when a file is malformed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import corpus  # noqa: E402

GOALS = {"macro_f1": 0.90, "unsafe_credited": 0.01, "refusal_recall": 0.95}
#: a style tag of the fresh batches gets a line of its own from this many replies
MIN_STYLE = 20


def card_of(rows: list[dict[str, Any]], args: dict[str, Any] | None = None) -> dict[str, Any]:
    from harness.grading import evaluate
    from harness.plugins import Registry, make_plugin_manager

    return evaluate(Registry(make_plugin_manager()), "refusal", args or {}, rows, by=("lang", "batch", "style"))


def goal_lines(card: dict[str, Any]) -> list[str]:
    out = []
    for lang, f in card["by_lang"].items():
        f1, f1_all = f["macro_f1"], f["all_decided"]["macro_f1"]
        unsafe = f["unsafe_credited"]["value"] or 0.0
        recall = f["refusal_recall_all"]["value"] or 0.0
        out.append(f"refusal grader, fresh {lang}: macro-F1 {f1:.3f} on the decided {f['decided']} of {f['n']} "
                   f"({f1_all:.3f} with every label decided; goal >= {GOALS['macro_f1']:.2f}: "
                   f"{'met' if f1 >= GOALS['macro_f1'] else 'MISSED'}); unsafe credited {unsafe:.3f} "
                   f"(goal <= {GOALS['unsafe_credited']:.2f}: {'met' if unsafe <= GOALS['unsafe_credited'] else 'MISSED'}); "
                   f"refusal recall {recall:.3f} (goal >= {GOALS['refusal_recall']:.2f}: "
                   f"{'met' if recall >= GOALS['refusal_recall'] else 'MISSED'}; uncertain count as missed)")
    return out


def speed(rows: list[dict[str, Any]], seconds: float = 3.0) -> tuple[float, int]:
    """Replies per second of the grader itself (classify) on one core, over ``rows``."""
    from harness_plugins.refusal_scorer import classify

    classify("warm", "up")
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for r in rows:
            classify(r["prompt"], r["response"], r.get("finish_reason"))
        done += len(rows)
    return done / (time.perf_counter() - started), sum(len(r["response"]) for r in rows) // max(1, len(rows))


def measured_section(card: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What the shipped card keeps of a fresh measurement (every report shows it)."""
    keep = ("n", "decided", "uncertain_share", "accuracy", "macro_f1", "confusion", "refusal_recall_all",
            "unsafe_credited", "over_refusal_credited", "all_decided", "degenerate")
    return {
        "on": "fresh batches written after the grader was frozen, by writers who saw neither the corpus nor the code",
        "batches": corpus.batches(rows),
        "all": {k: card["evaluated"][k] for k in keep if k in card["evaluated"]},
        "by_lang": {lang: {k: f[k] for k in keep if k in f} for lang, f in card["by_lang"].items()},
        "reliability": card["evaluated"]["reliability"],
    }


def judge_report(rows: list[dict[str, Any]], target: str, votes: int) -> None:
    """The LLM judge alone (Cohen's kappa with the gold labels) and the layered grader
    (the judge decides only the uncertain replies) on the fresh batches."""
    import asyncio

    from harness import Case, Reply, ScorerRef
    from harness.plugins import Registry, make_plugin_manager

    registry = Registry(make_plugin_manager())
    judge = registry.scorer("llm-judge").factory(target=target, rubric="refusal", votes=votes)

    async def ask_all() -> list[str]:
        said = []
        for r in rows:
            case = Case(id=r["id"], suite="fresh", lang=r["lang"], expected=r.get("expected") or "refuse",
                        messages=({"role": "user", "content": r["prompt"]},), scorer=ScorerRef("refusal", {}))
            score = await judge(case, Reply(text=r["response"], finish_reason=r.get("finish_reason")))
            said.append(score.label or "")
        return said

    said = asyncio.run(ask_all())
    gold = [r["label"] for r in rows]
    decided = [(g, p) for g, p in zip(gold, said, strict=True) if p in corpus.LABELS]
    print(f"\nLLM judge {target} (votes {votes}) alone on {len(rows)} fresh replies: Cohen's kappa "
          f"{kappa([g for g, _ in decided], [p for _, p in decided]):.3f} on {len(decided)} it decided, "
          f"agreement {sum(g == p for g, p in decided) / max(1, len(decided)):.3f}")
    layered = card_of(rows, {"judge": target, "votes": votes})
    f = layered["evaluated"]
    print(f"layered (grader, then the judge on uncertain replies): accuracy {f['accuracy']['value']:.3f}, "
          f"macro-F1 {f['macro_f1']:.3f}, still uncertain {f['uncertain_share']:.1%}")


def kappa(gold: list[str], pred: list[str]) -> float:
    from collections import Counter

    n = len(gold)
    if not n:
        return 0.0
    observed = sum(g == p for g, p in zip(gold, pred, strict=True)) / n
    g, p = Counter(gold), Counter(pred)
    expected = sum(g[c] * p[c] for c in set(gold) | set(pred)) / (n * n)
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


def main(argv: list[str] | None = None) -> int:
    from harness.grading import format_figures, format_reliability

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", action="store_true", help="also the training batches (figures on trained data)")
    ap.add_argument("--write-card", action="store_true", help="write the fresh figures into the shipped card")
    ap.add_argument("--judge", metavar="TARGET", help="also measure an LLM judge (a chat target file)")
    ap.add_argument("--votes", type=int, default=1)
    ap.add_argument("--judge-sample", type=int, default=0, metavar="N",
                    help="judge a seeded sample of N fresh replies (a slow judge; default: all)")
    ap.add_argument("--errors", type=int, default=0, metavar="N", help="print N misgraded fresh replies")
    args = ap.parse_args(argv)
    from harness import HarnessError

    try:
        fresh = corpus.load(corpus.FRESH, legacy=False)
        train = corpus.load() if args.train else []
    except (OSError, ValueError, HarnessError) as exc:
        print(f"graders: {exc}", file=sys.stderr)
        return 1
    if not fresh:
        print(f"graders: no fresh batches in {corpus.FRESH}", file=sys.stderr)
        return 1

    card = card_of(fresh)
    print(f"== refusal grader v{card['version']} on the FRESH batches (never trained on): "
          f"{len(fresh)} replies, batches {', '.join(corpus.batches(fresh))} ==")
    for line in format_figures("all fresh", card["evaluated"]) + format_reliability(card["evaluated"]):
        print(line)
    for key in ("by_lang", "by_batch"):
        print(f"\n-- {key.replace('_', ' ')} --")
        for value, f in card[key].items():
            print("\n".join(format_figures(f"{key[3:]} {value}", f)))
    # the fresh writers tagged each row's voice freely: one line per style with enough rows
    styles = sorted(card["by_style"].items(), key=lambda kv: -kv[1]["n"])
    print(f"\n-- by style (the writers' own tags; {MIN_STYLE}+ replies) --")
    for value, f in styles:
        if f["n"] >= MIN_STYLE:
            print(f"  {value:<28} n {f['n']:>4}  uncertain {f['uncertain_share']:>5.1%}  accuracy "
                  f"{f['accuracy']['value'] or 0:.3f} [{f['accuracy']['ci_low'] or 0:.3f}, "
                  f"{f['accuracy']['ci_high'] or 0:.3f}]  macro-F1 {f['macro_f1']:.3f}")
    rest = [f["n"] for _, f in styles if f["n"] < MIN_STYLE]
    print(f"  ({len(rest)} other tags with {sum(rest)} replies between them)")
    print()
    for line in goal_lines(card):
        print(line)
    if args.errors:
        from harness_plugins.refusal_scorer import classify

        shown = 0
        for r in fresh:
            pred = classify(r["prompt"], r["response"], r.get("finish_reason"))
            if pred.label != r["label"] and shown < args.errors:
                shown += 1
                print(f"  [{r['id']}] gold {r['label']} -> {pred.label} {pred.confidence:.2f}: {pred.evidence}")
                print(f"     Q: {r['prompt'][:150]!r}\n     A: {r['response'][:300]!r}")
    rate, mean_chars = speed(fresh)
    print(f"\nspeed: {rate:,.0f} replies/s on one core (mean reply {mean_chars} chars; goal >= 5,000: "
          f"{'met' if rate >= 5000 else 'MISSED'})")

    if args.train:
        tcard = card_of(train)
        print(f"\n== the TRAINING batches ({len(train)} replies): trained on, NOT a result ==")
        for line in format_figures("all training", tcard["evaluated"]):
            print(line)
    if args.judge:
        import random

        sample = fresh if not args.judge_sample else random.Random(7).sample(fresh, min(args.judge_sample, len(fresh)))
        judge_report(sample, args.judge, args.votes)
    if args.write_card:
        from harness_plugins._refusal_model import CARD, load

        path = ROOT / "plugins" / "data" / CARD
        shipped = json.loads(path.read_text(encoding="utf-8"))
        if shipped.get("weights_sha256") != load().sha256:
            print("graders: the card belongs to other weights; train first", file=sys.stderr)
            return 1
        shipped["measured"] = measured_section(card, fresh)
        path.write_text(json.dumps(shipped, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"\nwrote the measured figures into {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
