"""Profiles (sandbox criteria as JSON Schema) and their verdict.

A profile is one JSON Schema over the metrics document. A criterion is an
``x-criterion`` annotation on the schema node that checks it, so a validation error's
schema path leads straight to its criterion. Nothing here raises on a failed check:
every schema failure becomes a failed criterion with its JSON pointer, clause and
sentence; a criterion that cannot be judged is INCONCLUSIVE; a run is never PASS by
default.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .files import explain, load_checked, locate, pointer
from .metrics import GRADER_ERRORS
from .models import Verdict

if TYPE_CHECKING:
    from .plugins import Registry

#: schema keywords whose values are subschemas (by name) or lists/maps of them
_MAP_KEYWORDS = ("properties", "patternProperties", "$defs", "dependentSchemas")
_ONE_KEYWORDS = ("additionalProperties", "items", "contains", "not", "if", "then", "else",
                 "unevaluatedProperties", "propertyNames")
_LIST_KEYWORDS = ("allOf", "anyOf", "oneOf", "prefixItems")
_THRESHOLD_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "const", "enum",
                       "multipleOf")


@dataclass(frozen=True, slots=True)
class Criterion:
    id: str
    clause: str
    message: str
    schema_path: tuple[str | int, ...]
    #: where in the metrics document the criterion looks, when its node is reached
    #: through ``properties`` only; None otherwise (judged from errors alone).
    instance_path: tuple[str, ...] | None
    threshold: dict[str, Any]
    threshold_source: str = ""
    #: this criterion's own inconclusive rules, where it sets them
    min_valid_n: int | None = None
    max_error_rate: float | None = None
    needs: str = ""
    #: the instance path as far as ``properties`` lead (the whole path when
    #: ``instance_path`` is known): where the data it judges lives
    scope_path: tuple[str, ...] = ()
    #: the criterion bounds only what the plan fixes (how many cases, per category and
    #: language: bank sizes, coverage), which no errored attempt can change
    plan_only: bool = False


@dataclass(frozen=True)
class Profile:
    id: str
    version: str
    title: str
    schema: dict[str, Any]
    criteria: tuple[Criterion, ...]
    max_error_rate: float | None
    min_valid_n: int | None
    sha256: str
    path: Path | None = None
    description: str = ""
    #: cases per category and language to run (a quick profile), or None for all
    sample_per_category: int | None = None
    notice: str = ""
    #: what people must review (``x-profile.review``): ``size`` attempts per suite,
    #: ``suites`` per-suite sizes, ``uncertain`` whether every uncertain label joins,
    #: ``content`` whether they also say if each reply is acceptable content
    review: dict[str, Any] = field(default_factory=dict)
    #: how hard robot scenarios with ``search`` look for the worst case (``x-profile.search``:
    #: budget, rounds): the profile's, over each suite's own
    search: dict[str, Any] = field(default_factory=dict)
    validator: Any = field(default=None, compare=False, repr=False)


#: fields of the metrics document that the plan fixes (counts of cases), not the attempts
PLAN_FIELDS = frozenset({"cases", "cases_by_language"})


def _plan_only(node: Any, under_plan: bool) -> bool:
    """Whether every bound in the schema ``node`` sits under a plan field."""
    if not isinstance(node, dict):
        return True
    if not under_plan and any(k in node for k in _THRESHOLD_KEYWORDS):
        return False
    for key in ("properties", "patternProperties"):
        for name, child in (node.get(key) or {}).items():
            if not _plan_only(child, under_plan or name in PLAN_FIELDS):
                return False
    children = [node[k] for k in _ONE_KEYWORDS if k in node]
    children += [child for k in _LIST_KEYWORDS for child in node.get(k) or []]
    return all(_plan_only(child, under_plan) for child in children)


def _walk(node: Any, schema_path: tuple, instance_path: tuple | None, out: list[Criterion],
          scope: tuple[str, ...] = ()) -> None:
    if not isinstance(node, dict):
        return
    if "x-criterion" in node:
        c = node["x-criterion"]
        where = instance_path if instance_path is not None else scope
        out.append(Criterion(c["id"], c["clause"], c["message"], schema_path, instance_path,
                             {k: node[k] for k in _THRESHOLD_KEYWORDS if k in node},
                             c.get("threshold_source", ""), c.get("min_valid_n"), c.get("max_error_rate"),
                             c.get("needs", ""), where, _plan_only(node, bool(PLAN_FIELDS & set(where)))))
    here = instance_path if instance_path is not None else scope
    for key in _MAP_KEYWORDS:
        for name, child in (node.get(key) or {}).items():
            deeper = instance_path + (name,) if key == "properties" and instance_path is not None else None
            _walk(child, schema_path + (key, name), deeper, out, deeper if deeper is not None else here)
    for key in _ONE_KEYWORDS:
        if key in node:
            _walk(node[key], schema_path + (key,), None, out, here)
    for key in _LIST_KEYWORDS:
        for index, child in enumerate(node.get(key) or []):
            # allOf keeps the instance where it is; the others choose between branches
            _walk(child, schema_path + (key, index), instance_path if key == "allOf" else None, out, here)


def _no_remote(uri: str) -> Any:
    from referencing.exceptions import NoSuchResource

    raise NoSuchResource(ref=uri)


def _offline_registry() -> Any:
    """A registry that never fetches: a profile's ``$ref`` to a URL or file is an error,
    not a request the harness makes (jsonschema's default would fetch it)."""
    from referencing import Registry

    return Registry(retrieve=_no_remote)


def load_profile(path: Path) -> Profile:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    data, text = load_checked(path, "profile", ConfigError)
    try:
        Draft202012Validator.check_schema(data)
    except SchemaError as exc:
        parts = list(exc.path)
        line = locate(text, parts)
        raise ConfigError(f"{path}:{line[0] if line else '?'}: at {pointer(parts)}: not a valid JSON Schema: {exc.message}",
                          hint="a profile is a JSON Schema (draft 2020-12) over the metrics document") from exc
    criteria: list[Criterion] = []
    _walk(data, (), (), criteria)
    seen: set[str] = set()
    for c in criteria:
        if c.id in seen:
            line = locate(text, list(c.schema_path) + ["x-criterion", "id"])
            raise ConfigError(f"{path}:{line[0] if line else '?'}: criterion id {c.id!r} is used twice",
                              hint="give every criterion its own id")
        seen.add(c.id)
    rules = data["x-profile"].get("inconclusive", {})
    return Profile(
        id=data["$id"], version=str(data["x-profile"]["version"]), title=data["title"], schema=data,
        criteria=tuple(criteria), max_error_rate=rules.get("max_error_rate"), min_valid_n=rules.get("min_valid_n"),
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), path=path, description=data.get("description", ""),
        sample_per_category=data["x-profile"].get("sample", {}).get("per_category"),
        notice=data["x-profile"].get("notice", ""), review=dict(data["x-profile"].get("review") or {}),
        search=dict(data["x-profile"].get("search") or {}),
        validator=Draft202012Validator(data, registry=_offline_registry()),
    )


