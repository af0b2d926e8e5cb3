"""Derived suites: cases made from another suite's cases by probes (converters such as
role play, an encoding or a multi-turn escalation).

Everything is deterministic from the run's seed: the sample of base cases and every
probe's random choices, so a resumed or repeated run makes exactly the same cases.
Each new case is ``<base id>~<probe>``, its category is the probe (the metric is per
attack), and its metadata keeps the base case, its suite and its risk category.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .errors import HarnessError, PluginError, SuiteError
from .models import Case, ScorerRef, Suite

if TYPE_CHECKING:
    from .plugins import Registry


def _ref(value: Any) -> ScorerRef:
    return ScorerRef(value) if isinstance(value, str) else ScorerRef(value["name"], value.get("args") or {})


def sample(cases: tuple[Case, ...], per_category: int | None, rng: random.Random) -> list[Case]:
    """Up to ``per_category`` cases of each (category, language), chosen by ``rng``, in
    the base suite's order."""
    if not per_category:
        return list(cases)
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, case in enumerate(cases):
        groups[case.category, case.lang].append(index)
    chosen: set[int] = set()
    for key in sorted(groups):
        indexes = groups[key]
        chosen.update(rng.sample(indexes, min(per_category, len(indexes))))
    return [cases[i] for i in sorted(chosen)]


def cases_sent(suite: Suite, per_category: int | None, part: dict[str, int] | None, seed: int) -> Suite:
    """The cases of ``suite`` a run sends, in the one order every entry point applies
    (a run, its resume, a rescore, a review): the profile's seeded sample of each category
    and language first, then the part ``harness run --limit/--sample`` asked for."""
    if per_category:
        suite = replace(suite, cases=tuple(sample(suite.cases, per_category,
                                                  random.Random(f"{seed}/{suite.id}/profile-sample"))))
    return subset(suite, part, seed)


def subset(suite: Suite, part: dict[str, int] | None, seed: int) -> Suite:
    """The suite cut to the part of it a run was asked for (``harness run --limit N``: its
    first N cases; ``--sample N``: N drawn with the run's seed, in the suite's order), or
    the suite itself."""
    if not part:
        return suite
    if "limit" in part:
        return replace(suite, cases=suite.cases[:part["limit"]])
    rng = random.Random(f"{seed}/{suite.id}/cli-sample")
    chosen = sorted(rng.sample(range(len(suite.cases)), min(part["sample"], len(suite.cases))))
    return replace(suite, cases=tuple(suite.cases[i] for i in chosen))


def expand(suite: Suite, registry: Registry, seed: int, _seen: tuple[str, ...] = ()) -> Suite:
    """The suite with its cases made, if it is derived; the suite itself otherwise."""
    if not suite.derive:
        return suite
    from .suite import resolve_suite

    spec = suite.derive
    if suite.id in _seen:
        raise SuiteError(f"{suite.path}: suite {suite.id} derives from itself ({' -> '.join(_seen + (suite.id,))})",
                         hint="derive.from must name another suite")
    base_ref = spec["from"]
    if base_ref.endswith((".yaml", ".yml")) and suite.path is not None:
        base_ref = str(suite.path.parent / base_ref)  # a path is relative to the derived suite
    base = resolve_suite(base_ref, registry)
    base = expand(base, registry, seed, _seen + (suite.id,))
    converters = []
    names = [_ref(value).name for value in spec["probes"]]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SuiteError(f"{suite.path}: probe {', '.join(twice)} is listed twice in suite {suite.id}",
                         hint="list each probe once: its name is part of every case id it makes")
    for value in spec["probes"]:
        ref = _ref(value)
        try:
            converters.append((registry.probe(ref.name), registry.build("probe", ref.name, ref.args)))
        except HarnessError as exc:
            raise SuiteError(f"{suite.path}: probe {ref.name!r}: {getattr(exc, 'message', exc)}",
                             hint=getattr(exc, "hint", None) or "see `harness list probes`") from exc
    chosen = sample(base.cases, spec.get("per_category"), random.Random(f"{seed}/{suite.id}/sample"))
    cases = []
    for case in chosen:
        for probe, convert in converters:
            rng = random.Random(f"{seed}/{suite.id}/{case.id}/{probe.name}")
            try:
                made = convert(case, rng)
            except Exception as exc:  # the probe's bug: name it, the suite and the case
                raise PluginError(f"probe {probe.name!r} failed on case {case.id} of suite {base.id} "
                                  f"(for {suite.id}): {type(exc).__name__}: {exc}",
                                  hint="report it to the probe's authors, or leave the probe out") from exc
            if made is None:  # the probe has nothing to rewrite in this case (no word it knows)
                continue
            cases.append(replace(
                made, id=f"{case.id}~{probe.name}", suite=suite.id, category=probe.name,
                expected=case.expected, scorer=case.scorer,
                metadata={**case.metadata, "base_suite": base.id, "base_case": case.id, "risk": case.category,
                          "probe": probe.name},
            ))
    digest = hashlib.sha256(f"{suite.sha256}/{base.sha256}/{seed}".encode()).hexdigest()
    return replace(suite, cases=tuple(cases), sha256=digest,
                   categories=tuple(p.name for p, _ in converters),
                   languages=suite.languages or tuple(sorted({c.lang for c in cases})))


def versions(suites: list[Suite], registry: Registry) -> dict[str, str]:
    """Name and version of every probe the derived suites use, their bases' included,
    for the manifest."""
    from .suite import resolve_suite

    out: dict[str, str] = {}
    for suite in suites:
        if not suite.derive:
            continue
        for value in suite.derive["probes"]:
            name = _ref(value).name
            out[name] = registry.probe(name).version
        base_ref = suite.derive["from"]
        if base_ref.endswith((".yaml", ".yml")) and suite.path is not None:
            base_ref = str(suite.path.parent / base_ref)
        out.update(versions([resolve_suite(base_ref, registry)], registry))
    return out
