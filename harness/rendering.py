"""``harness report RUN_ID``: render a stored run's report again, in any registered
format, without sending anything.

The report of record is the one stored with the run (``Store.get_run(id).report``, the
dict ``harness.report.build`` made); every format is rendered from it by the registered
reporters, exactly as at the end of the run, so the files are the same as the run's own.
A run without a stored report did not finish (it was interrupted, or is still going):
it has to be resumed first.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import PluginError, StoreError
from .files import format_problems, problems_of

if TYPE_CHECKING:
    from .plugins import Registry

DEFAULT_OUT = Path("runs")


def check_formats(formats: list[str] | None, registry: Registry) -> list[str]:
    """The formats asked for (``json``, ``md``..., already split at commas by the CLI),
    in order; every registered one when none is asked for. An unknown one is an error
    naming the known ones, before anything is written."""
    known = sorted(registry.reporters())
    wanted = list(formats or [])
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise PluginError(f"no report format {', '.join(repr(n) for n in unknown)}",
                          hint=f"use one of: {', '.join(known) or '(no reporter is registered)'}")
    return wanted or known


def _resume_command(run_id: str, out: Path, db: str | None) -> str:
    return f"harness run --resume {run_id} --out {out}" + (f" --db {db}" if db else "")


def load_report(run_id: str, *, out: Path = DEFAULT_OUT, db: str | None = None) -> dict[str, Any]:
    """The stored report of run ``run_id``, in the store that holds it (harness.store.where)."""
    from .store import Store
    from .store.where import store_url

    store = Store.open(store_url(run_id, out, db))
    try:
        record = store.get_run(run_id)
    finally:
        store.close()
    if record is None:
        raise StoreError(f"no run {run_id} in the store {store.url}",
                         hint="check the run id, and give the --out and --db the run was made with")
    if record.report is None:
        why = record.status + (f": {record.stop_reason}" if record.stop_reason else "")
        raise StoreError(f"run {run_id} has no report: it did not finish ({why})",
                         hint=f"resume it to finish it and make its report: {_resume_command(run_id, out, db)}")
    problems = problems_of(Path(f"report of run {run_id}"), "", record.report, "report")
    if problems:
        raise StoreError(f"the stored report of run {run_id} does not match schemas/report.schema.json:\n"
                         + format_problems(problems),
                         hint="it was made by another version of the harness, or changed in the store")
    return record.report


def render_stored(run_id: str, registry: Registry, *, formats: list[str] | None = None, out: Path = DEFAULT_OUT,
                  db: str | None = None, dest: Path | None = None) -> list[Path]:
    """Render the stored report of ``run_id`` in ``formats`` (default: every registered
    one) into ``dest`` (default: the run's folder, ``<out>/<run_id>``); the paths written."""
    from .report import render

    names = check_formats(formats, registry)
    report = load_report(run_id, out=out, db=db)
    folder = dest if dest is not None else out / run_id
    folder.mkdir(parents=True, exist_ok=True)
    return render(report, folder, registry, names)
