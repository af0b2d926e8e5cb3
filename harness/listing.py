"""What ``harness list`` shows: every offering with the plugin and distribution it
comes from."""

from __future__ import annotations

from typing import Any

from .plugins import Registry


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
