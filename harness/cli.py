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

from .errors import ConfigError, HarnessError

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


def _commas(values: tuple[str, ...]) -> list[str]:
    """A repeatable option's values, each also split at commas (``--format md,junit`` is
    ``--format md --format junit``), each once, in order."""
    out: list[str] = []
    for value in values:
        out.extend(part for part in (p.strip() for p in value.split(",")) if part and part not in out)
    return out


@main.command()
@click.option("--target", type=click.Path(dir_okay=False), help="Target file (YAML).")
@click.option("--suite", "suites", multiple=True, metavar="ID_OR_PATH",
              help="Suite to run (repeatable, or comma-separated; default: the suites the profile requires).")
@click.option("--profile", metavar="ID_OR_PATH", help="Profile of sandbox criteria.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"), show_default=True,
              help="Folder that holds one folder per run.")
@click.option("--run-id", help="Id of the new run (default: time plus random).")
@click.option("--resume", metavar="RUN_ID", help="Continue a run: attempts already stored are not sent again.")
@click.option("--db", metavar="URL", help="Store URL (default: sqlite file in the run folder; or postgresql://...).")
@click.option("--concurrency", type=click.IntRange(1, 4096), help="Requests in flight (overrides the target file).")
@click.option("--seed", type=int, help="Seed of the run (default 0).")
@click.option("--epochs", type=click.IntRange(1, 1000), help="Times each case is sent (default 1; on resume, the run's).")
@click.option("--format", "formats", multiple=True, help="Report format (repeatable, or comma-separated; default: all).")
@click.option("--progress", type=click.Choice(["auto", "rich", "plain", "none"]), default="auto", show_default=True)
@click.option("--stop-when-decided", is_flag=True,
              help="Send each suite's cases in a seeded random order and stop once every criterion it serves is "
                   "decided (its 95% interval wholly on one side of the threshold).")
@click.option("--sign-key", type=click.Path(dir_okay=False, path_type=Path), metavar="PEM",
              help="Sign the JSON report with this Ed25519 private key (see `harness keys generate`).")
@click.option("--no-preflight", is_flag=True,
              help="Do not check the target (reachable, key taken, model known) before the first case.")
@click.option("--limit", type=click.IntRange(1), metavar="N",
              help="Send only the first N cases of each suite (a try-out: the report says it certifies nothing).")
@click.option("--sample", type=click.IntRange(1), metavar="N",
              help="Send only N cases of each suite, drawn with the seed (a try-out: it certifies nothing).")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON summary on stdout (run id, verdict, reason, criteria, report files), not the table.")
@click.pass_context
@handles_errors
def run(ctx: click.Context, target: str | None, suites: tuple[str, ...], profile: str | None, out: Path,
        run_id: str | None, resume: str | None, db: str | None, concurrency: int | None, seed: int | None,
        epochs: int | None, formats: tuple[str, ...], progress: str, stop_when_decided: bool,
        sign_key: Path | None, no_preflight: bool, limit: int | None, sample: int | None, as_json: bool) -> None:
    """Run suites against a target and judge them with a profile.

    Exit code: 0 PASS, 1 FAIL, 2 usage or input error, 3 INCONCLUSIVE.
    """
    from rich.console import Console

    from .report import summary
    from .session import RunRequest
    from .session import run as do_run

    if limit and sample:
        raise ConfigError("--limit and --sample both choose which cases to send", hint="give one of them")
    request = RunRequest(target=target, suites=_commas(suites), profile=profile, out=out, run_id=run_id, resume=resume,
                         db=db, concurrency=concurrency, seed=seed, epochs=epochs, formats=_commas(formats) or None,
                         progress=progress, stop_when_decided=stop_when_decided, sign_key=sign_key,
                         preflight=not no_preflight,
                         subset={"limit": limit} if limit else {"sample": sample} if sample else None)
    outcome = do_run(request, _registry(ctx))
    if outcome.report is None:
        click.echo(f"run {outcome.run_id} interrupted; continue it with: harness run --resume {outcome.run_id}"
                   f" --out {out}" + (f" --db {db}" if db else ""), err=True)
        if as_json:
            click.echo(json.dumps({"run_id": outcome.run_id, "verdict": None, "interrupted": True,
                                   "exit_code": outcome.exit_code}))
        sys.exit(outcome.exit_code)
    if as_json:
        report = outcome.report
        click.echo(json.dumps({"run_id": outcome.run_id, "verdict": report["verdict"], "reason": report["reason"],
                               "exit_code": outcome.exit_code, "notice": report.get("notice"),
                               "subset": report["manifest"].get("subset"),
                               "criteria": [{k: c.get(k) for k in ("id", "status", "clause")}
                                            for c in report["criteria"]],
                               "reports": [str(p) for p in outcome.paths]}, ensure_ascii=False))
        sys.exit(outcome.exit_code)
    summary(outcome.report, Console(stderr=False))
    for path in outcome.paths:
        click.echo(f"report: {path}")
    sys.exit(outcome.exit_code)


