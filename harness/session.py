"""One run from files to verdict: check every input, open or resume the run in the
store, send the attempts, aggregate, judge, report.

All input is checked before anything is written, so a bad file leaves no trace.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import sys
import time
import zlib
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import criteria, signing
from . import manifest as manifests
from .decide import Decider
from .errors import ConfigError, StoreError
from .finish import actor, finish, suites_info
from .models import Suite, Target
from .observers import Observers
from .plugins import Registry, make_plugin_manager
from .probes import cases_sent, expand
from .probes import versions as probe_versions
from .runner import Progress, Runner, WorkItem
from .scoring import build_scorers, scorer_key
from .store import where
from .suite import resolve_suite
from .targets import load_target, make_client

EXIT = {"PASS": 0, "FAIL": 1, "INCONCLUSIVE": 3}
EXIT_INTERRUPTED = 130


@dataclass
class RunRequest:
    """What ``harness run`` was asked to do."""

    target: str | None = None
    suites: list[str] = field(default_factory=list)
    profile: str | None = None
    out: Path = Path("runs")
    run_id: str | None = None
    resume: str | None = None
    db: str | None = None
    concurrency: int | None = None
    seed: int | None = None
    #: times each case is sent; None: 1 for a new run, the run's own on resume
    epochs: int | None = None
    plugins: list[str] = field(default_factory=list)
    formats: list[str] | None = None
    #: "auto" (Rich on a terminal, plain lines otherwise), "rich", "plain" or "none"
    progress: str = "auto"
    #: stop each suite once every criterion it serves is decided (see harness.decide)
    stop_when_decided: bool = False
    #: Ed25519 private key (PEM) that signs the JSON report (see harness.signing)
    sign_key: Path | None = None
    #: check the target once before the first case (its connector's ``preflight``)
    preflight: bool = True
    #: send only part of each suite: {"limit": N} (its first N cases) or {"sample": N} (N
    #: drawn with the seed); the report says the run certifies nothing (see probes.subset)
    subset: dict[str, int] | None = None


@dataclass
class RunOutcome:
    run_id: str
    verdict: str
    report: dict[str, Any] | None
    run_dir: Path
    paths: list[Path]
    exit_code: int
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class Plan:
    target: Target
    suites: list[Suite]
    profile: criteria.Profile
    scorers: dict[str, Callable[..., Any]]
    scorer_versions: dict[str, str]


def new_run_id(random_bytes: int = 3) -> str:
    """Time plus random hex: sorts by time; the service asks for more random bytes, so
    that one run's id says nothing of another's."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(random_bytes)


def prepare(target_path: str | Target, suite_ids: list[str], profile_id: str, registry: Registry,
            concurrency: int | None = None, seed: int = 0, part: dict[str, int] | None = None) -> Plan:
    """Load and check everything a run needs; raise a ``HarnessError`` naming the file
    and line of the first bad input. The target is a file's path or a checked Target."""
    profile = criteria.resolve_profile(profile_id, registry)
    if not suite_ids:  # the suites the profile requires, as it names them
        suite_ids = criteria.required_suites(profile)
        if not suite_ids:
            raise ConfigError(f"no suite given, and profile {profile.id} requires none by name",
                              hint="add --suite ID_OR_PATH (see `harness list suites`)")
    target = target_path if isinstance(target_path, Target) else load_target(Path(target_path), registry)
    if concurrency:
        target = replace(target, settings={**target.settings, "concurrency": concurrency})
    suites = [expand(resolve_suite(s, registry), registry, seed) for s in suite_ids]
    ids = [s.id for s in suites]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"a suite is given twice: {', '.join(sorted({i for i in ids if ids.count(i) > 1}))}",
                          hint="give each suite once")
    # a quick profile runs a seeded sample of every suite; --limit / --sample a part of it
    suites = [cases_sent(s, profile.sample_per_category, part, seed) for s in suites]
    if profile.search:  # the profile sets how hard every falsification pass searches
        suites = [replace(s, cases=tuple(
            replace(c, scenario={**c.scenario, "search": {**c.scenario["search"], **profile.search}})
            if c.scenario and "search" in c.scenario else c for c in s.cases)) for s in suites]
    scorers, versions = build_scorers(suites, None, registry)
    versions.update({f"probe:{name}": v for name, v in probe_versions(suites, registry).items()})
    return Plan(target, suites, profile, scorers, versions)


