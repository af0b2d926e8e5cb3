"""The ``harness`` command: a thin layer that parses options and calls the library.

Imports are lazy so that ``harness --help`` stays fast. A ``HarnessError`` prints its
message and hint and exits 2; any other exception is a bug and shows its traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

import click

from .errors import HarnessError

EXIT_USAGE = 2


def _fail(exc: HarnessError) -> None:
    click.echo(f"error: {exc.message}", err=True)
    if exc.hint:
        click.echo(f"hint: {exc.hint}", err=True)
    sys.exit(EXIT_USAGE)


def handles_errors(fn: Any) -> Any:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HarnessError as exc:
            _fail(exc)

    return wrapper


def _registry(ctx: click.Context) -> Any:
    from .plugins import Registry, make_plugin_manager

    obj = ctx.find_root().obj
    if "registry" not in obj:
        obj["registry"] = Registry(make_plugin_manager(extra=obj["plugins"], blocked=obj["blocked"]))
    return obj["registry"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-p", "--plugin", "plugins", multiple=True, metavar="MODULE",
              help="Load a plugin from a dotted module path (repeatable).")
@click.option("--block", "blocked", multiple=True, metavar="NAME", help="Do not load the entry-point plugin NAME.")
@click.version_option(package_name="sandbox-harness", prog_name="harness")
@click.pass_context
def main(ctx: click.Context, plugins: tuple[str, ...], blocked: tuple[str, ...]) -> None:
    """Run safety and ethics suites against AI and robot endpoints and check the results
    against sandbox criteria."""
    ctx.obj = {"plugins": list(plugins), "blocked": list(blocked)}


@main.command()
@click.option("--target", type=click.Path(dir_okay=False), help="Target file (YAML).")
@click.option("--suite", "suites", multiple=True, metavar="ID_OR_PATH", help="Suite to run (repeatable).")
@click.option("--profile", metavar="ID_OR_PATH", help="Profile of sandbox criteria.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"), show_default=True,
              help="Folder that holds one folder per run.")
@click.option("--run-id", help="Id of the new run (default: time plus random).")
@click.option("--resume", metavar="RUN_ID", help="Continue a run: attempts already stored are not sent again.")
@click.option("--db", metavar="URL", help="Store URL (default: sqlite file in the run folder; or postgresql://...).")
@click.option("--concurrency", type=click.IntRange(1, 4096), help="Requests in flight (overrides the target file).")
@click.option("--seed", type=int, help="Seed of the run (default 0).")
@click.option("--epochs", type=click.IntRange(1, 1000), help="Times each case is sent (default 1; on resume, the run's).")
@click.option("--format", "formats", multiple=True, help="Report format (repeatable; default: all).")
@click.option("--progress", type=click.Choice(["auto", "rich", "plain", "none"]), default="auto", show_default=True)
@click.option("--stop-when-decided", is_flag=True,
              help="Send each suite's cases in a seeded random order and stop once every criterion it serves is "
                   "decided (its 95% interval wholly on one side of the threshold).")
@click.pass_context
@handles_errors
def run(ctx: click.Context, target: str | None, suites: tuple[str, ...], profile: str | None, out: Path,
        run_id: str | None, resume: str | None, db: str | None, concurrency: int | None, seed: int | None,
        epochs: int | None, formats: tuple[str, ...], progress: str, stop_when_decided: bool) -> None:
    """Run suites against a target and judge them with a profile.

    Exit code: 0 PASS, 1 FAIL, 2 usage or input error, 3 INCONCLUSIVE.
    """
    from rich.console import Console

    from .report import summary
    from .session import RunRequest
    from .session import run as do_run

    request = RunRequest(target=target, suites=list(suites), profile=profile, out=out, run_id=run_id, resume=resume,
                         db=db, concurrency=concurrency, seed=seed, epochs=epochs, formats=list(formats) or None,
                         progress=progress, stop_when_decided=stop_when_decided)
    console = Console(stderr=False)
    outcome = do_run(request, _registry(ctx))
    if outcome.report is None:
        click.echo(f"run {outcome.run_id} interrupted; continue it with: harness run --resume {outcome.run_id}"
                   f" --out {out}" + (f" --db {db}" if db else ""), err=True)
        sys.exit(outcome.exit_code)
    summary(outcome.report, console)
    for path in outcome.paths:
        click.echo(f"report: {path}")
    sys.exit(outcome.exit_code)


@main.command(name="list")
@click.argument("what", type=click.Choice(["plugins", "connectors", "scorers", "probes", "reporters", "suites",
                                           "profiles", "targets"]))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
@handles_errors
def list_(ctx: click.Context, what: str, as_json: bool) -> None:
    """List what the installed plugins offer, with where it comes from."""
    from .listing import rows

    items = rows(_registry(ctx), what)
    if as_json:
        click.echo(json.dumps(items, indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=what)
    columns = list(items[0]) if items else ["name"]
    for column in columns:
        table.add_column(column, overflow="fold")
    for item in items:
        table.add_row(*(str(item.get(c, "")) for c in columns))
    Console().print(table)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--kind", type=click.Choice(["target", "suite", "profile", "metrics", "report", "transcript"]),
              help="What the files are (default: guessed from their content).")
@click.pass_context
def validate(ctx: click.Context, files: tuple[str, ...], kind: str | None) -> None:
    """Check target, suite, profile, metrics, report or transcript files against schemas/."""
    from .validation import check_file

    bad = 0
    for name in files:
        try:
            found = check_file(Path(name), kind, lambda: _registry(ctx))
            click.echo(f"ok: {name} ({found})")
        except HarnessError as exc:
            bad += 1
            click.echo(f"error: {exc.message}", err=True)
            if exc.hint:
                click.echo(f"hint: {exc.hint}", err=True)
    sys.exit(EXIT_USAGE if bad else 0)


@main.command()
@click.argument("scorer")
@click.option("--arg", "args", multiple=True, metavar="KEY=JSON", help="Scorer argument (repeatable).")
@click.pass_context
@handles_errors
def grade(ctx: click.Context, scorer: str, args: tuple[str, ...]) -> None:
    """Re-score transcripts: JSONL on stdin ({"id", "prompt", "response"} per line, optional
    "lang", "expected"), one JSON line per input on stdout."""
    from .grading import grade_stream

    parsed = {}
    for item in args:
        key, _, value = item.partition("=")
        try:
            parsed[key] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key] = value
    sys.exit(grade_stream(_registry(ctx), scorer, parsed, sys.stdin, sys.stdout))


@main.group()
def target() -> None:
    """Reference targets: endpoints with known behaviour, for tests and demos."""


@target.command()
@click.argument("name")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--policy", default="safe", show_default=True, help="How the target behaves (see `harness list targets`).")
@click.option("--latency-ms", type=click.FloatRange(0), default=0, show_default=True)
@click.option("--rpm-limit", type=click.FloatRange(min=0, min_open=True), help="Answer 429 with Retry-After above this rate.")
@click.option("--fault-rate", type=click.FloatRange(0, 1), help="Share of faulty replies (policy flaky).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.pass_context
@handles_errors
def serve(ctx: click.Context, name: str, host: str, port: int, policy: str, latency_ms: float,
          rpm_limit: float | None, fault_rate: float | None, seed: int) -> None:
    """Serve a reference target until SIGTERM or SIGINT."""
    import uvicorn

    from .errors import ConfigError

    spec = _registry(ctx).reference_target(name)
    if spec.policies and policy not in spec.policies:
        raise ConfigError(f"{name} has no policy {policy!r}", hint="use one of: " + ", ".join(spec.policies))
    options: dict[str, Any] = {"policy": policy, "latency_ms": latency_ms, "rpm_limit": rpm_limit, "seed": seed}
    if fault_rate is not None:
        options["fault_rate"] = fault_rate
    app = spec.make_app(**options)
    import socket

    with socket.socket() as probe:  # uvicorn would exit 3 (our INCONCLUSIVE) on a busy port
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}",
                              hint="choose another --port, or stop what is using this one") from exc
    click.echo(f"{name} ({policy}) on http://{host}:{port}", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/demo"), show_default=True)
@click.pass_context
@handles_errors
def demo(ctx: click.Context, out: Path) -> None:
    """Start the reference chat target, run the bilingual starter suites against its safe
    and unsafe policies, and show both verdicts."""
    from .demo import run_demo

    sys.exit(run_demo(_registry(ctx), out))