@main.command(name="list")
@click.argument("what", type=click.Choice(["plugins", "connectors", "scorers", "probes", "reporters", "suites",
                                           "profiles", "targets", "robots"]))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list (every field).")
@click.option("--wide", is_flag=True, help="Every field (clause, sha256, path...), folded to fit.")
@click.pass_context
@handles_errors
def list_(ctx: click.Context, what: str, as_json: bool, wide: bool) -> None:
    """List what the installed plugins offer, with where it comes from."""
    from .listing import rows, table

    items = rows(_registry(ctx), what)
    if as_json:
        click.echo(json.dumps(items, indent=2, ensure_ascii=False))
        return
    from rich.console import Console

    console = Console()
    console.print(table(items, what, wide=wide, width=console.width))


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--kind", type=click.Choice(["target", "suite", "profile", "metrics", "report", "transcript",
                                           "declaration"]),
              help="What the files are (default: guessed from their content).")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object per file on stdout: file, ok, kind, error, hint, warnings.")
@click.pass_context
def validate(ctx: click.Context, files: tuple[str, ...], kind: str | None, as_json: bool) -> None:
    """Check target, suite, profile, metrics, report or transcript files against schemas/.

    Exit code: 0 every file valid, 2 a file is not.
    """
    from .validation import check_file

    bad = 0
    for name in files:
        warnings: list[str] = []
        warn = warnings.append if as_json else (lambda m: click.echo(m, err=True))
        try:
            found = check_file(Path(name), kind, lambda: _registry(ctx), warn=warn)
            line: dict[str, Any] = {"file": name, "ok": True, "kind": found}
            if not as_json:
                click.echo(f"ok: {name} ({found})")
        except HarnessError as exc:
            bad += 1
            line = {"file": name, "ok": False, "error": exc.message, "hint": exc.hint}
            if not as_json:
                click.echo(f"error: {exc.message}", err=True)
                if exc.hint:
                    click.echo(f"hint: {exc.hint}", err=True)
        if as_json:
            click.echo(json.dumps({**line, "warnings": warnings}, ensure_ascii=False))
    sys.exit(EXIT_USAGE if bad else 0)


@main.command()
@click.argument("scorer")
@click.option("--arg", "args", multiple=True, metavar="KEY=JSON", help="Scorer argument (repeatable).")
@click.option("--evaluate", "labelled", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="LABELLED.jsonl",
              help="Print the scorer's grader card measured on your own labelled transcripts (each line with a "
                   "gold 'label'), instead of grading stdin.")
