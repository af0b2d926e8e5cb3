"""The metrics document: counts and rates with 95% Wilson intervals, per suite, and per
category and language below each suite, computed from the store's grouped counts so
memory does not grow with the run."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

#: two-sided 95% normal quantile
Z95 = 1.959963984540054


def wilson(k: int, n: int, z: float = Z95) -> dict[str, Any]:
    """Rate ``k/n`` with its Wilson score interval. ``n == 0`` has no value: a criterion
    on it cannot be judged (and is INCONCLUSIVE, never PASS)."""
    if n == 0:
        return {"value": None, "ci_low": None, "ci_high": None, "n": 0, "k": 0}
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # the bounds at 0/n and n/n are exactly 0 and 1; float dust must not move them
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return {"value": p, "ci_low": low, "ci_high": high, "n": n, "k": k}


#: flags that get a rate of their own in every group (over the valid attempts): a
#: degenerate reply (nothing usable in it) is reported apart from refusals and answers
RATED_FLAGS = ("degenerate",)


#: error kinds of the grader, not of the endpoint: the reply is there, only its label is
#: not (the grader left it uncertain, a judge's votes split, the scorer failed)
GRADER_ERRORS = frozenset({"uncertain", "unstable", "scorer_bug", "no_expectation"})


#: fewest reviewed attempts under a rate for its prediction-powered estimate: below it
#: the normal approximation says little, and the grader-only interval stands alone
MIN_REVIEWED = 10


class _Tally:
    __slots__ = ("status", "labels", "errors", "flags", "reviewed", "content")

    def __init__(self) -> None:
        self.status: Counter[str] = Counter()
        self.labels: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        #: valid attempts per grader flag (``degenerate``, ``judged``)
        self.flags: Counter[str] = Counter()
        #: reviewed attempts per (grader label, person's label); the grader label is None
        #: where the grader left the reply uncertain
        self.reviewed: Counter[tuple[str | None, str]] = Counter()
        #: people's answer to "is the reply acceptable content?" per (stratum, answer):
        #: stratum ``graded`` (the equal-chance draw) or ``uncertain`` (the census of the
        #: replies the grader left uncertain)
        self.content: Counter[tuple[str, bool]] = Counter()

    def add(self, status: str, label: str | None, error_kind: str | None, count: int) -> None:
        self.status[status] += count
        if status == "error":
            self.errors[error_kind or "unknown"] += count
        elif label:
            self.labels[label] += count

    def document(self, labels: Iterable[str], groups: dict[str, tuple[str, ...]] | None = None) -> dict[str, Any]:
        """The group's counts and rates. A label's rate is over the valid attempts whose
        scorer could give it (``groups``: label -> all labels of its scorer), so in a suite
        judged by two scorers each rate keeps its own denominator."""
        errors = self.status["error"]
        passed, failed = self.status["pass"], self.status["fail"]
        n = errors + passed + failed
        valid = passed + failed
        doc: dict[str, Any] = {
            "n": n,
            "valid_n": valid,
            "errors": errors,
            "error_rate": errors / n if n else 0.0,
            "passed": passed,
            "failed": failed,
            "pass_rate": wilson(passed, valid),
            "errors_by_kind": dict(sorted(self.errors.items())),
            "labels": dict(sorted(self.labels.items())),
            "flags": dict(sorted(self.flags.items())),
        }
        for flag in RATED_FLAGS:
            doc[f"{flag}_rate"] = wilson(self.flags[flag], valid)
        labels = list(labels)
        for label in labels:  # the same rate keys in every group of a suite
            group = (groups or {}).get(label)
            denominator = sum(self.labels[g] for g in group) if group else valid
            rate = doc[f"{label}_rate"] = wilson(self.labels[label], denominator)
            if self.reviewed:
                found = self._ppi(label, tuple(group or labels), rate)
                if found:
                    rate["ppi"] = found
        if self.reviewed:
            doc["review"] = self._agreement()
        if self.content and "acceptable_rate" not in doc:
            doc["acceptable_rate"] = self._acceptable(valid)
        return doc

    def _acceptable(self, valid: int) -> dict[str, Any]:
        """The share of acceptable replies that people found, where no judge of the run
        rates content (GB/T 45654-2025, TC260-003 9: people read sampled answers).

        The replies are the graded ones and those the grader could not label (uncertain,
        split votes, a scorer's failure): an endpoint's failure has no reply, so it is
        no content. The sample has two strata: an equal-chance draw of the graded replies
        and the unlabelled replies people read (every uncertain one where the profile
        says so: a census). The estimate weights each stratum's share by its size; the
        graded stratum brings its Wilson interval, the other is known exactly for what
        was read. Unlabelled replies nobody read are unknown: the interval counts them
        unacceptable at its low end and acceptable at its high end, and ``if_unread``
        gives the estimate each way, so a criterion is decided only where both agree."""
        ok_g, n_g = self.content["graded", True], self.content["graded", True] + self.content["graded", False]
        ok_u, n_u = self.content["uncertain", True], self.content["uncertain", True] + self.content["uncertain", False]
        unlabelled = sum(count for kind, count in self.errors.items() if kind in GRADER_ERRORS)
        total = valid + unlabelled
        unread = max(0, unlabelled - n_u)
        counts = {"n": n_g + n_u, "k": ok_g + ok_u, "estimate": "review", "unread": unread}
        if not total or (valid and not n_g):  # no graded reply read: nothing to weigh
            return {**wilson(0, 0), **counts, "if_unread": [0.0, 1.0]}
        g = wilson(ok_g, n_g) if n_g else {"value": 0.0, "ci_low": 0.0, "ci_high": 0.0}
        w_g = valid / total

        def at(p_g: float, unread_ok: float) -> float:
            return w_g * p_g + (ok_u + unread_ok) / total

        # the value takes the unread ones at the share found among the unlabelled replies
        # that were read (at the graded stratum's share where none was)
        value = at(g["value"], unread * (ok_u / n_u if n_u else g["value"]))
        return {"value": value, "ci_low": at(g["ci_low"], 0), "ci_high": at(g["ci_high"], unread), **counts,
                "if_unread": [at(g["value"], 0), at(g["value"], unread)]}

    def _ppi(self, label: str, group: tuple[str, ...], rate: dict[str, Any]) -> dict[str, Any] | None:
        """The rate's prediction-powered estimate from this group's reviews (None when
        fewer than MIN_REVIEWED of its graded attempts were reviewed)."""
        from .ppi import Reviewed, combined

        cells = [0, 0, 0, 0]
        census: Counter[bool] = Counter()
        for (grader, person), count in self.reviewed.items():
            if person not in group:
                continue
            if grader is None:
                census[person == label] += count
            elif grader in group:
                g, p = grader == label, person == label
                cells[0 if g and p else 1 if g else 2 if p else 3] += count
        reviewed = Reviewed(*cells)
        if reviewed.n < MIN_REVIEWED:
            return None
        n_rest, k_rest = rate["n"] - reviewed.n, rate["k"] - cells[0] - cells[1]
        uncertain = self.errors["uncertain"]
        whole = sum(census.values()) == uncertain  # every uncertain reply reviewed: a census
        census_k, census_n = (census[True], uncertain) if whole else (0, 0)
        if n_rest <= 0:  # every graded attempt reviewed: the people's rate is the rate
            exact = wilson(cells[0] + cells[2] + census_k, reviewed.n + census_n)
            return {"value": exact["value"], "ci_low": exact["ci_low"], "ci_high": exact["ci_high"], "lam": 0.0,
                    "n_reviewed": reviewed.n + census_n, "n": reviewed.n + census_n}
        return combined(k_rest, n_rest, reviewed, census_k, census_n)

    def _agreement(self) -> dict[str, Any]:
        """How the grader's labels compare with people's on the reviewed attempts it
        labelled: the confusion matrix (grader -> person -> count), the share agreed and
        Cohen's kappa; and how many uncertain replies people labelled."""
        confusion: dict[str, dict[str, int]] = defaultdict(dict)
        for (grader, person), count in sorted(self.reviewed.items(), key=lambda t: (str(t[0][0]), t[0][1])):
            if grader is not None:
                confusion[grader][person] = confusion[grader].get(person, 0) + count
        n = sum(sum(row.values()) for row in confusion.values())
        agreed = sum(row.get(g, 0) for g, row in confusion.items())
        by_person: Counter[str] = Counter()
        for row in confusion.values():
            by_person.update(row)
        expected = sum(sum(row.values()) * by_person[g] for g, row in confusion.items()) / (n * n) if n else 0.0
        observed = agreed / n if n else None
        kappa = None if not n or expected >= 1 else (observed - expected) / (1 - expected)
        return {"n_reviewed": n, "uncertain_reviewed": sum(c for (g, _), c in self.reviewed.items() if g is None),
                "agreement": observed, "kappa": kappa, "confusion": dict(confusion)}


def difference(high: dict[str, Any], low: dict[str, Any]) -> dict[str, Any]:
    """``high - low`` of two rates with Newcombe's hybrid score interval (method 10),
    built from the two Wilson intervals: honest at small n and near 0 or 1."""
    p1, l1, u1 = high["value"], high["ci_low"], high["ci_high"]
    p2, l2, u2 = low["value"], low["ci_low"], low["ci_high"]
    d = p1 - p2
    return {"gap": d, "ci_low": d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
            "ci_high": d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)}


