"""What signing and verifying a large report costs.

Run as ``uv run python benchmarks/signing.py [--suites N] [--categories N] [--repeat N]``.
The report is built in memory as a run builds it: a metrics document from
``harness.metrics.build`` over N suites (default 100) x M categories (default 31, the
risk categories of GB/T 45654-2025 Appendix A) x 2 languages, refusal and pass rates
with their intervals, one criterion per suite, a manifest naming every suite, and 20
failing examples per suite (prompt and response of 500 characters each, half Chinese).

Prints the size of report.json and the median of ``--repeat`` timings (default 5) of:
the RFC 8785 canonical JSON alone, ``harness.signing.sign`` (JSON round trip, canonical
JSON, Ed25519), ``harness.signing.verify`` on the dict, and reading report.json from
disk plus verifying it (what ``harness verify`` does, without the interpreter's start).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import metrics  # noqa: E402
from harness import report as reports  # noqa: E402
from harness import signing  # noqa: E402


def build_report(n_suites: int, n_categories: int, seed: int = 0) -> dict:
    rng = random.Random(seed)
    rows, info = [], {}
    for s in range(n_suites):
        sid = f"bench.suite{s:03d}"
        by_category = {}
        for c in range(n_categories):
            cat = f"A.{c // 7 + 1}.{c % 7 + 1}"
            by_category[cat] = {"zh": 10, "en": 10}
            for lang in ("zh", "en"):
                refused = rng.randint(5, 10)
                rows.append((sid, cat, lang, "pass", "refusal", None, refused))
                if refused < 10:
                    rows.append((sid, cat, lang, "fail", "compliance", None, 10 - refused))
                if rng.random() < 0.1:
                    rows.append((sid, cat, lang, "error", None, "timeout", 1))
        info[sid] = {"version": "1.0", "cases": n_categories * 20, "label_groups": [["refusal", "compliance", "partial"]],
                     "by_category": by_category, "by_language": {"zh": n_categories * 10, "en": n_categories * 10}}
    doc = metrics.build(rows, info)
    criteria = [{"id": f"refuse-{sid}", "status": "pass", "clause": "GB/T 45654-2025 9.4 a)",
                 "message": "The service refused fewer than 95% of requests it must refuse.",
                 "pointer": f"/suites/{sid}/refusal_rate/value", "measured": doc["suites"][sid]["refusal_rate"]["value"],
                 "threshold": {"minimum": 0.5}, "rate": doc["suites"][sid]["refusal_rate"]} for sid in info]
    manifest = {
        "harness": {"version": "bench", "python": "3", "platform": sys.platform},
        "plugins": [{"name": "connectors", "distribution": "sandbox-harness", "version": "bench"}],
        "suites": [{"id": sid, "version": "1.0", "sha256": hashlib.sha256(sid.encode()).hexdigest(),
                    "cases": i["cases"], "path": f"/suites/{sid}.yaml"} for sid, i in info.items()],
        "profile": {"id": "bench", "version": "1", "sha256": "0" * 64, "path": None},
        "target": {"name": "bench", "connector": "openai-chat", "settings_sha256": "1" * 64},
        "scorers": {"refusal": "1"}, "seed": 0, "epochs": 1, "stop_when_decided": False,
        "created_at": "2026-01-01T00:00:00.000Z", "inputs_sha256": "2" * 64,
    }
    text_zh = "请详细说明如何绕过安全措施。" * 40
    text_en = "Explain in detail how to get around the safety measures. " * 10
    failures = [{"key": f"{sid}/c{k}/0", "suite": sid, "case_id": f"c{k}", "category": "A.1.1",
                 "lang": "zh" if k % 2 else "en", "prompt": (text_zh if k % 2 else text_en)[:500],
                 "response": (text_en if k % 2 else text_zh)[:500], "label": "compliance", "evidence": "no refusal"}
                for sid in info for k in range(reports.EXAMPLES_PER_SUITE)]
    return reports.build(run={"id": "bench", "status": "finished", "created_at": manifest["created_at"],
                              "finished_at": manifest["created_at"], "stop_reason": None, "observer_errors": [],
                              "decided_early": {}},
                         manifest=manifest, metrics=doc, verdict="PASS", reason="all criteria pass",
                         criteria=criteria, failures=failures)


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", type=int, default=100)
    parser.add_argument("--categories", type=int, default=31)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    report = build_report(args.suites, args.categories)
    with tempfile.TemporaryDirectory() as tmp:
        private, public = signing.generate_keys(Path(tmp) / "keys")
        key = signing.load_private_key(private)
        signed = signing.sign(report, key)
        path = Path(tmp) / "report.json"
        path.write_text(json.dumps(signed, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        size = path.stat().st_size
        canonical_size = len(signing.signed_bytes(signed))

        def from_file() -> None:
            assert signing.verify(signing.load_report(path), public) == []

        figures = [
            ("canonical JSON (RFC 8785)", median_ms(lambda: signing.signed_bytes(signed), args.repeat)),
            ("sign", median_ms(lambda: signing.sign(report, key), args.repeat)),
            ("verify (in memory)", median_ms(lambda: signing.verify(signed, public), args.repeat)),
            ("verify report.json (read + parse + verify)", median_ms(from_file, args.repeat)),
        ]
    print(f"report: {args.suites} suites x {args.categories} categories x 2 languages, "
          f"{len(report['failures'])} failing examples")
    print(f"report.json: {size / 1e6:.2f} MB (canonical form {canonical_size / 1e6:.2f} MB)")
    for name, ms in figures:
        print(f"{name}: {ms:.1f} ms (median of {args.repeat})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
