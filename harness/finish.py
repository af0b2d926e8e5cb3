"""The end of every run, shared by ``harness run`` and ``harness rescore``: what the
metrics need to know of the suites, the observer hooks, the failing examples, and the
tail metrics -> verdict -> report -> signature -> run_finished -> render -> store."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import criteria, metrics
from . import manifest as manifests
from . import report as reports
from .models import ScorerRef, Suite
from .observers import notify
from .plugins import Registry


def actor() -> str:
    """Who acts, for the audit log: the local user of a CLI run (the service will name
    its authenticated users)."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"


def cases_by_category(suite: Suite) -> dict[str, Counter[str]]:
    """How many cases each category has, per language: the coverage the report states."""
    out: dict[str, Counter[str]] = {}
    for case in suite.cases:
        out.setdefault(case.category, Counter())[case.lang] += 1
    return out


def outcomes(store: Any, run_id: str) -> dict[str, dict[str, Any]]:
    """Every attempt's outcome, per suite, compactly: ``keys`` (``case_id/epoch``) and
    ``status``, a string with one letter per key (``p`` pass, ``f`` fail, ``e`` error), so
    a report lists every case whatever the verdict (JUnit: one testcase per case)."""
    keys: dict[str, list[str]] = {}
    marks: dict[str, list[str]] = {}
    for suite, case_id, epoch, status in store.outcomes(run_id):
        keys.setdefault(suite, []).append(f"{case_id}/{epoch}")
        marks.setdefault(suite, []).append(status[0])
    return {suite: {"keys": keys[suite], "status": "".join(marks[suite])} for suite in keys}


def failures(store: Any, run_id: str, suites: list[Suite]) -> list[dict[str, Any]]:
    """Failing examples for the report, prompt and response cut: up to
    ``EXAMPLES_PER_SUITE`` per suite, taken in turn from each of its languages, so a
    bilingual suite shows failures in each language rather than the first ones by key
    (a language with fewer failures leaves its share to the others)."""
    cap = reports.EXAMPLES_PER_SUITE
    prompts = {(s.id, c.id): c.prompt for s in suites for c in s.cases}
    kept: dict[str, dict[str, list[Any]]] = {}
    for r in store.iter_results(run_id, status="fail"):
        bucket = kept.setdefault(r.suite, {}).setdefault(r.lang, [])
        if len(bucket) < cap:  # never more than the cap per language: memory stays flat
            bucket.append(r)
    out = []
    for suite_id, by_lang in kept.items():
        chosen: list[Any] = []
        queues = [list(rows) for _, rows in sorted(by_lang.items())]
        while len(chosen) < cap and any(queues):
            for queue in queues:
                if queue and len(chosen) < cap:
                    chosen.append(queue.pop(0))
        for r in sorted(chosen, key=lambda r: r.key):
            out.append({"key": r.key, "suite": r.suite, "case_id": r.case_id, "category": r.category,
                        "lang": r.lang, "prompt": (prompts.get((r.suite, r.case_id)) or "")[:500],
                        "response": (r.response or "")[:500], "label": r.label, "evidence": r.evidence[:500]})
    return out


def robot_section(store: Any, run_id: str, suites: list[Suite], results: list[dict[str, Any]]
                  ) -> dict[str, Any] | None:
    """The report's robot section (the worst case of each robot suite, with its plots'
    data and replay frames), or None for a run without robot suites."""
    from .robot import reporting

    return reporting.section(store, run_id, suites, results)


