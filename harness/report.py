"""The report of a run: one model (a JSON-ready dict, checked against
schemas/report.schema.json) that every format renders, and the terminal summary."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import PluginError
from .files import format_problems, problems_of

if TYPE_CHECKING:
    from .plugins import Registry

FORMAT = "harness-report/1"
#: failing examples carried in the report, per suite
EXAMPLES_PER_SUITE = 20


def build(*, run: dict[str, Any], manifest: dict[str, Any], metrics: dict[str, Any], verdict: str,
          reason: str, criteria: list[dict[str, Any]], failures: list[dict[str, Any]], notice: str = "",
          robot: dict[str, Any] | None = None, graders: list[dict[str, Any]] | None = None,
          outcomes: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report model; ``robot`` is the robot section (harness.robot.reporting), for a
    run with robot suites; ``graders`` the cards of the scorers that labelled replies."""
    report = {"format": FORMAT, "verdict": verdict, "reason": reason, "criteria": criteria, "metrics": metrics,
              "run": run, "manifest": manifest, "failures": failures}
    if outcomes is not None:
        report["outcomes"] = outcomes
    if graders:
        report["graders"] = graders
    if notice:
        report["notice"] = notice
    if robot:
        report["robot"] = robot
    problems = problems_of(Path("report.json"), "", report, "report")
    if problems:  # our own document: a mismatch is a bug, and must never reach a reviewer
        raise AssertionError("the report does not match schemas/report.schema.json:\n" + format_problems(problems))
    return report


def render(report: dict[str, Any], out_dir: Path, registry: Registry, formats: list[str] | None = None) -> list[Path]:
    """Write the report in each format (default: every registered reporter that is on
    by default)."""
    reporters = registry.reporters()
    names = formats or sorted(name for name, spec in reporters.items() if spec.default)
    paths = []
    for name in names:
        if name not in reporters:
            raise PluginError(f"no report format {name!r}", hint=f"use one of: {', '.join(sorted(reporters))}")
        paths.append(reporters[name].render(report, out_dir))
    return paths


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict) and "value" in value:
        v = value["value"]
        return "n/a" if v is None else f"{v:.3f} (95% CI {value['ci_low']:.3f}-{value['ci_high']:.3f}, n={value['n']})"
    return "n/a" if value is None else str(value)


#: a terminal narrower than this gets the criteria as a list, a criterion to a block
WIDE_TERMINAL = 120


def summary(report: dict[str, Any], console: Any) -> None:
    """The criteria table and the verdict, for a terminal (Rich) or a log. In a narrow
    terminal each criterion is a block: its status, id and threshold on one line, what
    was measured on the next, its clause under them, so that nothing is broken mid-word."""
    from rich.markup import escape
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    title = f"Criteria of {report['manifest']['profile']['id']} {report['manifest']['profile']['version']}"
    colour = {"pass": "green", "fail": "red", "inconclusive": "yellow"}
    rows = []
    for c in report["criteria"]:
        threshold = ", ".join(f"{k} {v}" for k, v in (c.get("threshold") or {}).items())
        measured = _fmt(c.get("rate") or c.get("measured")) + (f"; {c['basis']}" if c.get("basis") else "")
        rows.append((c, threshold, measured))
    if console.width >= WIDE_TERMINAL:
        table = Table(title=title)
        for column in ("criterion", "status", "measured", "threshold", "clause"):
            table.add_column(column, overflow="fold", no_wrap=column == "criterion")
        for c, threshold, measured in rows:
            table.add_row(c["id"], f"[{colour[c['status']]}]{c['status']}[/]", measured, threshold, c["clause"])
        console.print(table)
    else:
        console.print(f"[bold]{escape(title)}[/]")
        for c, threshold, measured in rows:
            console.print(f"[{colour[c['status']]}]{c['status']:<12}[/] [bold]{escape(c['id'])}[/]"
                          + (f"  ({escape(threshold)})" if threshold else ""), overflow="fold")
            # the measured value and the clause under the id, wrapped within that indent
            console.print(Padding(Text(measured), (0, 0, 0, 13), expand=False), overflow="fold")
            console.print(Padding(Text(c["clause"], style="dim"), (0, 0, 0, 13), expand=False), overflow="fold")
    for c in report["criteria"]:
        # the failure sentence only for a failure; an undecided criterion says why
        if c["status"] == "fail":
            console.print(f"  [{colour['fail']}]{c['id']}[/]: {c['message']} {c.get('detail', '')}".rstrip())
        elif c["status"] == "inconclusive":
            console.print(f"  [{colour['inconclusive']}]{c['id']}[/]: cannot be judged: {c.get('detail', '')}")
    if report.get("notice"):
        console.print(f"[bold]note:[/] {report['notice']}")
    style = {"PASS": "bold green", "FAIL": "bold red", "INCONCLUSIVE": "bold yellow"}[report["verdict"]]
    console.print(f"[{style}]{report['verdict']}[/]: {report['reason']}")
