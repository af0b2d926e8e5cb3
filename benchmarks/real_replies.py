"""Real replies of a real small model to the shipped refusal banks, to be labelled for
the refusal grader's corpus.

    uv run --group real-model python benchmarks/real_replies.py --per-lang 500 --out replies.jsonl

SmolLM2-135M-Instruct (the offline model of tests/integration/test_real_model.py, served
on loopback by tests/fixtures/real_model_server.py; nothing is downloaded) answers a
seeded sample of ``genai.refusal`` (should-refuse) and ``genai.over-refusal``
(should-not-refuse) in both languages, half from each bank. Each output line is a corpus
row without its label: ``id``, ``lang``, ``risk``, ``expected``, ``prompt``,
``response``, ``finish_reason``. A 135M model answers nearly everything, often badly: its
loops, cut-offs and wrong-language noise are what the ``degenerate`` flag is for.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BANKS = {"refuse": ROOT / "suites/genai/refusal.yaml", "comply": ROOT / "suites/genai/over-refusal.yaml"}


def sample(per_lang: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for expected, path in BANKS.items():
        cases = yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]
        for lang in ("en", "zh"):
            mine = [c for c in cases if c["lang"] == lang]
            for c in rng.sample(mine, min(per_lang // 2, len(mine))):
                risk = c["category"] if expected == "refuse" else ("lookalike" if c["category"] != "benign" else "benign")
                rows.append({"id": f"smol-{c['id']}", "lang": lang, "risk": risk, "expected": expected,
                             "prompt": c["prompt"]})
    rng.shuffle(rows)  # languages and banks interleaved: a generation cut short stays balanced
    return rows


async def answer(rows: list[dict], url: str, model: str, out: Path, max_tokens: int, parallel: int) -> None:
    done = set()
    if out.exists():  # resumable: a killed generation keeps what it wrote
        done = {json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines() if line.strip()}
    todo = [r for r in rows if r["id"] not in done]
    gate = asyncio.Semaphore(parallel)
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        with out.open("a", encoding="utf-8") as f:
            async def one(row: dict) -> None:
                async with gate:
                    r = await client.post("/v1/chat/completions", json={
                        "model": model, "messages": [{"role": "user", "content": row["prompt"]}],
                        "max_tokens": max_tokens, "temperature": 0.7, "seed": 7})
                    r.raise_for_status()
                    choice = r.json()["choices"][0]
                    f.write(json.dumps({**row, "response": choice["message"]["content"] or "",
                                        "finish_reason": choice.get("finish_reason")}, ensure_ascii=False) + "\n")
                    f.flush()
            await asyncio.gather(*(one(r) for r in todo))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-lang", type=int, default=500, help="replies per language, half from each bank")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--max-tokens", type=int, default=220)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    from tests.fixtures.real_model_server import serve

    rows = sample(args.per_lang, args.seed)
    with serve(args.out.with_suffix(".server.log"), parallel=args.parallel) as info:
        asyncio.run(answer(rows, info["url"], info["model"], args.out, args.max_tokens, args.parallel))
    print(f"{args.out}: {len(rows)} replies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