def grader_cards(suites: list[Suite], registry: Registry, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The card of every scorer configuration that labelled replies in this run (a
    scorer with a ``card``), with what it did here: per suite, how many of its attempts
    it left uncertain, flagged degenerate, or sent to a judge."""
    used: dict[str, tuple[str, dict[str, Any], set[str]]] = {}
    for suite in suites:
        for case in suite.cases:
            key = f"{case.scorer.name} {sorted(case.scorer.args.items())!r}"
            used.setdefault(key, (case.scorer.name, dict(case.scorer.args), set()))[2].add(suite.id)
    cards = []
    for name, args, suite_ids in used.values():
        spec = registry.scorer(name)
        if spec.card is None:
            continue
        card = dict(spec.card(**args))
        here = {}
        for suite_id in sorted(suite_ids):
            group = doc["suites"].get(suite_id, {})
            n, valid = group.get("n", 0), group.get("valid_n", 0)
            uncertain = group.get("errors_by_kind", {}).get("uncertain", 0)
            flags = group.get("flags", {})
            here[suite_id] = {"n": n, "uncertain": uncertain, "uncertain_share": uncertain / n if n else 0.0,
                              "degenerate": flags.get("degenerate", 0),
                              "degenerate_share": flags.get("degenerate", 0) / valid if valid else 0.0,
                              "judged": flags.get("judged", 0)}
        card["in_this_run"] = here
        cards.append(card)
    return cards


def suites_info(suites: Iterable[Suite], registry: Registry, override: ScorerRef | None = None
                ) -> dict[str, dict[str, Any]]:
    """What metrics.build needs to know of each suite (as session.run builds it); with
    ``override`` every suite's labels are those of that one scorer."""
    def groups(suite: Suite) -> list[tuple[str, ...]]:
        names = [override.name] if override else sorted({c.scorer.name for c in suite.cases})
        return [registry.scorer(name).labels for name in names]

    return {s.id: {"version": s.version, "cases": len(s.cases), "label_groups": groups(s),
                   "by_category": cases_by_category(s), "by_language": Counter(c.lang for c in s.cases),
                   "measure": s.measure}
            for s in suites}


def subset_notice(part: dict[str, int] | None) -> str:
    """What a report says of a run that sent only part of each suite."""
    if not part:
        return ""
    how = (f"its first {part['limit']} cases" if "limit" in part
           else f"{part['sample']} cases drawn with the run's seed")
    return (f"This run sent only part of each suite ({how}; harness run --{next(iter(part))}): its figures "
            "describe that part, its verdict is no verdict on the whole suites, and it certifies nothing.")


def finish(store: Any, registry: Registry, *, run_id: str, run_dir: Path, manifest: dict[str, Any],
           profile: criteria.Profile, suites: list[Suite], suites_info: dict[str, dict[str, Any]], epochs: int,
           stopped: str | None, observer_errors: list[str], run_fields: dict[str, Any] | None = None,
           formats: list[str] | None = None, signing_key: Any = None,
           who: str | None = None) -> tuple[str, dict[str, Any], list[Path]]:
    """Metrics -> verdict -> report -> signature -> run_finished hook -> render -> store:
    the end of every run, as ``harness.session.run`` does it. Returns (verdict, report,
    paths).

    ``stopped`` is the stop reason of a run that ended early (None otherwise);
    ``run_fields`` go into the report's ``run`` object after ``observer_errors``
    (``decided_early``, ``derived_from``). ``observer_errors`` is the run's live list:
    failures of the run_finished hook land in it, and so in the report. ``who`` names
    the actor in the audit log (default: the local user, :func:`actor`)."""
    doc = metrics.build(store.aggregate(run_id), suites_info, epochs=epochs, stopped_early=bool(stopped),
                        measures=store.measures(run_id), flags=store.flag_counts(run_id),
                        reviews=store.review_counts(run_id))
    verdict, results, reason = criteria.evaluate(profile, doc, stopped_early=stopped)
    if manifest.get("subset"):  # a try-out's verdict says what it is a verdict on
        reason = f"on part of each suite only (--{next(iter(manifest['subset']))}), certifying nothing: {reason}"
    status = "aborted" if stopped else "finished"
    record = store.get_run(run_id)
    report = reports.build(
        run={"id": run_id, "status": status, "created_at": record.created_at, "finished_at": manifests.now_iso(),
             "stop_reason": stopped, "observer_errors": observer_errors, **(run_fields or {})},
        manifest=manifest, metrics=doc, verdict=verdict, reason=reason, criteria=results,
        failures=failures(store, run_id, suites), outcomes=outcomes(store, run_id),
        notice=" ".join(filter(None, [subset_notice(manifest.get("subset")), profile.notice])),
        robot=robot_section(store, run_id, suites, results), graders=grader_cards(suites, registry, doc))
    if signing_key is not None:  # report.json and the stored report carry the signature
        from . import signing

        report = signing.sign(report, signing_key)
    notify(registry.pm.hook.run_finished, observer_errors, run_id=run_id, report=report)
    run_dir.mkdir(parents=True, exist_ok=True)
    # report.json is the run's record whatever else was asked for: verify, diff and the
    # store of a rescored run (its derived_from) read it
    paths = reports.render(report, run_dir, registry, formats and ["json", *(f for f in formats if f != "json")])
    store.set_status(run_id, status, stop_reason=stopped, verdict=verdict, report=report, finished=True)
    store.append_audit(who or actor(), f"run.{status}", run_id, {"verdict": verdict, "reason": reason,
                                                           "report_signed": "signature" in report})
    return verdict, report, paths
