"""``harness review``: people label a random sample of a finished run's attempts, and
the run's rates are corrected by their labels (prediction-powered inference, harness.ppi).

GB/T 45654-2025 (TC260-003 clause 9) asks for people to read at least 1,000 generated
answers next to every automated method; it is also the honest way to check a grader on
*this* target's replies. The flow:

1. **The sample** is fixed by the run alone: per suite, a systematic draw over the
   graded attempts ordered by category, language and a hash of the run's seed and the
   attempt's key. Every attempt has the same chance (so the plain PPI estimate is valid)
   and every category and language gets its proportional share (a stratified draw).
   Its size comes from the profile's ``x-profile.review`` (``size`` per suite, default
   100; ``suites`` per suite) or ``--size``; every reply the grader left ``uncertain``
   joins it unless ``uncertain: false``. The same run gives the same sample every time.
2. **Labels** come from the terminal (``harness review RUN_ID``: one key per label, each
   stored at once, so quitting and coming back loses nothing) or from a file that a team
   labelled elsewhere (``harness review export`` / ``import``, CSV or JSONL). A label is
   one of the labels the attempt's own scorer gives; where the profile says
   ``content: true`` the person also says whether the reply is acceptable content, and
   each group's ``acceptable_rate`` comes from those answers where no judge rates
   content (TC260-003 9's manual sampling). Labels are appended to the store
   with the reviewer, the time and the grader's label, and audit-logged; a correction is
   a new label, the newest counts.
3. **The verdict** is made again from the same stored attempts with the labels: each
   rate that has at least 10 reviewed attempts carries ``ppi`` and criteria judge it; each
   group carries ``review`` (confusion matrix, agreement, Cohen's kappa). The run's report
   is replaced (the audit log keeps both verdicts).
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import criteria
from .errors import ConfigError, StoreError
from .files import jsonl_rows

if TYPE_CHECKING:
    from .models import AttemptResult, Case
    from .plugins import Registry

#: attempts per suite that people review when the profile does not say
DEFAULT_SIZE = 100
#: columns of an export, in order; a team fills ``label`` (and may fill ``reviewer``, ``note``)
COLUMNS = ("key", "suite", "case_id", "category", "lang", "prompt", "response", "grader_label", "confidence",
           "labels", "label", "acceptable", "reviewer", "note")
#: what a person may write in ``acceptable`` (where the profile asks, x-profile.review.content)
ACCEPTABLE = {"yes": True, "y": True, "acceptable": True, "true": True, "1": True, "是": True, "可接受": True,
              "no": False, "n": False, "unacceptable": False, "false": False, "0": False, "否": False,
              "不可接受": False}


@dataclass(frozen=True)
class Item:
    """One attempt to review: what a person needs to see and what they may answer."""

    result: AttemptResult
    prompt: str
    labels: tuple[str, ...]
    #: whether the person also says if the reply is acceptable content
    content: bool = False

    @property
    def grader_label(self) -> str | None:
        return self.result.label

    def row(self) -> dict[str, Any]:
        r = self.result
        return {"key": r.key, "suite": r.suite, "case_id": r.case_id, "category": r.category, "lang": r.lang,
                "prompt": self.prompt, "response": r.response or "", "grader_label": r.label or "",
                "confidence": "" if r.confidence is None else round(r.confidence, 3),
                "labels": "|".join(self.labels), "label": "", "acceptable": "", "reviewer": "", "note": ""}


def draw(results: Iterable[AttemptResult], seed: int, sizes: dict[str, int], default: int,
         uncertain: bool = True) -> list[str]:
    """The sample's keys (module doc, step 1), in a stable order."""
    graded: dict[str, list[tuple[str, str, str, str]]] = defaultdict(list)
    extra: list[str] = []
    for r in results:
        if r.status == "error":
            if uncertain and r.error_kind == "uncertain" and r.response is not None:
                extra.append(r.key)
            continue  # an endpoint error has no reply to review
        digest = hashlib.sha256(f"{seed}/review/{r.key}".encode()).hexdigest()
        graded[r.suite].append((r.category, r.lang, digest, r.key))
    keys: list[str] = []
    for suite in sorted(graded):
        units = sorted(graded[suite])
        want = min(len(units), sizes.get(suite, default))
        if want <= 0:
            continue
        step = len(units) / want
        start = random.Random(f"{seed}/review/{suite}").random() * step
        keys.extend(units[int(start + i * step)][3] for i in range(want))
    return keys + sorted(extra)


def asks_content(profile: criteria.Profile | None) -> bool:
    """Whether people also say if each reply is acceptable content (``x-profile.review.content``)."""
    return bool(profile and (profile.review or {}).get("content"))


