"""The life of a run asked for through the service.

``request_run`` checks everything and queues the run (nothing is sent inside the API
request); ``execute_shard`` is what a worker does with one shard, under a lease it
renews every few seconds; the last shard to finish sending finishes the run (metrics,
verdict, signed report). The database is the only source of truth: the queue (threads
or Celery) only says "look at shard i of run r", so a message delivered twice, or a
worker killed at any moment, costs nothing but the lease's wait. Results are keyed per
attempt and inserted with ON CONFLICT DO NOTHING, so no attempt is recorded twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from dataclasses import dataclass
from typing import Any, Literal

from harness import manifest as manifests
from harness.criteria import resolve_profile
from harness.errors import ConfigError, HarnessError
from harness.finish import finish, suites_info
from harness.observers import Observers
from harness.runner import Progress, Runner
from harness.session import Plan, new_run_id, preflight, prepare, work
from harness.targets import make_client

from ..errors import Conflict, Forbidden
from .repo import FINAL_STATES, Caller
from .service import Service

log = logging.getLogger("harness.server.jobs")

Outcome = Literal["done", "busy", "gone"]


def worker_name() -> str:
    """Who holds a lease: host, process and thread, unique while it lives."""
    import threading

    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


@dataclass
class RunAsk:
    """A run request as the API takes it."""

    target_id: str
    suites: list[str]
    profile: str
    seed: int = 0
    epochs: int = 1
    shards: int = 1
    concurrency: int | None = None


def _plan(svc: Service, target_row: dict[str, Any], request: dict[str, Any]) -> tuple[Plan, dict[str, Any]]:
    """The run's plan and manifest, as this process builds them from the pinned request."""
    plan = prepare(svc.target_of(target_row), [svc.ref_path(s) for s in request["suites"]],
                   svc.ref_path(request["profile"]), svc.registry, request.get("concurrency"), request["seed"])
    manifest = manifests.build(target=plan.target, suites=plan.suites, profile=plan.profile, seed=request["seed"],
                               epochs=request["epochs"], registry=svc.registry, scorers=plan.scorer_versions)
    return plan, manifest


def request_run(svc: Service, caller: Caller, ask: RunAsk) -> dict[str, Any]:
    """Check the run and queue it: a bad suite, profile or target is refused here,
    before anything is stored. Returns the job row; the caller enqueues its shards."""
    p = svc.platform
    target_row = p.get_target(ask.target_id, caller)
    if not 1 <= ask.shards <= svc.config.max_shards:
        raise ConfigError(f"shards must be between 1 and {svc.config.max_shards}", hint="ask for fewer shards")
    request = {"suites": [svc.pin("suite", s) for s in ask.suites], "profile": svc.pin("profile", ask.profile),
               "seed": ask.seed, "epochs": ask.epochs, "concurrency": ask.concurrency}
    plan, manifest = _plan(svc, target_row, request)
    run_id = new_run_id(8)
    total = ask.epochs * sum(len(s.cases) for s in plan.suites)
    svc.store.create_run(run_id, manifest, manifest["inputs_sha256"])
    job = p.create_job(run_id, target_row["org_id"], target_row["id"], caller.user_id, request, total, ask.shards)
    svc.store.append_audit(caller.actor, "run.requested", run_id,
                           {"org": target_row["org_id"], "target": target_row["id"], "profile": ask.profile,
                            "suites": ask.suites, "inputs_sha256": manifest["inputs_sha256"], "shards": ask.shards})
    return job


def _review_run(svc: Service, caller: Caller, run_id: str, *, label: bool = False) -> Any:
    """The finished run opened for people's review, as the platform pinned it. Anyone
    who may see the run may see its sample; only a certifier may label it."""
    from harness.review import ReviewRun

    job = svc.platform.get_job(run_id, caller)  # another organisation's run: not found
    if label and not caller.certifier:
        raise Forbidden("only a certifier may label a run's review sample",
                        hint="applicants cannot label their own runs")
    if job["state"] != "finished":
        raise Conflict(f"run {run_id} is {job['state']}: only a finished run can be reviewed")
    if label and job["decision"] is not None:
        # labels after a decision could change the verdict it was made on (and a
        # certificate's report hash): the decision stands on the labels it saw
        raise Conflict(f"run {run_id} was {job['decision']}: its review is closed",
                       hint="to correct a label, run the target again (and revoke a certificate in force)")
    plan, _ = _plan(svc, svc.platform.get_target(job["target_id"], deleted=True), job["request"])
    return ReviewRun(svc.store, svc.store.get_run(run_id), svc.config.data_dir / "runs" / run_id, svc.registry,
                     plan.suites, plan.profile)


