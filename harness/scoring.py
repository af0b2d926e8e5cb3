"""Building the scorers a run needs (one score function per distinct scorer and
arguments, made once through the registry, for ``harness run`` and ``harness rescore``)
and judging one attempt with them."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any

from .errors import ConfigError, PluginError, SuiteError
from .models import Case, Reply, Score, ScorerRef, Suite
from .plugins import Registry


async def judge_attempt(score: Callable[..., Any], case: Case, reply: Reply) -> tuple[Score, str | None, str | None]:
    """(score, error, error kind) of one reply: a scorer that asks another endpoint is
    awaited, and a scorer's own bug is this attempt's ``error`` of kind ``scorer_bug``,
    never the run's end."""
    try:
        verdict = score(case, reply)
        if inspect.isawaitable(verdict):
            verdict = await verdict
    except Exception as exc:
        msg = f"scorer raised {type(exc).__name__}: {exc}"
        return Score("error", evidence=msg), msg, "scorer_bug"
    return verdict, None, None


def scorer_key(ref: ScorerRef) -> str:
    """Cases with the same scorer and arguments share one score function."""
    return ref.name if not ref.args else f"{ref.name}:{json.dumps(ref.args, sort_keys=True)}"


def build_scorers(suites: list[Suite], override: ScorerRef | None, registry: Registry
                  ) -> tuple[dict[str, Callable[..., Any]], dict[str, str]]:
    """(scorer key -> score function, scorer name -> version); with ``override``, one
    scorer under the key ``"*"``."""
    if override:
        fn = registry.build("scorer", override.name, override.args)
        return {"*": fn}, {override.name: registry.scorer(override.name).version}
    scorers: dict[str, Callable[..., Any]] = {}
    versions: dict[str, str] = {}
    for suite in suites:
        for case in suite.cases:
            key = scorer_key(case.scorer)
            if key in scorers:
                continue
            try:
                scorers[key] = registry.build("scorer", case.scorer.name, case.scorer.args)
            except (PluginError, ConfigError) as exc:
                raise SuiteError(f"{suite.path}: case {case.id}: scorer {case.scorer.name!r}: {exc.message}",
                                 hint=exc.hint or "see `harness list scorers`") from exc
            versions[case.scorer.name] = registry.scorer(case.scorer.name).version
    return scorers, versions