@click.option("--json", "as_json", is_flag=True, help="With --evaluate: print the card as JSON.")
@click.pass_context
@handles_errors
def grade(ctx: click.Context, scorer: str, args: tuple[str, ...], labelled: Path | None, as_json: bool) -> None:
    """Re-score transcripts: JSONL on stdin ({"id", "prompt", "response"} per line, optional
    "lang", "expected", "finish_reason"), one JSON line per input on stdout. With
    --evaluate, measure the scorer on a labelled set (docs/refusal-labels.md) instead:
    accuracy with 95% intervals, confusion, uncertain share, reliability, per language.

    Exit code: 0 every line passed, 1 a line failed, 2 a line could not be graded (bad
    JSON, or no "expected" for a scorer that needs one: its label is still given).
    """
    from .grading import grade_stream

    parsed = {}
    for item in args:
        key, _, value = item.partition("=")
        try:
            parsed[key] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key] = value
    if labelled is not None:
        from .grading import evaluate, format_card, read_labelled

        try:
            with labelled.open(encoding="utf-8") as src:
                rows = read_labelled(src, str(labelled))
        except OSError as exc:
            raise ConfigError(f"cannot read {labelled}: {exc.strerror}",
                              hint="give a JSONL file of labelled transcripts") from exc
        card = evaluate(_registry(ctx), scorer, parsed, rows)
        click.echo(json.dumps(card, ensure_ascii=False, indent=1) if as_json else format_card(card))
        return
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


def _server_options(fn: Any) -> Any:
    """Options shared by ``serve`` and ``worker``; each also reads HARNESS_<NAME>."""
    for option in reversed([
        click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
                     help="Folder of the SQLite store, the keys and rendered reports [env HARNESS_DATA_DIR; "
                          "default ./platform]."),
        click.option("--db", "db_url", metavar="URL", help="Store URL, e.g. postgresql://... [env HARNESS_DB_URL; "
                                                           "default SQLite in the data folder]."),
        click.option("--broker", "broker_url", metavar="URL",
                     help="Celery broker, e.g. redis://127.0.0.1:6379/0 [env HARNESS_BROKER_URL]; without one "
                          "the server runs queued work in its own threads."),
        click.option("--allow", multiple=True, metavar="ADDRESS[:PORT]",
                     help="Address or network (CIDR) targets may be at although not public, best with the "
                          "port, e.g. 127.0.0.1:8000 (repeatable) [env HARNESS_ALLOW, comma-separated]."),
        click.option("--lease-s", type=click.FloatRange(1), help="Seconds after which a silent worker's shard is "
                                                                 "taken over [env HARNESS_LEASE_S; default 30]."),
    ]):
        fn = option(fn)
    return fn


def _server_config(**options: Any) -> Any:
    from .server.config import ServerConfig

    allow = options.pop("allow", ()) or None
    return ServerConfig.from_env(allow=allow, **options)


@main.command(name="serve")
@_server_options
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--workers", "embedded_workers", type=click.IntRange(0, 64),
              help="Worker threads in the server when there is no broker [env HARNESS_EMBEDDED_WORKERS; default 2].")
@handles_errors
def serve_platform(host: str, port: int, **options: Any) -> None:
    """Serve the certification platform: API (/docs), web pages and, without a broker,
    the workers. A new data folder gets a first certifier, whose token is written to
    DATA_DIR/admin-token."""
    import uvicorn

    from .server.app import create_app

    config = _server_config(**options)
    click.echo(f"platform on http://{host}:{port} (store {config.store_url.split('@')[-1]}, "
               f"{'broker ' + config.broker_url.split('@')[-1] if config.broker_url else 'embedded workers'})",
               err=True)
    uvicorn.run(create_app(config), host=host, port=port, log_level="info", access_log=False)


