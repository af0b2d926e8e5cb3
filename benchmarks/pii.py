"""Accuracy and speed of the ``pii`` detector (``harness_plugins.pii_scorer.detect``) on a
labelled development set, printed one figure per line:

    pii detector, id_card: precision 1.00 recall 1.00 (tp 80, fp 0, fn 0)
    ...
    pii detector, overall: precision ... recall ...
    pii detector, contains_pii: precision ... recall ... accuracy ...
    pii detector, speed: ... texts/s (... MB/s)

Run it as ``uv run python benchmarks/pii.py [--data FILE] [--errors] [--goal 0.95]``.

The data (default ``benchmarks/data/pii-dev.jsonl``) is one JSON object a line:
``{"id", "lang", "text", "kinds": [...]}``, ``kinds`` naming the kinds of personal data
the text holds (``id_card``, ``phone``, ``bank_card``, ``passport``, ``email``,
``address``; empty for a text without any). Every number in it is invented, with its
check digits computed (identity numbers, card numbers); about a third of the texts are
hard negatives: order, invoice and tracking numbers, 18-digit numbers with a wrong check
digit, region or birth date, Luhn-invalid card-like numbers, ISBNs, dates, prices,
hotlines, masked values, role mailboxes, districts without a street address.

How it counts: per text and kind. A kind is a true positive when the text is labelled
with it and the detector finds at least one value of it, a false positive when the
detector finds it in a text not labelled with it, a false negative when the label is
there and the detector finds none. ``overall`` sums the counts of all kinds (micro
average); ``contains_pii`` is the text-level decision the scorer's label makes (any
kind found vs. any kind labelled). The detector was written alongside this set, so the
figures are an upper bound of what unseen text gives; ``--errors`` lists every miss.

Speed: every text detected once to warm up, then the whole set repeatedly for at least
``--seconds`` seconds; texts per second and UTF-8 megabytes per second of one core.

Exit code: 0 when every kind meets ``--goal`` (default 0.95) in precision and recall,
1 otherwise, 2 when the data cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from harness_plugins.pii_scorer import KINDS, detect, kinds_of

DEFAULT_DATA = Path(__file__).resolve().parent / "data" / "pii-dev.jsonl"


def load(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            unknown = set(row["kinds"]) - set(KINDS)
            if unknown:
                raise ValueError(f"{path}:{number}: unknown kind(s) {sorted(unknown)}")
            rows.append(row)
    return rows


def ratio(a: int, b: int) -> float:
    return a / b if b else 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--errors", action="store_true", help="list every false positive and false negative")
    parser.add_argument("--goal", type=float, default=0.95)
    parser.add_argument("--seconds", type=float, default=1.0, help="time spent measuring speed")
    args = parser.parse_args(argv)
    try:
        rows = load(args.data)
    except (OSError, ValueError, KeyError) as exc:
        print(f"pii benchmark: cannot read {args.data}: {exc}", file=sys.stderr)
        return 2

    counts = {k: [0, 0, 0] for k in KINDS}  # tp, fp, fn
    text_tp = text_fp = text_fn = text_tn = 0
    errors: list[str] = []
    for row in rows:
        gold = set(row["kinds"])
        findings = detect(row["text"])
        found = set(kinds_of(findings))
        for k in KINDS:
            if k in gold and k in found:
                counts[k][0] += 1
            elif k in found:
                counts[k][1] += 1
                shown = ", ".join(f.value_masked for f in findings if f.kind == k)
                errors.append(f"FP {k:9} {row['id']} [{shown}] {row['text']}")
            elif k in gold:
                counts[k][2] += 1
                errors.append(f"FN {k:9} {row['id']} {row['text']}")
        if gold and found:
            text_tp += 1
        elif found:
            text_fp += 1
        elif gold:
            text_fn += 1
        else:
            text_tn += 1

    langs = sorted({r["lang"] for r in rows})
    per_lang = ", ".join(f"{sum(r['lang'] == lang for r in rows)} {lang}" for lang in langs)
    negatives = sum(not r["kinds"] for r in rows)
    print(f"pii detector, data: {len(rows)} texts ({per_lang}), {negatives} without personal data, {args.data.name}")
    met = True
    for k in KINDS:
        tp, fp, fn = counts[k]
        p, r = ratio(tp, tp + fp), ratio(tp, tp + fn)
        met &= p >= args.goal and r >= args.goal
        print(f"pii detector, {k}: precision {p:.2f} recall {r:.2f} (tp {tp}, fp {fp}, fn {fn})")
    tp, fp, fn = (sum(c[i] for c in counts.values()) for i in range(3))
    print(f"pii detector, overall: precision {ratio(tp, tp + fp):.2f} recall {ratio(tp, tp + fn):.2f} "
          f"(tp {tp}, fp {fp}, fn {fn})")
    accuracy = (text_tp + text_tn) / len(rows) if rows else 1.0
    print(f"pii detector, contains_pii: precision {ratio(text_tp, text_tp + text_fp):.2f} "
          f"recall {ratio(text_tp, text_tp + text_fn):.2f} accuracy {accuracy:.3f} "
          f"(tp {text_tp}, fp {text_fp}, fn {text_fn}, tn {text_tn})")

    texts = [r["text"] for r in rows]
    size = sum(len(t.encode("utf-8")) for t in texts)
    for t in texts:
        detect(t)
    done = 0
    start = time.perf_counter()
    while True:
        for t in texts:
            detect(t)
        done += 1
        elapsed = time.perf_counter() - start
        if elapsed >= args.seconds:
            break
    print(f"pii detector, speed: {done * len(texts) / elapsed:,.0f} texts/s "
          f"({done * size / elapsed / 1e6:.1f} MB/s, mean text {size / max(1, len(texts)):.0f} bytes)")
    print(f"pii detector: goal {args.goal:.2f} per kind {'met' if met else 'MISSED'}")
    if args.errors:
        for line in errors:
            print(line)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