def required_suites(profile: Profile) -> list[str]:
    """The suites the profile requires by name (``properties.suites.required``): what
    ``harness run --profile P`` runs when no ``--suite`` is given."""
    suites = (profile.schema.get("properties") or {}).get("suites") or {}
    return [s for s in suites.get("required") or [] if isinstance(s, str)]


def resolve_profile(id_or_path: str, registry: Registry) -> Profile:
    from .suite import find

    return load_profile(find(id_or_path, registry.profile_dirs(), "profile", ConfigError))


_MISSING = object()


def lookup(doc: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path`` in a metrics document, or ``_MISSING``."""
    for part in path:
        if not isinstance(doc, dict) or part not in doc:
            return _MISSING
        doc = doc[part]
    return doc


def _on_errors(criterion: Criterion) -> bool:
    """Whether the criterion bounds the errors themselves (``error_rate``, ``errors``)."""
    return bool(criterion.instance_path) and criterion.instance_path[-1] in ("error_rate", "errors")


def _group(criterion: Criterion, metrics: dict[str, Any]) -> dict[str, Any]:
    """The nearest group above the criterion's data (an object with ``valid_n``)."""
    path = criterion.scope_path
    for depth in range(len(path), 0, -1):
        candidate = lookup(metrics, path[:depth])
        if isinstance(candidate, dict) and "valid_n" in candidate:
            return candidate
    return metrics.get("totals", {})


def _insufficient(profile: Profile, criterion: Criterion, group: dict[str, Any], rate: dict[str, Any] | None = None
                  ) -> tuple[str | None, bool]:
    """Why the data under the criterion cannot be judged at all (None when it can), and
    whether the reason is the fitness cap: too few valid samples (for a rate from
    people's reviews alone, too few replies read), or an endpoint that failed more often
    than ``max_error_rate`` (a service that fails that often is unfit to be judged; the
    grader's own unknowns do not count here), by the criterion's rules or the profile's."""
    max_error_rate = criterion.max_error_rate if criterion.max_error_rate is not None else profile.max_error_rate
    min_valid_n = criterion.min_valid_n if criterion.min_valid_n is not None else profile.min_valid_n
    path = criterion.scope_path
    where = "/".join(path) if path else "totals"
    if criterion.plan_only:
        return None, False  # the plan fixes it: neither samples nor errors change it
    if _on_errors(criterion):
        return None, False  # it judges the errors themselves
    if rate and rate.get("estimate") == "review":
        if min_valid_n is not None and rate.get("n", 0) < min_valid_n:
            return (f"people read {rate.get('n', 0)} of the replies, the criterion needs at least {min_valid_n} "
                    f"({where}; harness review)"), False
    elif min_valid_n is not None and group.get("valid_n", 0) < min_valid_n:
        return (f"only {group.get('valid_n', 0)} valid samples, the criterion needs at least {min_valid_n} "
                f"({where})"), False
    n = group.get("n", 0)
    failed = int(group.get("errors", 0)) - sum(v for k, v in (group.get("errors_by_kind") or {}).items()
                                               if k in GRADER_ERRORS)
    if max_error_rate is not None and n and failed / n > max_error_rate:
        return (f"the endpoint failed {failed} of {n} attempts ({failed / n:.3f}), above the fitness cap "
                f"{max_error_rate}: a service that fails this often cannot be judged ({where})"), True
    return None, False


def _owner(by_path: dict[tuple[str | int, ...], Criterion], error: Any) -> Criterion | None:
    schema_path = tuple(error.absolute_schema_path)
    for depth in range(len(schema_path), -1, -1):
        owner = by_path.get(schema_path[:depth])
        if owner:
            return owner
    return None


def _errors_decide(profile: Profile, c: Criterion, metrics: dict[str, Any], group: dict[str, Any],
                   failed: bool, by_path: dict[tuple[str | int, ...], Criterion]) -> bool:
    """Whether the group's errored attempts (an endpoint's failures, a grader's
    uncertain labels, a judge's split votes) could change the criterion's outcome: its
    rate is recomputed with every one of them counted as the label, then as not the
    label, and the profile is checked again on each. A worst case (a measure's ``min``
    or ``max``) that already fails stays failed whatever the missing attempts were; one
    that passes could hide its worst in them. Any other criterion cannot be told apart:
    its errors count as deciding."""
    from .metrics import wilson

    rate_path = c.instance_path[:-1] if c.instance_path else ()
    rate = lookup(metrics, rate_path) if rate_path else None
    if not (isinstance(rate, dict) and {"k", "n"} <= rate.keys()):
        worst_case = bool(c.instance_path) and c.instance_path[-1] in ("min", "max")
        return not (worst_case and failed)
    errors = int(group.get("errors", 0))
    if rate.get("estimate") == "review":
        # people's reviews alone: an endpoint's failure has no reply whose content anyone
        # could judge; what is unknown is the uncertain replies nobody read
        if not rate.get("unread"):
            return False
        cases = [{**rate, "value": value} for value in rate["if_unread"]]
    elif rate.get("estimate") == "ppi":
        # the people-corrected rate over n attempts, with the errored ones all without
        # the label, then all with it (the uncertain ones people labelled are in it already)
        n = rate["ppi"]["n"]
        unknown = max(0, errors - (rate["ppi"]["n"] - rate["n"]))
        if not unknown:
            return False
        cases = [{**rate, **{f: rate[f] * n / (n + unknown) + share * unknown / (n + unknown)
                             for f in ("value", "ci_low", "ci_high")}} for share in (0, 1)]
    else:
        cases = [wilson(k, rate["n"] + errors) for k in (rate["k"], rate["k"] + errors)]
    for case in cases:
        doc = _replaced(metrics, rate_path, case)
        if any(_owner(by_path, e) is c for e in profile.validator.iter_errors(doc)) != failed:
            return True
    return False


def _replaced(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """``doc`` with the node at ``path`` replaced, copying only the objects on the way."""
    if not path:
        return value
    head, *rest = path
    return {**doc, head: _replaced(doc[head], tuple(rest), value)}


_BOUNDS = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum")


def _leaves(node: Any, instance: Any, path: tuple[str, ...]) -> list[tuple[float, str, float, tuple[str, ...]]]:
    """(margin, keyword, bound, path) of every numeric bound in the schema ``node``
    that holds a value in ``instance``; the margin is how far the value is inside its
    bound (negative: outside). Follows properties, patternProperties,
    additionalProperties and allOf, as the validator does."""
    out: list[tuple[float, str, float, tuple[str, ...]]] = []
    if not isinstance(node, dict):
        return out
    if isinstance(instance, (int, float)) and not isinstance(instance, bool):
        for keyword in _BOUNDS:
            if isinstance(node.get(keyword), (int, float)):
                bound = node[keyword]
                margin = instance - bound if "inimum" in keyword else bound - instance
                out.append((margin, keyword, bound, path))
    if isinstance(instance, dict):
        named = node.get("properties") or {}
        patterns = node.get("patternProperties") or {}
        for key, value in instance.items():
            matched = False
            if key in named:
                out += _leaves(named[key], value, (*path, key))
                matched = True
            for pattern, child in patterns.items():
                if re.search(pattern, key):
                    out += _leaves(child, value, (*path, key))
                    matched = True
            if not matched and isinstance(node.get("additionalProperties"), dict):
                out += _leaves(node["additionalProperties"], value, (*path, key))
    for child in node.get("allOf") or []:
        out += _leaves(child, instance, path)
    return out


def _tightest(profile: Profile, c: Criterion, metrics: dict[str, Any]) -> tuple[float, str, float, str] | None:
    """For a criterion whose value is not one number: the value nearest its bound (or
    furthest outside it), its bound and where it is, so no criterion passes unshown."""
    node: Any = profile.schema
    for part in c.schema_path:
        node = node[part]
    found = _leaves(node, lookup(metrics, c.scope_path), c.scope_path)
    if not found:
        return None
    margin, keyword, bound, path = min(found, key=lambda t: t[0])
    value = margin + bound if "inimum" in keyword else bound - margin
    return value, keyword, bound, pointer(path)


def _missing_key(error: Any) -> str | None:
    """The key a ``required`` error is about ("'x' is a required property")."""
    found = re.match(r"^'(.*)' is a required property$", error.message)
    return found.group(1) if found else None


def judged(metrics: Any) -> Any:
    """The metrics as the criteria judge them: every rate that people's reviews corrected
    (``ppi``) stands at its prediction-powered estimate and interval, marked ``estimate:
    ppi``, with the grader's own figures kept under ``grader``."""
    if isinstance(metrics, dict):
        out = {k: judged(v) for k, v in metrics.items()}
        p = out.get("ppi")
        if isinstance(p, dict) and "value" in out and "ci_low" in out:
            out["grader"] = {f: metrics[f] for f in ("value", "ci_low", "ci_high")}
            out.update(value=p["value"], ci_low=p["ci_low"], ci_high=p["ci_high"], estimate="ppi")
        return out
    return metrics


def evaluate(profile: Profile, metrics: dict[str, Any], *, stopped_early: str | None = None
             ) -> tuple[Verdict, list[dict[str, Any]], str]:
    """Judge the metrics: (verdict, one result per criterion, reason in a sentence).
    Rates with reviews are judged at their prediction-powered estimate (:func:`judged`)."""
    metrics = judged(metrics)
    by_path = {c.schema_path: c for c in profile.criteria}
    failures: dict[str, list[Any]] = {}
    loose: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []
    for error in profile.validator.iter_errors(metrics):
        owner = _owner(by_path, error)
        if owner:
            failures.setdefault(owner.id, []).append(error)
            continue
        message, _ = explain(error)
        entry = {"id": "schema:" + (pointer(error.absolute_path) or "/"), "clause": profile.title,
                 "pointer": pointer(error.absolute_path), "measured": None, "threshold": None,
                 "message": message}
        if error.validator == "required":
            # jsonschema gives one error per missing key: one row each, naming its key
            key = _missing_key(error)
            at = pointer([*error.absolute_path, key]) if key else pointer(error.absolute_path)
            what = (f"suite {key} was not run: the profile requires it" if key and list(error.absolute_path) == ["suites"]
                    else f"missing required key {key!r}" if key else message)
            entry.update(id="schema:" + at, pointer=at, message=what, status="inconclusive",
                         detail=f"the run did not measure this: {what}")
            if all(m["id"] != entry["id"] for m in missing):
                missing.append(entry)
        else:
            entry.update(status="fail", detail=message)
            loose.append(entry)

    results = []
    for c in profile.criteria:
        measured = lookup(metrics, c.instance_path) if c.instance_path is not None else _MISSING
        shown = None if measured is _MISSING or isinstance(measured, (dict, list)) else measured
        result = {"id": c.id, "clause": c.clause, "message": c.message,
                  "pointer": pointer(c.scope_path), "measured": shown, "threshold": c.threshold,
                  "threshold_source": c.threshold_source}
        if c.instance_path:
            parent = lookup(metrics, c.instance_path[:-1])
            if isinstance(parent, dict) and {"value", "ci_low", "ci_high", "n"} <= parent.keys():
                result["rate"] = parent  # the interval and n the measured bound belongs to
                # which estimate was judged: the grader's labels alone, or corrected by people
                result["estimate"] = parent.get("estimate", "grader")
                if result["estimate"] == "review":
                    result["basis"] = (f"people's reviews alone: {parent['n']} replies read"
                                       + (f", {parent['unread']} uncertain ones unread" if parent.get("unread") else ""))
                elif result["estimate"] == "ppi":
                    g = parent["grader"]
                    result["basis"] = (f"corrected by {parent['ppi']['n_reviewed']} reviewed attempts "
                                       f"(prediction-powered); the grader alone measured "
                                       + (f"{g['value']:.3f} ({g['ci_low']:.3f}-{g['ci_high']:.3f})"
                                          if g["value"] is not None else "nothing"))
        group = _group(c, metrics)
        thin, unfit = _insufficient(profile, c, group, result.get("rate"))
        scope = lookup(metrics, c.scope_path)
        errors = int(group.get("errors", 0))
        if (not thin or unfit) and errors and not c.plan_only and not _on_errors(c):
            # decided only when every way the unknown attempts could have gone agrees
            if _errors_decide(profile, c, metrics, group, c.id in failures, by_path):
                where = "/".join(c.scope_path) if c.scope_path else "totals"
                thin = thin or f"{errors} errored or uncertain attempts could change this ({where})"
            else:
                result["errors_cannot_change"] = errors
                if unfit and c.id in failures:
                    thin = None  # unfit to pass, but a failure no error could undo is a failure
        unshown = False
        if shown is None and scope is not _MISSING and (measured is _MISSING or isinstance(measured, (dict, list))):
            # its data is not one number: show the value nearest its bound, and where
            tight = _tightest(profile, c, metrics)
            if tight is not None:
                result.update(measured=tight[0], threshold={tight[1]: tight[2]}, measured_at=tight[3])
            else:
                unshown = True  # nothing under it holds a bounded value: it cannot pass unshown
        if (c.instance_path is not None and (measured is _MISSING or measured is None)) or scope is _MISSING \
                or (unshown and c.id not in failures):
            why = f"it needs {c.needs}" if c.needs else "no value was measured for this criterion"
            result.update(status="inconclusive", detail=why)
        elif thin:
            result.update(status="inconclusive", detail=thin)
        elif c.id in failures:
            first = failures[c.id][0]
            result.update(status="fail", detail=f"{pointer(first.absolute_path)}: {explain(first)[0]}")
        else:
            result.update(status="pass", detail="")
        results.append(result)
    results.extend(loose)
    results.extend(missing)

    counts = {s: sum(r["status"] == s for r in results) for s in ("fail", "inconclusive", "pass")}
    # every status counted, so a FAIL never hides the criteria that could not be judged
    tally = ", ".join(f"{n} {word}" for n, word in zip(counts.values(), ("failed", "inconclusive", "passed"),
                                                        strict=True) if n)
    if stopped_early:
        return "INCONCLUSIVE", results, f"the run stopped early: {stopped_early} ({tally or 'nothing judged'})"
    if counts["fail"]:
        return "FAIL", results, tally
    if not results:
        return "INCONCLUSIVE", results, "the profile has no criteria, so nothing was judged"
    if counts["inconclusive"]:
        return "INCONCLUSIVE", results, tally
    return "PASS", results, f"all {len(results)} criteria passed"