def in_shard(key: str, shard: tuple[int, int] | None) -> bool:
    """Whether the attempt ``key`` belongs to shard ``(index, count)``: a stable hash of
    the key, so every worker splits a run the same way."""
    return shard is None or zlib.crc32(key.encode()) % shard[1] == shard[0]


def work(plan: Plan, epochs: int, done: set[str], *, shuffle_seed: int | None = None,
         skip: Container[str] = (), shard: tuple[int, int] | None = None) -> tuple[Iterator[WorkItem], int]:
    """The attempts still to make, lazily, and how many there are. The key of an
    attempt is stable: suite, case id and epoch. With ``shuffle_seed`` each suite's
    cases go in a seeded random order (a fair sample at every point, for
    ``--stop-when-decided``); cases of a suite in ``skip`` (a live set) are not sent;
    with ``shard`` only the attempts of that shard (see :func:`in_shard`)."""
    if done or shard:
        total = sum(1 for e in range(epochs) for s in plan.suites for c in s.cases
                    if f"{s.id}/{c.id}/{e}" not in done and in_shard(f"{s.id}/{c.id}/{e}", shard))
    else:
        total = epochs * sum(len(s.cases) for s in plan.suites)
    orders = {s.id: list(s.cases) for s in plan.suites}
    if shuffle_seed is not None:
        for suite_id, cases in orders.items():
            random.Random(f"{shuffle_seed}/{suite_id}/order").shuffle(cases)

    def items() -> Iterator[WorkItem]:
        for epoch in range(epochs):
            for suite in plan.suites:
                for case in orders[suite.id]:
                    if suite.id in skip:
                        break
                    key = f"{suite.id}/{case.id}/{epoch}"
                    if key not in done and (shard is None or in_shard(key, shard)):
                        yield key, case, epoch, plan.scorers[scorer_key(case.scorer)]

    return items(), total




def _open_store(url: str | None, run_dir: Path) -> Any:
    from .store import Store
    from .store.where import own_store_url

    return Store.open(own_store_url(run_dir, url))




def _progress_display(mode: str, progress: Progress, label: str) -> tuple[Callable[[], None], Callable[[], None]]:
    """(start, stop) of the progress display: Rich bar on a terminal, plain lines in CI."""
    if mode == "auto":
        mode = "rich" if sys.stderr.isatty() and not os.environ.get("CI") else "plain"
    if mode == "none":
        return (lambda: None), (lambda: None)
    task_holder: dict[str, Any] = {}

    def line() -> str:
        p = progress
        elapsed = max(1e-9, time.monotonic() - p.started)
        rate = p.done / elapsed
        eta = (p.total - p.done) / rate if rate else float("inf")
        return (f"{label}: {p.done}/{p.total} done, {p.errors} errors, {rate:.0f}/s, "
                f"ETA {eta:.0f}s" if eta != float("inf") else f"{label}: {p.done}/{p.total} done")

    async def plain() -> None:
        last = -1
        while True:
            await asyncio.sleep(5)
            if progress.done != last:
                print(line(), file=sys.stderr, flush=True)
                last = progress.done

    async def rich() -> None:
        from rich.progress import BarColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        with Bar(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                 TextColumn("[red]{task.fields[errors]} errors"), TextColumn("{task.fields[rate]}/s"),
                 TimeRemainingColumn(), transient=False) as bar:
            task = bar.add_task(label, total=progress.total, errors=0, rate=0)
            try:
                while True:
                    elapsed = max(1e-9, time.monotonic() - progress.started)
                    bar.update(task, completed=progress.done, errors=progress.errors,
                               rate=f"{progress.done / elapsed:.0f}")
                    await asyncio.sleep(0.2)
            finally:
                bar.update(task, completed=progress.done, errors=progress.errors)

    def start() -> None:
        task_holder["t"] = asyncio.get_running_loop().create_task(rich() if mode == "rich" else plain())

    def stop() -> None:
        task = task_holder.get("t")
        if task:
            task.cancel()
        if mode == "plain":
            print(line(), file=sys.stderr, flush=True)

    return start, stop