def review_status(run: Any, items: list[Any] | None = None) -> dict[str, Any]:
    """The review sample of a run and how far people got: the profile's quota (its
    ``x-profile.review``; 0 when it asks for none) and the items with their labels.
    ``items``: the sample when the caller has drawn it already (each draw reads every
    stored attempt twice)."""
    items = run.items() if items is None else items
    done = run.store.reviews(run.run_id)
    quota = len(items) if run.profile.review else 0
    return {"run_id": run.run_id, "quota": quota, "reviewed": sum(i.result.key in done for i in items),
            "items": [{**i.row(), "label": (done.get(i.result.key) or {}).get("label", ""),
                       "acceptable": (done.get(i.result.key) or {}).get("acceptable"),
                       "content": i.content, "labels": list(i.labels)} for i in items]}


def review_sample(svc: Service, caller: Caller, run_id: str) -> dict[str, Any]:
    return review_status(_review_run(svc, caller, run_id))


def add_reviews(svc: Service, caller: Caller, run_id: str, labels: list[dict[str, Any]]) -> dict[str, Any]:
    """Store a certifier's labels (each key in the sample, each label one its scorer
    gives; all or nothing) and judge the run again with them."""
    run = _review_run(svc, caller, run_id, label=True)
    sample = run.items()
    items = {i.result.key: i for i in sample}
    rows = []
    for n, entry in enumerate(labels):
        item = items.get(str(entry.get("key")))
        if item is None:
            raise ConfigError(f"labels[{n}]: key {entry.get('key')!r} is not in run {run_id}'s review sample",
                              hint="take the keys from GET /runs/{id}/review")
        if entry.get("label") not in item.labels:
            raise ConfigError(f"labels[{n}]: label {entry.get('label')!r} is not one of {', '.join(item.labels)}",
                              hint="use one of the item's labels")
        if item.content and entry.get("acceptable") is None:
            raise ConfigError(f"labels[{n}]: no acceptable for key {item.result.key!r}: the profile asks whether "
                              "each reply is acceptable content", hint="give acceptable: true or false")
        rows.append({"key": item.result.key, "label": entry["label"], "grader_label": item.grader_label,
                     "acceptable": entry.get("acceptable"), "reviewer": caller.actor, "note": entry.get("note")})
    if rows:
        run.add(rows, caller.actor)
        run.refinish(["json"], svc.signing_key, who=caller.actor)  # the verdict is the run's, read live
    return review_status(run, sample)


def decide(svc: Service, caller: Caller, run_id: str, decision: str, note: str) -> dict[str, Any]:
    """A certifier's decision on a finished run. Only a PASS run can be approved. A run
    with a valid certificate cannot be rejected: revoke the certificate first, so the two
    never disagree. Where the profile asks people to review a sample
    (``x-profile.review``), no run is approved before the whole sample is labelled."""
    if not caller.certifier:
        raise Forbidden("only a certifier may decide on a run")
    job = svc.platform.get_job(run_id, caller)
    if job["state"] != "finished":
        raise Conflict(f"run {run_id} is {job['state']}: only a finished run can be decided")
    if decision == "approved" and job.get("verdict") != "PASS":
        raise Conflict(f"run {run_id} has the verdict {job.get('verdict')}: only a PASS run can be approved",
                       hint="reject it, or have the target tested again")
    # only a profile that asks for reviews pays for loading the run and drawing its sample
    if decision == "approved" and resolve_profile(svc.ref_path(job["request"]["profile"]), svc.registry).review:
        status = review_status(_review_run(svc, caller, run_id))
        if status["reviewed"] < status["quota"]:
            raise Conflict(f"run {run_id}: {status['reviewed']} of the {status['quota']} reviews its profile asks "
                           "for are done", hint="label the rest at GET/POST /runs/{id}/review first")
    if decision == "rejected" and any(c["revoked_at"] is None
                                      for c in svc.platform.list_certificates(caller, run_id=run_id)):
        raise Conflict(f"run {run_id} has a certificate in force", hint="revoke the certificate before rejecting")
    svc.platform.set_job(run_id, decision=decision, decision_note=note)
    svc.store.append_audit(caller.actor, "run.decision", run_id, {"decision": decision, "note": note})
    return svc.platform.get_job(run_id, caller)