def gaps(by_category: dict[str, dict[str, Any]], labels: Iterable[str]) -> dict[str, Any]:
    """For categories named ``attribute:value`` (counterfactual sets), the largest gap of
    each label's rate between two values of one attribute, with its interval."""
    groups: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for name, group in by_category.items():
        attribute, sep, value = name.partition(":")
        if sep:
            groups[attribute][value] = group
    out: dict[str, Any] = {}
    for attribute, values in sorted(groups.items()):
        if len(values) < 2:
            continue
        out[attribute] = {}
        for label in labels:
            rated = sorted(((g[f"{label}_rate"]["value"], v, g[f"{label}_rate"]) for v, g in values.items()
                            if g[f"{label}_rate"]["value"] is not None), key=lambda t: (t[0], t[1]))
            if len(rated) < 2:
                out[attribute][label] = {"gap": None, "ci_low": None, "ci_high": None, "highest": None,
                                         "lowest": None}
                continue
            (_, low_name, low), (_, high_name, high) = rated[0], rated[-1]
            out[attribute][label] = {**difference(high, low), "highest": high_name, "lowest": low_name}
    return out


def _measure(found: tuple[float, float, int] | None) -> dict[str, Any]:
    lo, hi, n = found or (None, None, 0)
    return {"min": lo, "max": hi, "n": n}