async def _send(plan: Plan, run_id: str, store: Any, seed: int, epochs: int, done: set[str],
                registry: Registry, progress_mode: str, observers: Observers,
                decider: Decider | None) -> tuple[Runner, Progress]:
    skip = decider.stopped if decider else ()
    items, total = work(plan, epochs, done, shuffle_seed=seed if decider else None, skip=skip)
    progress = Progress(total=total)
    on_result = observers.on_result(*([decider.add] if decider else []))
    client = make_client(plan.target)
    try:
        connector = registry.connector(plan.target.connector).factory(plan.target, client)
        runner = Runner(run_id=run_id, connector=connector, settings=dict(plan.target.settings), store=store,
                        seed=seed, progress=progress, on_result=on_result)
        start, stop = _progress_display(progress_mode, progress, run_id)
        start()
        try:
            await runner.execute(items)
        finally:
            stop()
    finally:
        await client.aclose()
    return runner, progress


async def preflight(target: Target, registry: Registry, policy: Any = None) -> None:
    """The target's connector checks, once, that the endpoint is reachable, takes the
    key and knows the model (connectors that can, e.g. openai-chat); a misconfiguration
    is a ConfigError, a usage error, in seconds rather than after a run of failures."""
    client = make_client(target, policy)
    try:
        connector = registry.connector(target.connector).factory(target, client)
        check = getattr(connector, "preflight", None)
        if check is not None:
            await check()
    finally:
        await client.aclose()


def _loop_runner() -> Callable[[Any], Any]:
    try:  # uvloop makes the harness's own cost per case smaller where it is installed
        import uvloop

        return uvloop.run
    except ImportError:  # pragma: no cover
        return asyncio.run


