"""``harness rescore``: judge a stored run's responses again, into a new run.

Nothing is sent to the target. The stored responses of run OLD are read back from the
store, each case (prompt, expected, scorer) is rebuilt from the suites named in OLD's
manifest, and every attempt is scored again, with the case's own scorer or with one
scorer given for all (``--scorer NAME[:JSON_ARGS]``). The new results go into a NEW run
in the same store, judged against the same or another profile, and are aggregated,
evaluated, reported and rendered exactly as ``harness run`` does (:func:`finish` is that
shared tail). The new run's report and manifest say where it came from::

    "derived_from": {"run": OLD, "scorer": {"name": ..., "args": {...}} | null,
                     "profile": PROFILE_ID}

(``scorer`` null: each case's own scorer, as in OLD.)

What the scorer sees, and what it cannot:

- Only the stored response text, as ``Reply(text=response)``. The store does not keep
  the endpoint's ``finish_reason``, token counts or HTTP status, so a scorer that reads
  them sees None. In particular a refusal by the provider's content filter
  (``finish_reason: content_filter``) can be recognised on a rescore only as an empty
  response, not by its finish reason.
- An attempt with no stored response (the endpoint failed: timeout, HTTP error,
  malformed reply, connector bug) stays as it was: the same error, copied. An attempt
  whose response was stored is scored again, including one the old scorer had made an
  error of (``scorer_bug``, an unstable LLM judge): the endpoint answered, only its
  judgement failed.
- Suites must hold what they held when OLD ran (same sha256, as for ``--resume``);
  a run that sent a seeded sample (a quick profile) has the same sample rebuilt from
  its seed. The new profile's own ``sample`` setting is ignored: every stored attempt
  is judged.

Only a finished (or aborted) run can be rescored; a run still running or stopped by an
interrupt is resumed with ``harness run --resume`` first. A rescore that is itself
interrupted leaves its new run ``stopped``; start the rescore again with another
``--run-id``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import criteria
from . import manifest as manifests
from .errors import ConfigError, HarnessError, PluginError, StoreError, SuiteError
from .finish import finish, suites_info
from .models import AttemptResult, Case, Reply, Score, ScorerRef, Suite
from .observers import Observers
from .scoring import build_scorers, judge_attempt, scorer_key
from .store.where import store_url

if TYPE_CHECKING:
    from .plugins import Registry
    from .session import RunOutcome

#: attempts judged and stored per batch
BATCH = 500
#: awaitable scorers (an LLM judge) judged at once within a batch
SCORE_CONCURRENCY = 16


@dataclass
class RescoreRequest:
    """What ``harness rescore`` was asked to do."""

    run_id: str
    profile: str | None = None
    #: ``NAME`` or ``NAME:{"json": "args"}``: one scorer for every case (None: each case's own)
    scorer: str | None = None
    out: Path = Path("runs")
    db: str | None = None
    new_run_id: str | None = None
    formats: list[str] | None = None
    plugins: list[str] = field(default_factory=list)
    #: Ed25519 private key (PEM) that signs the JSON report (see harness.signing)
    sign_key: Path | None = None


# -- finding a run --------------------------------------------------------------------


def parse_scorer(spec: str) -> ScorerRef:
    """``NAME`` or ``NAME:JSON_ARGS`` (a JSON object) as a ScorerRef."""
    name, sep, raw = spec.partition(":")
    name = name.strip()
    hint = 'write --scorer NAME or --scorer \'NAME:{"arg": value}\' (see `harness list scorers`)'
    if not name:
        raise ConfigError(f"--scorer {spec!r} names no scorer", hint=hint)
    if not sep:
        return ScorerRef(name, {})
    try:
        args = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--scorer {spec!r}: the arguments are not valid JSON: {exc.msg} (column "
                          f"{exc.colno + len(name) + 1})", hint=hint) from exc
    if not isinstance(args, dict):
        raise ConfigError(f"--scorer {spec!r}: the arguments must be a JSON object, not {type(args).__name__}",
                          hint=hint)
    return ScorerRef(name, args)


# -- the shared tail of a run -----------------------------------------------------------






# -- rebuilding the run's cases -----------------------------------------------------------


def _exists(path: str | None) -> bool:
    return bool(path) and Path(path).exists()  # type: ignore[arg-type]


def _sample_size(manifest: dict[str, Any], registry: Registry) -> int | None:
    old = manifest["profile"]
    ref = old["path"] if _exists(old.get("path")) else old["id"]
    try:
        profile = criteria.resolve_profile(ref, registry)
    except HarnessError as exc:
        raise SuiteError(f"the run sent a sample of its suites, and its profile {old['id']} that says how large "
                         f"cannot be loaded: {exc.message}",
                         hint="make the run's profile findable (same path or a profile folder)") from exc
    return profile.sample_per_category


def load_cases(manifest: dict[str, Any], registry: Registry) -> list[Suite]:
    """The suites of a stored run with the very cases it sent, from the files its
    manifest names; a SuiteError when a suite has changed since."""
    from .probes import cases_sent, expand
    from .suite import resolve_suite

    seed = manifest["seed"]
    out = []
    for entry in manifest["suites"]:
        ref = entry["path"] if _exists(entry.get("path")) else entry["id"]
        suite = expand(resolve_suite(ref, registry), registry, seed)
        if suite.sha256 != entry["sha256"]:
            raise SuiteError(f"suite {entry['id']} changed since the run (sha256 {entry['sha256'][:12]}… is now "
                             f"{suite.sha256[:12]}…, version {entry['version']} is now {suite.version})",
                             hint="rescore with the suite files the run used: the stored responses answer "
                                  "their prompts")
        if len(suite.cases) != entry["cases"]:  # the run sent part of it: a quick profile's sample, --limit...
            whole = len(suite.cases)
            # the profile's sample size as the manifest of a --limit/--sample run records it (so
            # its profile's file is not needed), else as the profile says
            per = manifest["sample_per_category"] if "sample_per_category" in manifest else \
                _sample_size(manifest, registry)
            suite = cases_sent(suite, per, manifest.get("subset"), seed)
            if len(suite.cases) != entry["cases"]:
                raise SuiteError(f"suite {entry['id']}: the run had {entry['cases']} of its {whole} cases, and "
                                 f"{len(suite.cases)} can be rebuilt from its files",
                                 hint="rescore with the suite and profile files the run used")
        out.append(suite)
    return out



# -- judging again --------------------------------------------------------------------------


async def _judge(result: AttemptResult, case: Case | None, score: Callable[..., Any] | None) -> AttemptResult:
    """One stored attempt judged again (or copied: no response, nothing to judge)."""
    if result.response is None:
        return result
    if case is None or score is None:
        msg = f"the run's suites have no case {result.suite}/{result.case_id}"
        verdict = Score("error", evidence=msg)
        error, kind = msg, "unknown_case"
    else:
        verdict, error, kind = await judge_attempt(score, case, Reply(text=result.response))
    return AttemptResult.of(verdict, key=result.key, suite=result.suite, case_id=result.case_id, epoch=result.epoch,
                            category=result.category, lang=result.lang, response=result.response, error=error,
                            error_kind=kind, latency_ms=result.latency_ms, tries=result.tries)


async def rejudge(store: Any, old_id: str, new_id: str, suites: list[Suite],
                  scorers: dict[str, Callable[..., Any]], on_result: Callable[[AttemptResult], None] | None = None
                  ) -> Counter[str]:
    """Judge every stored attempt of ``old_id`` again into ``new_id``, a batch at a
    time (memory stays flat). Returns counts: ``rescored``, ``copied`` (no response)."""
    cases = {(s.id, c.id): c for s in suites for c in s.cases}
    shared = scorers.get("*")
    limit = asyncio.Semaphore(SCORE_CONCURRENCY)
    counts: Counter[str] = Counter()

    async def one(result: AttemptResult) -> AttemptResult:
        case = cases.get((result.suite, result.case_id))
        score = shared or (scorers.get(scorer_key(case.scorer)) if case else None)
        async with limit:
            return await _judge(result, case, score)

    async def flush(batch: list[AttemptResult]) -> None:
        judged = await asyncio.gather(*(one(r) for r in batch))
        store.add_results(new_id, judged)
        for old, new in zip(batch, judged, strict=True):
            counts["copied" if old.response is None else "rescored"] += 1
            if on_result:
                on_result(new)

    batch: list[AttemptResult] = []
    for result in store.iter_results(old_id):
        batch.append(result)
        if len(batch) >= BATCH:
            await flush(batch)
            batch = []
    await flush(batch)
    return counts


# -- the command --------------------------------------------------------------------------


def _manifest(old: dict[str, Any], profile: criteria.Profile, versions: dict[str, str], registry: Registry,
              derived_from: dict[str, Any]) -> dict[str, Any]:
    """OLD's manifest with what decides the new judgement in place of its own: this
    harness and its plugins, the profile, the scorers; the target, suites, seed and
    epochs stay OLD's (the responses are OLD's)."""
    import platform
    import sys

    from . import __version__

    probes = {k: v for k, v in (old.get("scorers") or {}).items() if k.startswith("probe:")}
    doc = {**old,
           "harness": {"version": __version__, "python": platform.python_version(), "platform": sys.platform},
           "plugins": registry.plugins(),
           "profile": {"id": profile.id, "version": profile.version, "sha256": profile.sha256,
                       "path": str(profile.path.resolve()) if profile.path else None},
           "scorers": {**versions, **probes},
           "created_at": manifests.now_iso(),
           "derived_from": derived_from}
    doc.pop("inputs_sha256", None)
    doc["inputs_sha256"] = manifests.inputs_sha256(doc)
    return doc


def rescore(request: RescoreRequest, registry: Registry | None = None) -> RunOutcome:
    """Judge run ``request.run_id`` again into a new run; raise ``HarnessError`` for bad
    input before anything is written."""
    from .plugins import Registry, make_plugin_manager
    from .session import EXIT, EXIT_INTERRUPTED, RunOutcome, new_run_id
    from .store import Store

    registry = registry or Registry(make_plugin_manager(extra=request.plugins))
    timings: dict[str, float] = {"start": time.monotonic()}
    override = parse_scorer(request.scorer) if request.scorer else None
    known = registry.reporters()
    unknown = [name for name in request.formats or () if name not in known]
    if unknown:
        raise PluginError(f"no report format {', '.join(repr(n) for n in unknown)}",
                          hint=f"use one of: {', '.join(sorted(known))}")
    old_id = request.run_id
    signing_key = None
    if request.sign_key is not None:  # a key that cannot sign fails now, not after the rescore
        from . import signing

        signing_key = signing.load_private_key(request.sign_key)
    store = Store.open(store_url(old_id, request.out, request.db))
    try:
        record = store.get_run(old_id)
        if record is None:
            raise StoreError(f"no run {old_id} in the store",
                             hint="check the run id, and give the same --out and --db as the run had")
        if record.status not in ("finished", "aborted"):
            raise StoreError(f"run {old_id} is {record.status}: only a finished run can be rescored",
                             hint=f"finish it first: harness run --resume {old_id} --out {request.out}")
        old = record.manifest
        suites = load_cases(old, registry)
        old_profile = old["profile"]
        profile_ref = request.profile or (old_profile["path"] if _exists(old_profile.get("path"))
                                          else old_profile["id"])
        profile = criteria.resolve_profile(profile_ref, registry)
        scorers, versions = build_scorers(suites, override, registry)
        new_id = request.new_run_id or new_run_id()
        if new_id == old_id:
            raise ConfigError(f"the new run needs its own id, not {old_id}", hint="choose another --run-id")
        run_dir = request.out / new_id
        if run_dir.exists() and any(run_dir.iterdir()):
            raise StoreError(f"{run_dir} already holds a run", hint="choose another --run-id")
        derived_from = {"run": old_id,
                        "scorer": {"name": override.name, "args": dict(override.args)} if override else None,
                        "profile": profile.id}
        manifest = _manifest(old, profile, versions, registry, derived_from)
        store.create_run(new_id, manifest, manifest["inputs_sha256"])
    except BaseException:
        store.close()
        raise
    try:
        store.set_status(new_id, "running")
        observers = Observers(registry, new_id)
        observers.started(manifest)
        on_result = observers.on_result()
        timings["ready"] = time.monotonic()
        try:
            counts = asyncio.run(rejudge(store, old_id, new_id, suites, scorers, on_result))
        except KeyboardInterrupt:
            store.set_status(new_id, "stopped", stop_reason="interrupted")
            return RunOutcome(new_id, "INCONCLUSIVE", None, run_dir, [], EXIT_INTERRUPTED, timings)
        timings.update(attempts=counts["rescored"] + counts["copied"], rescored=counts["rescored"],
                       copied=counts["copied"], last_stored=time.monotonic())
        old_run = (record.report or {}).get("run") or {}
        stopped = (record.stop_reason or "the run it is rescored from stopped early") \
            if record.status == "aborted" else None
        verdict, report, paths = finish(
            store, registry, run_id=new_id, run_dir=run_dir, manifest=manifest, profile=profile, suites=suites,
            suites_info=suites_info(suites, registry, override), epochs=old["epochs"], stopped=stopped,
            observer_errors=observers.errors,
            run_fields={"decided_early": dict(old_run.get("decided_early") or {}), "derived_from": derived_from},
            formats=request.formats, signing_key=signing_key)
        return RunOutcome(new_id, verdict, report, run_dir, paths, EXIT[verdict], timings)
    finally:
        store.close()