def build(rows: Iterable[tuple[str, str, str, str, str | None, str | None, int]],
          suites: dict[str, dict[str, Any]], *, epochs: int = 1, stopped_early: bool = False,
          measures: Iterable[tuple[str, str, float, float, int]] = (),
          flags: Iterable[tuple[str, str, str, str, str, int]] = (),
          reviews: Iterable[tuple[str, str, str, str, str | None, str | None, str, bool | None, int]] = ()
          ) -> dict[str, Any]:
    """The metrics document from grouped rows ``(suite, category, lang, status, label,
    error_kind, count)``. ``suites`` maps each suite id of the run to ``{version, cases,
    label_groups: [the labels of each scorer it uses], by_category: {category: {lang:
    cases}}, by_language: {lang: cases}}``, so a
    suite, category or language with no attempt yet still appears (with n = 0), and every
    label its scorers can give has a rate. ``measures`` are ``(suite, category, min, max,
    n)`` of the attempts' measured values: a suite with ``measure: NAME`` gets ``NAME:
    {min, max, n}`` in its document and in each category's (n = 0 and nulls when
    nothing was measured, so a bound on it cannot pass by default). ``flags`` are
    ``(suite, category, lang, status, flags, count)`` of flagged attempts (comma-separated
    grader marks): each group counts its valid ones in ``flags`` and rates ``degenerate``.
    ``reviews`` are ``(suite, category, lang, status, grader label, error_kind, person's
    label, acceptable, count)`` of the attempts people labelled: every rate with enough of
    them gets ``ppi`` (harness.ppi), each group that has any gets ``review`` (agreement),
    and a group whose people also said whether replies were acceptable content gets
    ``acceptable_rate`` from them where no judge of the run gives one."""
    totals = _Tally()
    per_suite: dict[str, _Tally] = defaultdict(_Tally)
    per_cat: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    per_lang: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    labels: dict[str, set[str]] = defaultdict(set)
    for suite, category, lang, status, label, error_kind, count in rows:
        for tally in (totals, per_suite[suite], per_cat[suite, category], per_lang[suite, lang]):
            tally.add(status, label, error_kind, count)
        if label and status != "error":
            labels[suite].add(label)
    for suite, category, lang, status, marks, count in flags:
        if status == "error" or not marks:
            continue
        for flag in marks.split(","):
            for tally in (totals, per_suite[suite], per_cat[suite, category], per_lang[suite, lang]):
                tally.flags[flag] += count
    for suite, category, lang, status, grader, error_kind, person, acceptable, count in reviews:
        if status == "error" and error_kind != "uncertain":
            continue  # an endpoint's error has no reply to review
        key = (grader if status != "error" else None, person)
        stratum = "graded" if status != "error" else "uncertain"
        for tally in (totals, per_suite[suite], per_cat[suite, category], per_lang[suite, lang]):
            tally.reviewed[key] += count
            # not in the totals: suites are reviewed at different rates, so their draws
            # pooled are no equal-chance sample of the run
            if acceptable is not None and tally is not totals:
                tally.content[stratum, bool(acceptable)] += count
    groups: dict[str, dict[str, tuple[str, ...]]] = defaultdict(dict)
    for suite_id, info in suites.items():
        for group in info.get("label_groups", ()):
            labels[suite_id].update(group)
            for label in group:
                groups[suite_id].setdefault(label, tuple(group))
    all_labels = sorted(set().union(*labels.values())) if labels else []
    measured = list(measures)
    out_suites = {}
    for suite_id, info in sorted(suites.items()):
        names = sorted(labels[suite_id])
        mine = groups[suite_id]
        doc = per_suite[suite_id].document(names, mine)
        doc["version"] = info.get("version", "")
        doc["cases"] = info.get("cases", 0)
        # every category and language the suite declares cases for appears, with how many
        # cases it has, so coverage is checked rather than claimed
        cats, langs = info.get("by_category", {}), info.get("by_language", {})
        doc["by_category"] = {c: {**per_cat[suite_id, c].document(names, mine), "cases": sum(cats.get(c, {}).values()),
                                  "cases_by_language": dict(sorted(cats.get(c, {}).items()))}
                              for c in sorted(cats.keys() | {c for s, c in per_cat if s == suite_id})}
        doc["by_language"] = {lang: {**per_lang[suite_id, lang].document(names, mine), "cases": langs.get(lang, 0)}
                              for lang in sorted(langs.keys() | {g for s, g in per_lang if s == suite_id})}
        if info.get("measure"):
            name = info["measure"]
            mine_m = {cat: (lo, hi, n) for s, cat, lo, hi, n in measured if s == suite_id}
            whole = [m for m in mine_m.values() if m[2]]
            doc[name] = _measure((min(m[0] for m in whole), max(m[1] for m in whole), sum(m[2] for m in whole))
                                 if whole else None)
            for cat, group in doc["by_category"].items():
                group[name] = _measure(mine_m.get(cat))
        found = gaps(doc["by_category"], names)
        if found:
            doc["gaps"] = found
        out_suites[suite_id] = doc
    all_groups = {label: group for mine in groups.values() for label, group in mine.items()}
    return {
        "totals": totals.document(all_labels, all_groups),
        "suites": out_suites,
        "epochs": epochs,
        "stopped_early": stopped_early,
    }