def cancel(svc: Service, caller: Caller, run_id: str) -> dict[str, Any]:
    """Cancel a queued or running run: workers see it at their next heartbeat and stop;
    what was stored stays stored."""
    job = svc.platform.get_job(run_id, caller)
    if not svc.platform.move_job(run_id, ("queued", "running"), "cancelled", **svc.platform.progress(run_id)):
        raise Conflict(f"run {run_id} is {job['state']}: only a queued or running run can be cancelled")
    svc.store.set_status(run_id, "stopped", stop_reason=f"cancelled by {caller.actor}")
    svc.store.append_audit(caller.actor, "run.cancelled", run_id, {"was": job["state"]})
    return svc.platform.get_job(run_id, caller)


async def _send(svc: Service, plan: Plan, run_id: str, idx: int, shard_count: int, owner: str,
                seed: int, epochs: int, observers: Observers) -> str | None:
    """Send the shard's missing attempts; the reason it stopped early, or None."""
    p = svc.platform
    done = await asyncio.to_thread(svc.store.done_keys, run_id)
    items, total = work(plan, epochs, done, shard=(idx, shard_count))
    if not total:
        return None
    # a wrong key, an unknown model or a dead endpoint fails the run with the reason, at once
    await preflight(plan.target, svc.registry, svc.policy)
    client = make_client(plan.target, svc.policy)
    try:
        connector = svc.registry.connector(plan.target.connector).factory(plan.target, client)
        runner = Runner(run_id=run_id, connector=connector, settings=dict(plan.target.settings), store=svc.store,
                        seed=seed, progress=Progress(total=total), handle_signals=False,
                        on_result=observers.on_result())

        async def heartbeat() -> None:
            while True:
                await asyncio.sleep(svc.config.heartbeat_s)
                kept = await asyncio.to_thread(p.renew, run_id, idx, owner)
                job = await asyncio.to_thread(p.get_job, run_id)
                why = ("lost the lease to another worker" if not kept else
                       "cancelled" if job["state"] == "cancelled" else
                       f"another shard stopped the run: {job['error']}" if job["error"] else None)
                if why:
                    runner.stopped = runner.stopped or why

        beat = asyncio.create_task(heartbeat())
        try:
            await runner.execute(items)
        finally:
            beat.cancel()
    finally:
        await client.aclose()
    if runner.fatal:  # the endpoint refused the key mid-run: the run fails with the reason
        raise ConfigError(runner.fatal, hint="update the target's key and ask for the run again")
    return runner.stopped