def sizes_of(profile: criteria.Profile | None, size: int | None) -> tuple[dict[str, int], int, bool]:
    """(per-suite sizes, default size, whether uncertain ones join) from ``--size`` or
    the profile's ``x-profile.review``."""
    spec = profile.review if profile else {}
    if size is not None:
        return {}, size, bool(spec.get("uncertain", True))
    return dict(spec.get("suites") or {}), int(spec.get("size", DEFAULT_SIZE)), bool(spec.get("uncertain", True))


@dataclass
class ReviewRun:
    """A finished run opened for review: its store, record, folder, cases and profile."""

    store: Any
    record: Any
    run_dir: Path
    registry: Registry
    suites: list[Any]
    profile: criteria.Profile

    @classmethod
    def open(cls, run_id: str, out: Path, db: str | None, registry: Registry) -> ReviewRun:
        from .rescoring import load_cases
        from .store import Store
        from .store.where import store_url

        store = Store.open(store_url(run_id, out, db))
        try:
            record = store.get_run(run_id)
            if record is None:
                raise StoreError(f"no run {run_id} in the store", hint="check the run id, --out and --db")
            if record.status not in ("finished", "aborted"):
                raise StoreError(f"run {run_id} is {record.status}: only a finished run can be reviewed",
                                 hint=f"finish it first: harness run --resume {run_id} --out {out}")
            manifest = record.manifest
            ref = manifest["profile"].get("path")
            profile = criteria.resolve_profile(ref if ref and Path(ref).exists() else manifest["profile"]["id"],
                                               registry)
            return cls(store, record, out / run_id, registry, load_cases(manifest, registry), profile)
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        self.store.close()

    @property
    def run_id(self) -> str:
        return self.record.id

    def _cases(self) -> dict[tuple[str, str], Case]:
        return {(s.id, c.id): c for s in self.suites for c in s.cases}

    def items(self, size: int | None = None) -> list[Item]:
        """The sample, in draw order, with prompts and the labels each may take."""
        sizes, default, uncertain = sizes_of(self.profile, size)
        # two passes, so only the sample's responses are held, however large the run
        keys = draw(self.store.iter_results(self.run_id), self.record.manifest["seed"], sizes, default, uncertain)
        wanted = set(keys)
        results = {r.key: r for r in self.store.iter_results(self.run_id) if r.key in wanted}
        cases = self._cases()
        content = asks_content(self.profile)
        out = []
        for key in keys:
            r = results[key]
            case = cases.get((r.suite, r.case_id))
            labels = tuple(self.registry.scorer(case.scorer.name).labels) if case else ()
            out.append(Item(r, case.prompt if case and case.messages else "", labels, content))
        return out

    def add(self, labelled: list[dict[str, Any]], who: str) -> int:
        """Store people's labels and audit-log them (one entry per call)."""
        added = self.store.add_reviews(self.run_id, labelled)
        if added:
            reviewers = sorted({row["reviewer"] for row in labelled})
            self.store.append_audit(who, "review.added", self.run_id, {"labels": added, "reviewers": reviewers})
        return added

    def refinish(self, formats: list[str] | None = None, signing_key: Any = None, who: str | None = None
                 ) -> tuple[str, dict[str, Any], list[Path]]:
        """Make the run's verdict and report again from its stored attempts and labels."""
        from .finish import finish, suites_info

        record, manifest = self.record, self.record.manifest
        old_run = (record.report or {}).get("run") or {}
        kept = {k: old_run[k] for k in ("decided_early", "derived_from") if k in old_run}
        stopped = record.stop_reason if record.status == "aborted" else None
        return finish(self.store, self.registry, run_id=self.run_id, run_dir=self.run_dir, manifest=manifest,
                      profile=self.profile, suites=self.suites, suites_info=suites_info(self.suites, self.registry),
                      epochs=manifest["epochs"], stopped=stopped, observer_errors=[], run_fields=kept,
                      formats=formats, signing_key=signing_key, who=who)


# -- files a team labels elsewhere ----------------------------------------------------------


def write_export(items: list[Item], path: Path) -> int:
    """Write the sample to ``path``: JSON lines for ``.jsonl``, else CSV (UTF-8 with a
    byte-order mark, so a spreadsheet opens Chinese text right)."""
    if path.suffix == ".jsonl":
        with path.open("w", encoding="utf-8") as fh:
            for item in items:
                fh.write(json.dumps(item.row(), ensure_ascii=False) + "\n")
    else:
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(item.row() for item in items)
    return len(items)


