"""``harness grade``: score transcripts offline, one JSON line in, one out."""

from __future__ import annotations

import asyncio
import inspect
import json
from typing import IO, Any

from .files import problems_of
from .models import Case, Reply, ScorerRef
from .plugins import Registry


def grade_stream(registry: Registry, scorer: str, args: dict[str, Any], src: IO[str], dst: IO[str]) -> int:
    """Grade every line of ``src``; a bad line gets an ``error`` line, not a stop.
    Returns the exit code: 0 when every line could be graded, 2 otherwise. Scorers that
    ask another endpoint (an LLM judge) are awaited in one event loop."""
    fn = registry.build("scorer", scorer, args)
    return asyncio.run(_grade(fn, scorer, args, src, dst))


async def _grade(fn: Any, scorer: str, args: dict[str, Any], src: IO[str], dst: IO[str]) -> int:
    bad = 0
    for number, line in enumerate(src, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            problems = problems_of("stdin", "", row, "transcript")  # type: ignore[arg-type]
        except json.JSONDecodeError as exc:
            row, problems = {}, [f"line {number}: not valid JSON: {exc.msg}"]
        if problems:
            bad += 1
            dst.write(json.dumps({"id": row.get("id"), "line": number, "status": "error",
                                  "error": "; ".join(str(p) for p in problems)}, ensure_ascii=False) + "\n")
            continue
        case = Case(id=str(row["id"]), suite="transcript", messages=({"role": "user", "content": row["prompt"]},),
                    expected=row.get("expected", args.get("expected")), scorer=ScorerRef(scorer, args),
                    lang=row.get("lang", "und"))
        reply = Reply(text=row["response"] or "", finish_reason=row.get("finish_reason"),
                      status_code=row.get("status_code"))
        score = fn(case, reply)
        if inspect.isawaitable(score):
            score = await score
        out = {"id": row["id"], "label": score.label, "score": score.value, "status": score.status,
               "evidence": score.evidence, **score.details}
        dst.write(json.dumps(out, ensure_ascii=False) + "\n")
    dst.flush()
    return 2 if bad else 0