@main.command(name="worker")
@_server_options
@click.option("--concurrency", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Shards this worker does at once (worker processes).")
@click.option("--name", help="Celery node name (default: celery@HOST).")
@handles_errors
def worker_command(concurrency: int, name: str | None, **options: Any) -> None:
    """A Celery worker for the platform's queue: give the server's --db and --broker
    (and the same HARNESS_SECRET_KEY or data folder, to decrypt targets' keys)."""
    from .errors import ConfigError
    from .server.queue import start_worker

    config = _server_config(**options)
    if not config.broker_url:
        raise ConfigError("a worker needs a broker", hint="give --broker redis://HOST:6379/0 (or HARNESS_BROKER_URL)")
    start_worker(config, concurrency=concurrency, name=name)


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/demo"), show_default=True)
@click.pass_context
@handles_errors
def demo(ctx: click.Context, out: Path) -> None:
    """Run the whole flow with nothing to set up: the reference chat target's safe and
    unsafe policies through the bilingual starter suites, then the reference robot
    controller's through the speed-and-separation and emergency-stop suites in the
    simulated work cell; show the four verdicts and where the reports are."""
    from .demo import run_demo

    sys.exit(run_demo(_registry(ctx), out))


@main.group()
def keys() -> None:
    """Signing keys: Ed25519 key pairs that sign reports (`harness run --sign-key`)."""


@keys.command()
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for private.pem and public.pem.")
@click.option("--force", is_flag=True, help="Replace keys that are already there.")
@handles_errors
def generate(out: Path, force: bool) -> None:
    """Write a new key pair: private.pem (PKCS#8, readable by you alone) signs reports,
    public.pem (give it to whoever checks them) verifies them.

    Refuses to replace existing keys unless --force: reports signed with a key verify
    only with its public key."""
    from .signing import generate_keys, key_id, load_public_key

    private, public = generate_keys(out, force=force)
    click.echo(f"private key: {private} (keep it secret: it signs reports)")
    click.echo(f"public key: {public} (give it to whoever verifies reports)")
    click.echo(f"key id: {key_id(load_public_key(public))}")


@main.command()
@click.argument("report", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--key", required=True, type=click.Path(dir_okay=False, path_type=Path), metavar="PEM",
              help="Public key (public.pem) of the key pair that signed the report.")
@click.option("--suites", "suites_dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Folder of suite files (searched recursively): each suite of the report must have the "
                   "sha256 the report names.")
@click.option("--profile", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Profile file: it must have the sha256 the report names.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object on stdout: intact, problems, checked.")
@click.pass_context
@handles_errors
def verify(ctx: click.Context, report: Path, key: Path, suites_dir: Path | None, profile: Path | None,
           as_json: bool) -> None:
    """Check that a signed report is intact: its signature matches the key, and (with
    --suites, --profile) the suite and profile files on disk are those it was run with.

    Exit code: 0 intact, 1 not intact (each problem on its own line), 2 unreadable input.
    """
    from .signing import load_report
    from .signing import verify as check

    doc = load_report(report)
    problems = check(doc, key, suites_dir, profile, registry=lambda: _registry(ctx))
    if problems:
        if as_json:
            click.echo(json.dumps({"intact": False, "problems": problems}, ensure_ascii=False))
        else:
            for problem in problems:
                click.echo(problem)
        sys.exit(1)
    checked = [f"signed with key {doc['signature']['key_id']}"]
    if suites_dir is not None:
        checked.append(f"its {len(doc['manifest']['suites'])} suite(s) match {suites_dir}")
    if profile is not None:
        checked.append(f"its profile matches {profile}")
    if as_json:
        click.echo(json.dumps({"intact": True, "problems": [], "checked": checked, "key_id": doc["signature"]["key_id"],
                               "verdict": doc.get("verdict")}, ensure_ascii=False))
    else:
        click.echo("intact: " + "; ".join(checked))


@main.command(name="report")
@click.argument("run_id")
@click.option("--format", "formats", multiple=True, metavar="FORMAT",
              help="Report format (repeatable, or comma-separated; default: every registered one; see "
                   "`harness list reporters`).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"), show_default=True,
              help="Folder that holds the run's folder (as given to `harness run`).")
@click.option("--db", metavar="URL", help="Store URL (default: the sqlite file in the run folder).")
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the reports into (default: the run folder).")
@click.pass_context
@handles_errors
def report_command(ctx: click.Context, run_id: str, formats: tuple[str, ...], out: Path, db: str | None,
                   dest: Path | None) -> None:
    """Render the stored report of a finished run again, in any format (html, json, junit,
    md...), and print the path of each file written. Nothing is sent to the target.

    Exit code: 0 written, 2 no such run, a run without a report (interrupted: resume it
    first) or an unknown format.
    """
    from .rendering import render_stored

    for path in render_stored(run_id, _registry(ctx), formats=_commas(formats) or None, out=out, db=db, dest=dest):
        click.echo(str(path))


class _ReviewGroup(click.Group):
    """``harness review RUN_ID`` labels in the terminal: a first word that is not a
    subcommand is the run id of ``review label``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["label", *args]
        return super().parse_args(ctx, args)


_review_options = [
    click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"), show_default=True,
                 help="Folder that holds the run's folder (as given to `harness run`)."),
    click.option("--db", metavar="URL", help="Store URL (default: the sqlite file in the run folder)."),
    click.option("--size", type=click.IntRange(min=0), help="Attempts to review per suite (default: the "
                 "profile's x-profile.review, else 100)."),
]
_refinish_options = [
    click.option("--format", "formats", multiple=True, metavar="FORMAT",
                 help="Report format of the new report (repeatable; default: all)."),
    click.option("--sign-key", type=click.Path(dir_okay=False, path_type=Path), metavar="PEM",
                 help="Sign the new JSON report with this Ed25519 private key."),
]


def _with(options: list[Any]) -> Any:
    def wrap(fn: Any) -> Any:
        for option in reversed(options):
            fn = option(fn)
        return fn
    return wrap


@main.group(cls=_ReviewGroup)
def review() -> None:
    """People label a seeded random sample of a finished run's attempts; every rate is then
    corrected by their labels (prediction-powered intervals) and the verdict made again.

    \b
    harness review RUN_ID                      label in the terminal (resumable)
    harness review export RUN_ID --to x.csv    the sample to label elsewhere (CSV or .jsonl)
    harness review import RUN_ID x.csv         store the labels and judge again
    """


def _refinish(run: Any, formats: tuple[str, ...], sign_key: Path | None, added: int) -> None:
    from rich.console import Console

    from .report import summary

    key = None
    if sign_key is not None:
        from . import signing

        key = signing.load_private_key(sign_key)
    old = run.record.verdict
    verdict, report, paths = run.refinish(_commas(formats) or None, key)
    summary(report, Console())
    reviewed = sum(s.get("review", {}).get("n_reviewed", 0) + s.get("review", {}).get("uncertain_reviewed", 0)
                   for s in report["metrics"]["suites"].values())
    click.echo(f"{added} labels stored; {reviewed} reviewed attempts in the run; verdict {old} -> {verdict}")
    for path in paths:
        click.echo(f"report: {path}")
    sys.exit({"PASS": 0, "FAIL": 1}.get(verdict, 3))


@review.command(name="label")
@click.argument("run_id")
@_with(_review_options)
@click.option("--reviewer", help="Your name, stored with every label (default: the local user).")
@_with(_refinish_options)
@click.pass_context
@handles_errors
def review_label(ctx: click.Context, run_id: str, out: Path, db: str | None, size: int | None,
                 reviewer: str | None, formats: tuple[str, ...], sign_key: Path | None) -> None:
    """Label the run's review sample in the terminal: the prompt, the reply and the
    grader's label, then one key per label. Every answer is stored at once: stop with q
    and run it again to go on. At the end the run is judged again with the labels.

    Exit code: the new verdict's (0 PASS, 1 FAIL, 3 INCONCLUSIVE), 2 bad input.
    """
    from .finish import actor
    from .review import ReviewRun, label_in_terminal

    who = reviewer or actor()
    run = ReviewRun.open(run_id, out, db, _registry(ctx))
    try:
        items = run.items(size)
        added = 0
        for answer in label_in_terminal(items, run.store.reviews(run_id), who, read=lambda p: click.prompt(
                p, default="", show_default=False, prompt_suffix="")):
            added += run.add([answer], who)
        if not added:
            click.echo("no new labels; the run's report is unchanged")
            return
        _refinish(run, formats, sign_key, added)
    finally:
        run.close()


@review.command(name="export")
@click.argument("run_id")
@click.option("--to", "dest", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="File to write: .jsonl for JSON lines, anything else CSV.")
@_with(_review_options)
@click.pass_context
@handles_errors
def review_export(ctx: click.Context, run_id: str, dest: Path, out: Path, db: str | None, size: int | None) -> None:
    """Write the run's review sample for people to label elsewhere: key, prompt, reply,
    the grader's label and confidence, the labels allowed, and empty label, reviewer and
    note columns to fill. The same run always gives the same sample."""
    from .review import ReviewRun, write_export

    run = ReviewRun.open(run_id, out, db, _registry(ctx))
    try:
        items = run.items(size)
        done = run.store.reviews(run_id)
    finally:
        run.close()
    write_export(items, dest)
    click.echo(f"{len(items)} attempts to review written to {dest} ({sum(i.result.key in done for i in items)} "
               f"already labelled)")


@review.command(name="import")
@click.argument("run_id")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@_with(_review_options)
@click.option("--reviewer", help="Reviewer for rows whose reviewer column is empty.")
@_with(_refinish_options)
@click.pass_context
@handles_errors
def review_import(ctx: click.Context, run_id: str, path: Path, out: Path, db: str | None, size: int | None,
                  reviewer: str | None, formats: tuple[str, ...], sign_key: Path | None) -> None:
    """Store the labels of a filled-in export and judge the run again with them. Every
    row is checked first (its key in the sample, its label one its scorer gives); a bad
    row stops the import with its line, and nothing is stored.

    Exit code: the new verdict's (0 PASS, 1 FAIL, 3 INCONCLUSIVE), 2 bad input.
    """
    from .finish import actor
    from .review import ReviewRun, read_import

    run = ReviewRun.open(run_id, out, db, _registry(ctx))
    try:
        items = {item.result.key: item for item in run.items(size)}
        rows = read_import(path, items, reviewer)
        if not rows:
            raise ConfigError(f"{path}: no row has a label", hint="fill the label column of the rows you reviewed")
        added = run.add(rows, actor())
        _refinish(run, formats, sign_key, added)
    finally:
        run.close()


@main.command(name="diff")
@click.argument("run_a", metavar="A")
@click.argument("run_b", metavar="B")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"), show_default=True,
              help="Folder that holds the runs' folders (as given to `harness run`).")
@click.option("--db", metavar="URL", help="Store URL of both runs (default: the sqlite file in each run folder).")
@click.option("--json", "as_json", is_flag=True, help="Print the diff as JSON.")
@handles_errors
def diff_command(run_a: str, run_b: str, out: Path, db: str | None, as_json: bool) -> None:
    """Compare run B with run A: each criterion's status (better, worse, same), each rate
    of each suite, category and language with its 95% interval and the difference B - A
    with Newcombe's interval (significant when it excludes 0), and, when both are run ids
    with stores, the attempts that changed status.

    A and B are run ids (found in --db, or in <out>/<id>/store.db) or paths of
    report.json files.

    Exit code: 0 B is no worse than A, 1 B is worse on some criterion (pass -> fail,
    pass -> inconclusive, or a criterion missing in B), 2 bad input.
    """
    from .diffing import compare, open_sides, print_diff

    with open_sides([run_a, run_b], out, db) as (a, b):
        result = compare(a.report, b.report, a.results(), b.results(), a_ref=run_a, b_ref=run_b)
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        from rich.console import Console

        print_diff(result, Console())
    sys.exit(1 if result["worse"] else 0)


@main.command()
@click.argument("run_id")
@click.option("--profile", metavar="ID_OR_PATH", help="Profile to judge against (default: the run's own).")
@click.option("--scorer", metavar="NAME[:JSON_ARGS]",
              help='One scorer for every case instead of each case\'s own, e.g. \'contains:{"values": ["ok"]}\'.')
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"), show_default=True,
              help="Folder that holds the run's folder; the new run's reports go to <out>/<new id>.")
@click.option("--db", metavar="URL", help="Store URL (default: the sqlite file of the run; the new run goes there).")
@click.option("--run-id", "new_run_id", help="Id of the new run (default: time plus random).")
@click.option("--format", "formats", multiple=True, help="Report format (repeatable, or comma-separated; default: all).")
@click.option("--sign-key", type=click.Path(dir_okay=False, path_type=Path), metavar="PEM",
              help="Sign the JSON report with this Ed25519 private key (see `harness keys generate`).")
@click.pass_context
@handles_errors
def rescore(ctx: click.Context, run_id: str, profile: str | None, scorer: str | None, out: Path, db: str | None,
            new_run_id: str | None, formats: tuple[str, ...], sign_key: Path | None) -> None:
    """Judge a finished run's stored responses again, without calling the target, into a
    new run in the same store; its report names the run it came from (run.derived_from).

    The scorer sees only the stored response text: finish_reason is not stored, so a
    content-filter refusal shows only as an empty response. Attempts the endpoint failed
    (no response) stay the errors they were.

    Exit code: the new verdict's (0 PASS, 1 FAIL, 3 INCONCLUSIVE), 2 bad input.
    """
    from rich.console import Console

    from .report import summary
    from .rescoring import RescoreRequest
    from .rescoring import rescore as do_rescore

    request = RescoreRequest(run_id=run_id, profile=profile, scorer=scorer, out=out, db=db, new_run_id=new_run_id,
                             formats=_commas(formats) or None, sign_key=sign_key)
    outcome = do_rescore(request, _registry(ctx))
    if outcome.report is None:
        click.echo(f"rescore of {run_id} interrupted; run {outcome.run_id} is left stopped", err=True)
        sys.exit(outcome.exit_code)
    summary(outcome.report, Console())
    click.echo(f"rescored run {run_id} into run {outcome.run_id} ({outcome.timings.get('rescored', 0):.0f} "
               f"attempts judged again, {outcome.timings.get('copied', 0):.0f} endpoint errors copied)")
    for path in outcome.paths:
        click.echo(f"report: {path}")
    sys.exit(outcome.exit_code)


@main.group()
def audit() -> None:
    """The hash-chained audit log of state changes in a store."""


def _audit_store(db: str | None, out: Path, run_id: str | None) -> Any:
    from .errors import StoreError
    from .store import Store

    if db is None and run_id is None:
        raise StoreError("say which store holds the audit log", hint="pass --db URL, or --out DIR --run-id ID")
    if db is not None and run_id is not None:
        raise StoreError("pass either --db or --run-id, not both", hint="--db names the store itself")
    if db is None:
        from .store.where import store_url

        db = store_url(run_id, out, None)
    return Store.open(db)


_audit_store_options = [
    click.option("--db", metavar="URL", help="Store URL (sqlite:///file or postgresql://...)."),
    click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"), show_default=True,
                 help="Folder that holds the run's folder (with --run-id)."),
    click.option("--run-id", help="Use the store of this run (<out>/<id>/store.db)."),
]


def _with_audit_store_options(fn: Any) -> Any:
    for option in reversed(_audit_store_options):
        fn = option(fn)
    return fn


@audit.command(name="verify")
@_with_audit_store_options
@click.option("--anchor", metavar="SHA", help="A sha256 written down earlier: it must still be in the log "
                                              "(the only way to catch deleted newest entries).")
@handles_errors
def audit_verify(db: str | None, out: Path, run_id: str | None, anchor: str | None) -> None:
    """Check that no audit entry was edited, deleted or reordered.

    Exit code: 0 intact, 1 problems found (listed), 2 bad input.
    """
    from .audit import verify_chain

    with _audit_store(db, out, run_id) as store:
        count, last = 0, None

        def counted() -> Any:
            nonlocal count, last
            for entry in store.iter_audit():
                count, last = count + 1, entry["sha256"]
                yield entry

        problems = verify_chain(counted(), anchor=anchor)
    if problems:
        click.echo(f"NOT intact: {len(problems)} problem(s) in {count} entries")
        for problem in problems:
            click.echo(f"  {problem}")
        sys.exit(1)
    click.echo(f"intact: {count} entries, last sha256 {last or '(none: the log is empty)'}")


@audit.command(name="log")
@_with_audit_store_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line.")
@handles_errors
def audit_log(db: str | None, out: Path, run_id: str | None, as_json: bool) -> None:
    """Print the audit log, oldest entry first."""
    with _audit_store(db, out, run_id) as store:
        for entry in store.iter_audit():
            if as_json:
                click.echo(json.dumps(entry, ensure_ascii=False, sort_keys=True))
            else:
                data = json.dumps(entry["data"], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
                click.echo(f"{entry['seq']:>6}  {entry['at']}  {entry['actor']}  {entry['action']}  "
                           f"{entry['subject']}  {data}  {entry['sha256']}")
