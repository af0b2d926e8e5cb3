"""The manifest of a run: everything that decides its result, hashed, so a report can
be reproduced and a resume with different inputs is refused by name."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .criteria import Profile
    from .models import Suite, Target
    from .plugins import Registry


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def canonical(doc: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the same document always hashes the same."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def sha256(doc: Any) -> str:
    return hashlib.sha256(canonical(doc)).hexdigest()


#: the parts of a manifest that must not change between a run and its resume
DECIDING = ("suites", "profile", "target", "seed", "epochs", "scorers", "stop_when_decided", "subset")
#: deciding parts a manifest holds only when they are set (hashed only then, so that the
#: inputs of a run made before they existed hash as they did)
OPTIONAL = ("subset",)


def build(*, target: Target, suites: list[Suite], profile: Profile, seed: int, epochs: int,
          registry: Registry, scorers: dict[str, str], stop_when_decided: bool = False,
          subset: dict[str, int] | None = None) -> dict[str, Any]:
    """The manifest of a run. A run that sends part of each suite (``subset``) also
    records the profile's sample size (None without one), so that the cases it sent can
    be rebuilt without the profile's file (the profile's sha256 already fixes it)."""
    from . import __version__

    doc: dict[str, Any] = {
        "harness": {"version": __version__, "python": platform.python_version(), "platform": sys.platform},
        "plugins": registry.plugins(),
        # absolute paths, so `--resume` finds the files from any working directory
        "suites": [{"id": s.id, "version": s.version, "sha256": s.sha256, "cases": len(s.cases),
                    "path": str(s.path.resolve()) if s.path else None} for s in suites],
        "profile": {"id": profile.id, "version": profile.version, "sha256": profile.sha256,
                    "path": str(profile.path.resolve()) if profile.path else None},
        "target": {**target.fingerprint(), "path": str(target.path.resolve()) if target.path else None},
        "scorers": scorers,
        "seed": seed,
        "epochs": epochs,
        "stop_when_decided": stop_when_decided,
        "created_at": now_iso(),
    }
    if subset:  # harness run --limit / --sample: the part of each suite it sent
        doc["subset"] = dict(subset)
        doc["sample_per_category"] = profile.sample_per_category
    doc["inputs_sha256"] = inputs_sha256(doc)
    return doc


def _deciding(doc: dict[str, Any], part: str) -> Any:
    value = doc.get(part)
    if part == "suites":  # where a file lies does not decide anything; what it holds does
        return [{k: v for k, v in s.items() if k != "path"} for s in value or []]
    if isinstance(value, dict):  # nor its name, nor how hard the runner may push the target
        return {k: v for k, v in value.items() if k not in ("path", "name", "limits")}
    return value


def inputs_sha256(doc: dict[str, Any]) -> str:
    return sha256({part: _deciding(doc, part) for part in DECIDING if part not in OPTIONAL or doc.get(part)})


def drift(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Sentences naming each deciding input that differs between two manifests."""
    out = []
    for part in DECIDING:
        a, b = _deciding(old, part), _deciding(new, part)
        if a == b:
            continue
        if part == "suites":
            before = {s["id"]: s for s in a}
            after = {s["id"]: s for s in b}
            for sid in sorted(before.keys() | after.keys()):
                if sid not in after:
                    out.append(f"suite {sid} was in the run and is not given now")
                elif sid not in before:
                    out.append(f"suite {sid} is given now and was not in the run")
                elif before[sid] != after[sid]:
                    out.append(f"suite {sid} changed (sha256 {before[sid]['sha256'][:12]}… is now "
                               f"{after[sid]['sha256'][:12]}…, version {before[sid]['version']} is now "
                               f"{after[sid]['version']})")
        elif part == "target" or part == "profile":
            keys = sorted(k for k in (a or {}).keys() | (b or {}).keys() if (a or {}).get(k) != (b or {}).get(k))
            out.append(f"the {part} changed ({', '.join(keys)})")
        else:
            out.append(f"{part} was {a!r} and is now {b!r}")
    return out