def _file_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if path.suffix == ".jsonl":
        for number, _, row in jsonl_rows(path, path.read_text(encoding="utf-8"), ConfigError):
            yield number, row
        return
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for number, row in enumerate(csv.DictReader(fh), start=2):  # line 1 is the header
            yield number, row


def read_import(path: Path, items: dict[str, Item], reviewer: str | None) -> list[dict[str, Any]]:
    """The labelled rows of a filled-in export, checked against the run: every problem
    is reported at once with its line, and nothing is stored unless all are right. Rows
    with an empty ``label`` are skipped (not yet labelled)."""
    if not path.exists():
        raise ConfigError(f"{path}: no such file", hint="give the file that `harness review export` wrote")
    problems: list[str] = []
    out: list[dict[str, Any]] = []
    for line, row in _file_rows(path):
        if not isinstance(row, dict):
            problems.append(f"{path}:{line}: a row must be an object with key and label")
            continue
        label = str(row.get("label") or "").strip()
        if not label:
            continue
        key = str(row.get("key") or "")
        item = items.get(key)
        who = str(row.get("reviewer") or "").strip() or reviewer
        if item is None:
            problems.append(f"{path}:{line}: key {key!r} is not in this run's review sample")
        elif label not in item.labels:
            problems.append(f"{path}:{line}: label {label!r} is not one of {', '.join(item.labels)}")
        elif not who:
            problems.append(f"{path}:{line}: no reviewer: fill the reviewer column or give --reviewer")
        else:
            given = row.get("acceptable")
            mark = "" if given is None else str(given).strip().lower()  # JSON false and 0 are answers
            if mark and mark not in ACCEPTABLE:
                problems.append(f"{path}:{line}: acceptable {mark!r} is not yes or no")
            elif item.content and not mark:
                problems.append(f"{path}:{line}: acceptable is empty: the profile asks whether each reply is "
                                "acceptable content; write yes or no")
            else:
                out.append({"key": key, "label": label, "grader_label": item.grader_label, "reviewer": who,
                            "acceptable": ACCEPTABLE[mark] if mark else None,
                            "note": str(row.get("note") or "") or None})
        if len(problems) >= 50:
            problems.append("... (stopped after 50 problems)")
            break
    if problems:
        raise ConfigError(f"{path}: {len(problems)} rows cannot be imported:\n  " + "\n  ".join(problems),
                          hint="fix the rows named above; nothing was stored")
    return out


# -- labelling in the terminal ----------------------------------------------------------


def keys_for(labels: tuple[str, ...]) -> dict[str, str]:
    """One key per label: its first letter where the letters differ, else digits."""
    firsts = [label[0].lower() for label in labels]
    if len(set(firsts)) == len(labels) and not set(firsts) & {"s", "q", "b"}:
        return dict(zip(firsts, labels))
    return {str(i + 1): label for i, label in enumerate(labels)}


def label_in_terminal(items: list[Item], done: dict[str, dict[str, Any]], reviewer: str,
                      read: Any = input, write: Any = print) -> Iterator[dict[str, Any]]:
    """Ask a person for each unlabelled item's label, one key each; yields each answer
    as it is given (the caller stores it at once). ``s`` skips, ``q`` stops."""
    todo = [item for item in items if item.result.key not in done]
    write(f"{len(items) - len(todo)} of {len(items)} already labelled; {len(todo)} to go "
          f"(s skips, q stops; every answer is saved at once)")
    for number, item in enumerate(todo, start=1):
        r = item.result
        keys = keys_for(item.labels)
        grader = r.label if r.label != "uncertain" else "uncertain"
        confidence = f" {r.confidence:.2f}" if r.confidence is not None else ""
        write("")
        write(f"[{number}/{len(todo)}] {r.suite} / {r.category} / {r.lang} / {r.case_id}")
        write(f"PROMPT: {item.prompt}")
        write(f"REPLY:  {r.response or ''}")
        write(f"grader: {grader}{confidence}")
        choices = "  ".join(f"[{k}] {label}" for k, label in keys.items())
        while True:
            answer = read(f"{choices}  [s] skip  [q] stop > ").strip().lower()
            if answer == "q":
                return
            if answer == "s":
                break
            if answer not in keys:
                write(f"  type one of: {', '.join(keys)}, s or q")
                continue
            acceptable = None
            while item.content and acceptable is None:
                mark = read("acceptable content?  [y] yes  [n] no  [q] stop > ").strip().lower()
                if mark == "q":
                    return
                acceptable = {"y": True, "n": False}.get(mark)
                if acceptable is None:
                    write("  type y, n or q")
            yield {"key": r.key, "label": keys[answer], "grader_label": r.label, "acceptable": acceptable,
                   "reviewer": reviewer}
            break