def execute_shard(svc: Service, run_id: str, idx: int, owner: str | None = None) -> Outcome:
    """Do shard ``idx`` of run ``run_id``: ``gone`` when there is nothing to do (the run
    ended, or the shard is done), ``busy`` when another worker holds a live lease on it
    (ask again after the lease time), ``done`` when this call finished it."""
    p = svc.platform
    owner = owner or worker_name()
    job = p.get_job(run_id)
    if job["state"] in FINAL_STATES:
        return "gone"
    if not p.claim(run_id, idx, owner, svc.config.lease_s):
        shard = next((s for s in p.shards(run_id) if s["idx"] == idx), None)
        return "gone" if shard is None or shard["state"] == "done" else "busy"
    observers = Observers(svc.registry, run_id)
    try:
        first = p.move_job(run_id, ("queued",), "running")
        if first:
            svc.store.set_status(run_id, "running")
            svc.store.append_audit(f"worker:{owner}", "run.started", run_id, {"shards": job["shards"]})
        else:
            svc.store.append_audit(f"worker:{owner}", "run.shard.claimed", run_id, {"shard": idx})
        request = job["request"]
        target_row = p.get_target(job["target_id"], deleted=True)
        plan, built = _plan(svc, target_row, request)
        manifest = svc.store.get_run(run_id).manifest
        changed = manifests.drift(manifest, built)
        if changed:  # this worker's plugins or data differ from the server's: refuse, loudly
            raise ConfigError("this worker's inputs differ from the run's: " + "; ".join(changed),
                              hint="install the same harness version and plugins on every worker")
        if first:  # once per run, by the worker that started it, as a CLI run does
            observers.started(manifest)
        stopped = asyncio.run(_send(svc, plan, run_id, idx, job["shards"], owner, request["seed"],
                                    request["epochs"], observers))
        job = p.get_job(run_id)
        if stopped == "interrupted" and job["state"] not in FINAL_STATES:
            # this worker is shutting down: hand the shard back at once, for another
            p.set_shard(run_id, idx, owner, "running", release=True)
            return "busy"
        if job["state"] == "cancelled" or stopped == "lost the lease to another worker":
            p.set_shard(run_id, idx, owner, "done" if job["state"] == "cancelled" else "running", release=True)
            return "gone" if job["state"] == "cancelled" else "busy"
        if stopped and not stopped.startswith("another shard"):
            p.set_job(run_id, error=stopped)  # the other shards stop at their next heartbeat
        p.set_shard(run_id, idx, owner, "sent")
        if p.elect_finisher(run_id, idx):
            _finish(svc, run_id, plan, request, manifest, owner, observers.errors)
        p.set_shard(run_id, idx, owner, "done", release=True)
        return "done"
    except HarnessError as exc:
        # a bad input found only now (a plugin missing on this worker, a key that does
        # not decrypt): the run cannot be done by anyone, so it fails with the reason
        log.warning("run %s shard %s failed: %s", run_id, idx, exc.message)
        if p.move_job(run_id, ("queued", "running"), "failed", error=exc.message, **p.progress(run_id)):
            svc.store.set_status(run_id, "aborted", stop_reason=exc.message, finished=True)
            svc.store.append_audit(f"worker:{owner}", "run.failed", run_id, {"error": exc.message})
        p.set_shard(run_id, idx, owner, "done", release=True)
        return "done"


def _finish(svc: Service, run_id: str, plan: Plan, request: dict[str, Any], manifest: dict[str, Any],
            owner: str, observer_errors: list[str]) -> None:
    job = svc.platform.get_job(run_id)
    if job["state"] in FINAL_STATES:
        return
    stopped = job["error"]
    verdict, _, _ = finish(svc.store, svc.registry, run_id=run_id, run_dir=svc.config.data_dir / "runs" / run_id,
                           manifest=manifest, profile=plan.profile, suites=plan.suites,
                           suites_info=suites_info(plan.suites, svc.registry), epochs=request["epochs"],
                           stopped=stopped, observer_errors=observer_errors, formats=["json"], signing_key=svc.signing_key,
                           who=f"worker:{owner}")
    svc.platform.move_job(run_id, ("running",), "finished", **svc.platform.progress(run_id))
    log.info("run %s finished: %s", run_id, verdict)


def run_worker_loop(svc: Service, stop: Any, *, idle_s: float = 0.25) -> None:
    """The embedded worker: take any runnable shard from the database and do it, until
    ``stop`` (a threading.Event) is set."""
    owner = worker_name()
    while not stop.is_set():
        picked = False
        for run_id, idx in svc.platform.runnable(svc.config.lease_s, limit=5):
            if stop.is_set():
                break
            try:
                outcome = execute_shard(svc, run_id, idx, owner)
            except Exception:  # noqa: BLE001 - a bug must not kill the worker thread
                log.exception("shard %s/%s failed", run_id, idx)
                time.sleep(1)
                continue
            if outcome == "done":
                picked = True
                break
        if not picked:
            stop.wait(idle_s)
