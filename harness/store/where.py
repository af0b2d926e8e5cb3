"""Where a run's store is: the one answer every command gives.

A run made with ``--db URL`` lives in that database; otherwise in
``<out>/<run_id>/store.db``, next to its reports. A rescored run has no store of its own:
it lives in the store of the run it came from, which its ``report.json`` names in
``run.derived_from``. ``harness run --resume``, ``report``, ``rescore``, ``review``,
``diff``, ``audit`` and the pytest plugin all find a run here.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import StoreError

#: how far the derived_from chain of report.json files is followed to find a store
_MAX_CHAIN = 50

FILE = "store.db"


def own_store_url(run_dir: Path, db: str | None = None) -> str:
    """The store a run writes to: ``db`` when given, else the SQLite file in its folder."""
    return db or f"sqlite:///{run_dir / FILE}"


def store_url(run_id: str, out: Path, db: str | None) -> str:
    """The URL of the store that holds ``run_id``: ``db`` when given; else
    ``<out>/<run_id>/store.db``; else, for a rescored run, the store of the run its
    ``<out>/<run_id>/report.json`` names in ``run.derived_from``. Never creates a store:
    an unknown run is a StoreError that says which ``--out`` and ``--db`` to give."""
    if db:
        return db
    current, seen = run_id, [run_id]
    for _ in range(_MAX_CHAIN):
        path = out / current / FILE
        if path.is_file():
            return f"sqlite:///{path}"
        parent = _derived_parent(out / current / "report.json")
        if not parent or parent in seen:
            break
        seen.append(parent)
        current = parent
    raise StoreError(f"no run {run_id} under {out} (there is no {out / run_id / FILE})",
                     hint="give the --out (and --db) the run was made with, or the path of its report.json")


def _derived_parent(report_path: Path) -> str | None:
    if not report_path.is_file():
        return None
    try:
        doc = json.loads(report_path.read_text(encoding="utf-8"))
        parent = doc["run"]["derived_from"]["run"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return parent if isinstance(parent, str) else None
