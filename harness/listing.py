"""What ``harness list`` shows: every offering with the plugin and distribution it
comes from."""

from __future__ import annotations

from typing import Any

from .plugins import Registry

#: the columns of the table at any width: names and numbers whole, the last one (a
#: title or a description) cut to what is left of the line; ``--wide`` shows every field
NARROW: dict[str, list[str]] = {
    "plugins": ["name", "distribution", "version"],
    "connectors": ["name", "version", "description"],
    "scorers": ["name", "version", "description"],
    "probes": ["name", "version", "description"],
    "reporters": ["name", "version", "description"],
    "targets": ["name", "policies", "description"],
    "robots": ["id", "kind", "joints", "payload_kg", "title"],
    "suites": ["id", "version", "cases", "languages", "title"],
    "profiles": ["id", "version", "criteria", "title"],
}


def cell(value: Any) -> str:
    """A field as a person reads it: a list as its items joined, not Python's text."""
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return "" if value is None else str(value)


def table(items: list[dict[str, Any]], what: str, *, wide: bool = False, width: int = 80) -> Any:
    """The Rich table of ``harness list`` for a terminal ``width`` columns wide. Narrow:
    one line per row, every column as wide as its widest cell (an id is never broken)
    but the last, which gets what is left of the line and is cut with an ellipsis. Wide:
    every field, folded where it must be."""
    from rich.cells import cell_len
    from rich.table import Table

    columns = list(items[0]) if wide and items else NARROW[what]
    out = Table(title=what)
    if wide:
        for column in columns:
            out.add_column(column, overflow="fold")
    else:
        widths = [max([cell_len(c)] + [cell_len(cell(r.get(c))) for r in items]) for c in columns]
        # Rich shrinks every column alike when a row is too long: give the last one exactly
        # what the others leave (each column costs its padding and a border: 3 cells, plus 1)
        left = width - sum(widths[:-1]) - 3 * len(columns) - 1
        widths[-1] = max(min(widths[-1], left), cell_len(columns[-1]), 8)
        for column, w in zip(columns, widths, strict=True):
            out.add_column(column, no_wrap=True, overflow="ellipsis", width=w)
    for item in items:
        out.add_row(*(cell(item.get(c)) for c in columns))
    return out
def _origin(registry: Registry, hook: str, name: str) -> dict[str, str]:
    plugin = registry.owner.get((hook, name), "")
    return {"plugin": plugin, **registry.distribution_of(plugin)} if plugin else {}


def rows(registry: Registry, what: str) -> list[dict[str, Any]]:
    if what == "plugins":
        return registry.plugins()
    if what == "connectors":
        return [{"name": n, "version": _origin(registry, "register_connectors", n).get("version", ""),
                 "description": s.description, **_origin(registry, "register_connectors", n)}
                for n, s in sorted(registry.connectors().items())]
    if what == "scorers":
        out = []
        for n, s in sorted(registry.scorers().items()):
            origin = _origin(registry, "register_scorers", n)
            out.append({"name": n, "version": s.version, "description": s.description, "labels": list(s.labels),
                        "plugin": origin.get("plugin", ""), "distribution": origin.get("distribution", ""),
                        "distribution_version": origin.get("version", "")})
        return out
    if what == "probes":
        return [{"name": n, "version": s.version, "description": s.description,
                 **{k: v for k, v in _origin(registry, "register_probes", n).items() if k != "version"}}
                for n, s in sorted(registry.probes().items())]
    if what == "reporters":
        return [{"name": n, "version": _origin(registry, "register_reporters", n).get("version", ""),
                 "description": s.description, **_origin(registry, "register_reporters", n)}
                for n, s in sorted(registry.reporters().items())]
    if what == "targets":
        return [{"name": n, "version": _origin(registry, "register_reference_targets", n).get("version", ""),
                 "policies": list(s.policies), "description": s.description,
                 **_origin(registry, "register_reference_targets", n)}
                for n, s in sorted(registry.reference_targets().items())]
    if what == "robots":
        from .robot.robots import ROBOTS

        return [{"id": m.id, "version": m.version, "title": m.title, "kind": m.kind, "joints": len(m.joints),
                 "urdf": m.urdf, "payload_kg": m.payload_kg} for m in ROBOTS.values()]
    if what == "suites":
        from .probes import expand
        from .suite import list_suites

        # a derived suite is counted as made with seed 0: its size does not depend on the seed
        return [{"id": s.id, "version": s.version, "title": s.title, "cases": len(expand(s, registry, 0).cases),
                 "languages": list(s.languages), "clause": s.clause, "sha256": s.sha256, "path": str(s.path),
                 **({"derived_from": s.derive["from"]} if s.derive else {})}
                for s in list_suites(registry)]
    if what == "profiles":
        from .criteria import load_profile

        out = []
        for folder in registry.profile_dirs():
            for path in sorted(folder.rglob("*.yaml")):
                p = load_profile(path)
                out.append({"id": p.id, "version": p.version, "title": p.title, "criteria": len(p.criteria),
                            "sha256": p.sha256, "path": str(path)})
        return out
    raise ValueError(what)
