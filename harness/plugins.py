"""The plugin manager: hook specs, plugins from entry points and from ``-p``, and the
registries (connectors, scorers, reporters...) gathered from the ``register_*`` hooks."""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pluggy

from . import hookspecs
from .errors import ConfigError, PluginError

log = logging.getLogger("harness.plugins")

GROUP = "harness"


def make_plugin_manager(extra: Iterable[str] = (), blocked: Iterable[str] = ()) -> pluggy.PluginManager:
    """A fresh plugin manager: specs, the ``harness`` entry points, then ``extra``
    (dotted module paths given with ``-p``). ``blocked`` names entry points to skip."""
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    for name in blocked:
        pm.set_blocked(name)
    for ep in metadata.entry_points(group=GROUP):
        # one at a time, so a broken distribution names itself
        try:
            pm.load_setuptools_entrypoints(GROUP, name=ep.name)
        except Exception as exc:
            dist = ep.dist.name if ep.dist else "an unknown distribution"
            raise PluginError(
                f"plugin '{ep.name}' ({ep.value}, from {dist}) failed to load: {type(exc).__name__}: {exc}",
                hint=f"fix or uninstall {dist}, or skip it with --block {ep.name}",
            ) from exc
    for dotted in extra:
        try:
            module = importlib.import_module(dotted)
        except Exception as exc:  # a syntax error or a raise at import is the plugin's, not ours
            raise PluginError(
                f"plugin '-p {dotted}' cannot be imported: {type(exc).__name__}: {exc}",
                hint="give a dotted module path importable from the current environment",
            ) from exc
        if pm.get_plugin(dotted) is None and not pm.is_registered(module):
            try:
                pm.register(module, name=dotted)
            except pluggy.PluginValidationError as exc:
                raise PluginError(f"plugin '-p {dotted}' does not fit the hook specifications: {exc}",
                                  hint="compare its hooks with harness/hookspecs.py") from exc
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {exc.plugin!r} has a hook that matches no spec: {exc}",
                          hint="compare its hooks with harness/hookspecs.py") from exc
    return pm


@dataclass
class Registry:
    """What the loaded plugins offer, gathered once and looked up by name."""

    pm: pluggy.PluginManager
    _cache: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: (hook, name) -> the plugin that offered it, for ``harness list``.
    owner: dict[tuple[str, str], str] = field(default_factory=dict)

    def _gather(self, hook: str) -> dict[str, Any]:
        if hook not in self._cache:
            found: dict[str, Any] = {}
            caller = getattr(self.pm.hook, hook)
            for impl in reversed(caller.get_hookimpls()):  # registration order
                for spec in impl.function() or ():
                    if spec.name in found:
                        raise PluginError(
                            f"two plugins offer a {hook.removeprefix('register_')[:-1]} "
                            f"called '{spec.name}' (the second is {impl.plugin_name})",
                            hint="block one of them with --block NAME",
                        )
                    found[spec.name] = spec
                    self.owner[(hook, spec.name)] = impl.plugin_name
            self._cache[hook] = found
        return self._cache[hook]

    def _get(self, hook: str, kind: str, name: str) -> Any:
        found = self._gather(hook)
        if name not in found:
            known = ", ".join(sorted(found)) or "none"
            raise PluginError(
                f"no {kind} called '{name}' (known: {known})",
                hint="check the spelling, or load the plugin that offers it with -p MODULE",
            )
        return found[name]

    def build(self, kind: str, name: str, args: Mapping[str, Any]) -> Any:
        """What the ``kind`` (``scorer`` or ``probe``) called ``name`` makes from ``args``.
        Unknown arguments are refused here, by the factory's signature, for every plugin
        alike; the factory checks the values."""
        spec = self.scorer(name) if kind == "scorer" else self.probe(name)
        params = inspect.signature(spec.factory).parameters
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            unknown = sorted(set(args) - set(params))
            if unknown:
                takes = ", ".join(params) or "no arguments"
                raise ConfigError(f"{kind} '{name}': unknown argument(s) {', '.join(unknown)}",
                                  hint=f"'{name}' takes: {takes}")
        try:
            return spec.factory(**args)
        except TypeError as exc:
            raise ConfigError(f"{kind} '{name}': {exc}", hint=f"see `harness list {kind}s`") from exc

    def connectors(self) -> dict[str, Any]:
        return self._gather("register_connectors")

    def scorers(self) -> dict[str, Any]:
        return self._gather("register_scorers")

    def reporters(self) -> dict[str, Any]:
        return self._gather("register_reporters")

    def probes(self) -> dict[str, Any]:
        return self._gather("register_probes")

    def probe(self, name: str) -> Any:
        return self._get("register_probes", "probe", name)

    def reference_targets(self) -> dict[str, Any]:
        return self._gather("register_reference_targets")

    def connector(self, name: str) -> Any:
        return self._get("register_connectors", "connector", name)

    def scorer(self, name: str) -> Any:
        return self._get("register_scorers", "scorer", name)

    def reference_target(self, name: str) -> Any:
        return self._get("register_reference_targets", "reference target", name)

    def suite_dirs(self) -> list[Path]:
        return [Path(p) for paths in reversed(self.pm.hook.register_suite_dirs()) for p in paths]

    def profile_dirs(self) -> list[Path]:
        return [Path(p) for paths in reversed(self.pm.hook.register_profile_dirs()) for p in paths]

    def distribution_of(self, plugin_name: str) -> dict[str, str]:
        """The distribution (name, version) a plugin comes from, for manifests."""
        plugin = self.pm.get_plugin(plugin_name)
        for p, dist in self.pm.list_plugin_distinfo():
            if p is plugin:
                return {"distribution": dist.metadata["name"], "version": dist.version}
        module = getattr(plugin, "__name__", plugin_name).split(".")[0]
        dists = metadata.packages_distributions().get(module, [])
        if dists:
            return {"distribution": dists[0], "version": metadata.version(dists[0])}
        return {"distribution": "", "version": getattr(plugin, "__version__", "")}

    def plugins(self) -> list[dict[str, str]]:
        """Every registered plugin with its distribution and version."""
        out = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None or plugin is hookspecs:
                continue
            out.append({"name": name, **self.distribution_of(name)})
        return sorted(out, key=lambda p: p["name"])
