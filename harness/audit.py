"""The audit log: every state change (a run requested, started, finished, a decision, a
certificate issued or revoked, a profile changed) as an entry hash-chained to the one
before it, so that editing, deleting or reordering entries shows.

Each entry's ``sha256`` is the SHA-256 of the canonical JSON (:func:`harness.manifest.\ncanonical`) of its ``prev_sha256, seq, at, actor, action, subject, data``; the first
entry's ``prev_sha256`` is :data:`GENESIS`. Entries are appended by
:meth:`harness.store.Store.append_audit`, which reads the last hash under the store's
write lock so that two writers cannot fork the chain, and read by ``Store.iter_audit``.

What :func:`verify_chain` can and cannot see:

* an entry edited in place (its fields no longer hash to its ``sha256``), named by seq,
  and whether its content (at, actor, action, subject, data) or its link (prev_sha256)
  is what no longer matches;
* an entry edited and re-hashed, or deleted, or entries reordered: the next entry's
  ``prev_sha256`` no longer names the entry before it, or ``seq`` has a gap;
* a truncated tail (the newest entries deleted) leaves a shorter chain that is intact
  in itself: it cannot be detected from the log alone. Write down the last ``sha256``
  now and then (``harness audit log`` prints it) and pass it as the *anchor*: verify
  then checks that this entry is still there. Likewise, someone able to rewrite the
  whole log from some entry on can only be caught by an anchor past that entry.

This module does not import SQLAlchemy; the store imports it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from .manifest import sha256

#: ``prev_sha256`` of the first entry.
GENESIS = "0" * 64

#: The fields of an entry, in the order they are shown.
FIELDS = ("seq", "at", "actor", "action", "subject", "data", "prev_sha256", "sha256")
_CONTENT = "at, actor, action, subject, data"


def normalise(data: Any) -> Any:
    """``data`` as it reads back from the database's JSON: keys made strings, tuples
    lists, other objects their ``str``. Hashing the normalised form makes the hash of an
    entry the same when written and when read back. A ValueError for NaN or infinity,
    which JSON (and PostgreSQL) cannot hold."""
    return json.loads(json.dumps(data, ensure_ascii=False, default=str, allow_nan=False))


def entry_hash(prev: str, seq: int, at: str, actor: str, action: str, subject: str, data: Any) -> str:
    """The SHA-256 (hex) of the canonical JSON of an entry's fields."""
    return sha256({
        "prev_sha256": prev,
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "subject": subject,
        "data": data,
    })


def _hash_of(entry: Mapping[str, Any]) -> str:
    return entry_hash(entry["prev_sha256"], entry["seq"], entry["at"], entry["actor"], entry["action"],
                      entry["subject"], entry["data"])


def verify_chain(entries: Iterable[Mapping[str, Any]], anchor: str | None = None) -> list[str]:
    """The problems of a chain of entries given in seq order; empty when it is intact.

    ``anchor`` is a ``sha256`` written down earlier: it must still be in the log (see
    the module's docstring: without one a truncated tail cannot be detected).
    """
    problems: list[str] = []
    prev: Mapping[str, Any] | None = None
    anchor = anchor.strip().lower() if anchor else None
    anchor_seen = False
    for entry in entries:
        seq = entry["seq"]
        if anchor is not None and entry["sha256"] == anchor:
            anchor_seen = True
        expected_prev = GENESIS if prev is None else prev["sha256"]
        link_ok = entry["prev_sha256"] == expected_prev
        # Seq numbers and links.
        if prev is None:
            if seq != 1:
                problems.append(f"entries 1..{seq - 1} are missing: deleted from the head of the log")
            elif not link_ok:
                problems.append(f"entry {seq}: prev_sha256 is not the genesis value {GENESIS[:12]}...")
        else:
            if seq <= prev["seq"]:
                problems.append(f"entry {seq}: out of order after entry {prev['seq']}: entries were reordered")
            elif seq != prev["seq"] + 1:
                gap = f"{prev['seq'] + 1}" if seq == prev["seq"] + 2 else f"{prev['seq'] + 1}..{seq - 1}"
                problems.append(f"entries {gap} are missing (between {prev['seq']} and {seq}): deleted")
            if not link_ok:
                problems.append(
                    f"entry {seq}: prev_sha256 {entry['prev_sha256'][:12]}... is not the sha256 of entry "
                    f"{prev['seq']} ({prev['sha256'][:12]}...): an entry before it was deleted, replaced, "
                    "re-hashed or moved"
                )
        # The entry's own hash.
        if _hash_of(entry) != entry["sha256"]:
            which = _CONTENT if link_ok else f"prev_sha256 and/or {_CONTENT}"
            problems.append(f"entry {seq}: edited: its fields ({which}) no longer hash to its sha256")
        prev = entry
    if anchor is not None and not anchor_seen:
        problems.append(
            f"anchor {anchor} is not in the log: it (and maybe entries after it) was deleted, a truncated "
            "tail, or rewritten"
        )
    return problems