def run(request: RunRequest, registry: Registry | None = None) -> RunOutcome:
    """Do one run (or resume one) and return its outcome. Raises ``HarnessError`` for bad
    input before anything is written."""
    registry = registry or Registry(make_plugin_manager(extra=request.plugins))
    timings: dict[str, float] = {"start": time.monotonic()}
    resume_id = request.resume
    store = None
    if resume_id:
        run_dir = request.out / resume_id
        if not request.db and not (run_dir / where.FILE).exists():
            raise StoreError(f"no run {resume_id} under {request.out}",
                             hint="give the same --out (and --db) as the run you resume")
        store = _open_store(request.db, run_dir)
        record = store.get_run(resume_id)
        if record is None:
            store.close()
            raise StoreError(f"no run {resume_id} in the store",
                             hint="check the run id, and give the same --out and --db as the run had")
        old = record.manifest
        target_path = request.target or old["target"].get("path")
        suite_ids = request.suites or [s["path"] or s["id"] for s in old["suites"]]
        profile_id = request.profile or old["profile"].get("path") or old["profile"]["id"]
        seed = request.seed if request.seed is not None else old["seed"]
        epochs = request.epochs or old["epochs"]
        part = request.subset or old.get("subset")
        run_id = resume_id
    else:
        if not (request.target and request.profile):
            raise ConfigError("a run needs --target and --profile (and --suite, unless the profile's own)",
                              hint="see `harness run --help`")
        target_path, suite_ids, profile_id = request.target, request.suites, request.profile
        seed = request.seed if request.seed is not None else 0
        epochs = request.epochs or 1
        part = request.subset
        run_id = request.run_id or new_run_id()
        run_dir = request.out / run_id
    try:
        signing_key = None
        if request.sign_key is not None and part:
            raise ConfigError("a run that sends only part of each suite (--limit, --sample) cannot be signed: it "
                              "certifies nothing", hint="leave out --sign-key, or run the whole suites")
        if request.sign_key is not None:  # a key that cannot sign fails now, not after the run
            signing_key = signing.load_private_key(request.sign_key)
            try:
                signing.canonical_json({"seed": seed})
            except ValueError as exc:
                raise ConfigError(f"a signed report cannot hold seed {seed}: {exc}",
                                  hint="give a --seed within +/-(2**53 - 1)") from exc
        plan = prepare(target_path, suite_ids, profile_id, registry, request.concurrency, seed, part)
        if request.preflight:
            _loop_runner()(preflight(plan.target, registry))
        manifest = manifests.build(target=plan.target, suites=plan.suites, profile=plan.profile, seed=seed,
                                   epochs=epochs, registry=registry, scorers=plan.scorer_versions,
                                   stop_when_decided=request.stop_when_decided if not resume_id
                                   else old.get("stop_when_decided", False), subset=part)
        if resume_id:
            changed = manifests.drift(old, manifest)
            if changed:
                raise StoreError(f"run {run_id} cannot be resumed: its inputs changed: " + "; ".join(changed),
                                 hint="resume with the same files, or start a new run")
            manifest = old
            done = store.done_keys(run_id)
        else:
            if not request.db and run_dir.exists() and any(run_dir.iterdir()):
                raise StoreError(f"{run_dir} already holds a run", hint="choose another --run-id, or --resume it")
            run_dir.mkdir(parents=True, exist_ok=True)
            store = _open_store(request.db, run_dir)
            store.create_run(run_id, manifest, manifest["inputs_sha256"])
            store.append_audit(actor(), "run.requested", run_id, {"inputs_sha256": manifest["inputs_sha256"],
                                                                   "profile": manifest["profile"]["id"]})
            done = set()
    except BaseException:
        if store is not None:
            store.close()
        raise
    try:
        store.set_status(run_id, "running")
        store.append_audit(actor(), "run.resumed" if resume_id else "run.started", run_id, {"done": len(done)})
        observers = Observers(registry, run_id)
        observers.started(manifest)
        timings["ready"] = time.monotonic()
        info = suites_info(plan.suites, registry)
        decider = None
        if manifest.get("stop_when_decided"):
            decider = Decider(plan.profile, info, epochs, store.iter_results(run_id) if done else ())
            decider.check()
        runner, progress = _loop_runner()(
            _send(plan, run_id, store, seed, epochs, done, registry, request.progress, observers, decider))
        timings.update(first_request=progress.first_request or 0.0, last_stored=progress.last_stored or 0.0,
                       attempts=progress.done)
        if runner.fatal:  # a usage error met mid-run: fix it and resume; nothing was judged
            store.set_status(run_id, "stopped", stop_reason=runner.stopped)
            store.append_audit(actor(), "run.stopped", run_id, {"reason": runner.stopped})
            env = plan.target.settings.get("api_key_env")
            raise ConfigError(f"run {run_id} stopped: the endpoint refused the key"
                              f"{f' in {env}' if env else ''}: {runner.fatal}",
                              hint=f"fix the target's key, then: harness run --resume {run_id} --out {request.out}")
        if runner.interrupted:
            store.set_status(run_id, "stopped", stop_reason="interrupted")
            store.append_audit(actor(), "run.stopped", run_id, {"reason": "interrupted"})
            return RunOutcome(run_id, "INCONCLUSIVE", None, run_dir, [], EXIT_INTERRUPTED, timings)
        verdict, report, paths = finish(
            store, registry, run_id=run_id, run_dir=run_dir, manifest=manifest, profile=plan.profile,
            suites=plan.suites, suites_info=info, epochs=epochs, stopped=runner.stopped,
            observer_errors=observers.errors, run_fields={"decided_early": dict(decider.stopped) if decider else {}},
            formats=request.formats, signing_key=signing_key)
        return RunOutcome(run_id, verdict, report, run_dir, paths, EXIT[verdict], timings)
    finally:
        store.close()
