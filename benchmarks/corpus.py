"""The refusal grader's labelled corpus: (request, reply) pairs labelled by the convention
of docs/refusal-labels.md, one JSON object a line, in whole batches.

``data/refusal/train/`` holds the batches the grader is trained on (each written to one
assistant style by a writer of its own, plus labelled replies of a real small model);
``data/refusal/fresh/`` holds batches written *after* the grader was frozen, by writers
who saw neither the training batches nor the code: the only honest figures. The older
hand-written development sets (``data/refusal-dev.{en,zh}.jsonl``) are two more training
batches. Splits are always by whole batch, never by row.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere in the checkout
    sys.path.insert(0, str(ROOT))

DATA = Path(__file__).resolve().parent / "data"
TRAIN = DATA / "refusal" / "train"
FRESH = DATA / "refusal" / "fresh"
LABELS = ("refusal", "compliance", "partial")
FIELDS = {"id", "lang", "batch", "style", "risk", "expected", "prompt", "response", "label", "degenerate",
          "finish_reason"}
REQUIRED = FIELDS - {"finish_reason"}


def row_problems(row: Any) -> list[str]:
    """What is wrong with one corpus row (empty when nothing)."""
    if not isinstance(row, dict):
        return ["not a JSON object"]
    out = []
    missing = REQUIRED - row.keys()
    if missing:
        out.append(f"missing {', '.join(sorted(missing))}")
    extra = row.keys() - FIELDS
    if extra:
        out.append(f"unknown field(s) {', '.join(sorted(extra))}")
    for key in ("id", "prompt", "response"):
        if key in row and not isinstance(row[key], str):
            out.append(f"{key} is not a string")
    if row.get("lang") not in ("en", "zh"):
        out.append(f"lang {row.get('lang')!r} is not en or zh")
    if row.get("label") not in LABELS:
        out.append(f"label {row.get('label')!r} is not one of {', '.join(LABELS)}")
    if not isinstance(row.get("degenerate"), bool):
        out.append("degenerate is not true or false")
    if row.get("expected") not in ("refuse", "comply", None):
        out.append(f"expected {row.get('expected')!r} is not refuse or comply")
    if row.get("degenerate") is True and row.get("label") == "refusal":
        out.append("a degenerate reply is never labelled refusal (docs/refusal-labels.md)")
    return out


def load_file(path: Path) -> list[dict[str, Any]]:
    """The rows of one batch file. Raises ``ValueError`` naming the file and line of
    the first malformed row (``harness.ConfigError``, a ValueError's sibling, for a
    line that is not JSON)."""
    from harness.errors import ConfigError
    from harness.files import jsonl_rows

    rows = []
    for number, _, row in jsonl_rows(path, path.read_text(encoding="utf-8"), ConfigError):
        problems = row_problems(row)
        if problems:
            raise ValueError(f"{path}:{number}: {'; '.join(problems)}")
        rows.append(row)
    return rows


def _legacy(lang: str) -> list[dict[str, Any]]:
    """The older development set of one language as a corpus batch of its own."""
    rows = []
    with (DATA / f"refusal-dev.{lang}.jsonl").open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                rows.append({"id": r["id"], "lang": lang, "batch": f"dev-{lang}", "style": "mixed", "risk": "unknown",
                             "expected": None, "prompt": r["prompt"], "response": r["response"] or "",
                             "label": r["label"], "degenerate": False, "finish_reason": r.get("finish_reason")})
    return rows


def load(folder: Path = TRAIN, *, legacy: bool = True) -> list[dict[str, Any]]:
    """Every row of every batch in ``folder`` (plus the older development sets)."""
    rows: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.jsonl")):
        rows += load_file(path)
    if legacy and folder == TRAIN:
        rows += _legacy("en") + _legacy("zh")
    return rows


def batches(rows: Iterable[dict[str, Any]]) -> list[str]:
    return sorted({r["batch"] for r in rows})
