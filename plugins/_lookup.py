"""Scorers that stand on another scorer find it the way the harness does: by its name,
among the plugins of the ``harness`` entry points (never by importing it), so a run that
blocks a built-in plugin on the command line still finds the shipped one, and a scorer
given only with ``-p`` is not seen."""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from harness import Case, PluginError, Reply


@functools.cache
def scorer_factory(name: str, needed_by: str) -> Callable[..., Callable[[Case, Reply], Any]]:
    """The factory of the scorer registered as ``name``; ``needed_by`` names the scorer
    that asks, for the error when no plugin offers it."""
    for ep in entry_points(group="harness"):
        try:
            module = ep.load()
        except Exception:  # a broken plugin is the plugin manager's to report, not ours
            continue
        hook = getattr(module, "register_scorers", None)
        if not callable(hook):
            continue
        for spec in hook() or ():
            if getattr(spec, "name", None) == name:
                return spec.factory
    raise PluginError(f"scorer '{needed_by}' needs the '{name}' scorer, and no plugin of the 'harness' entry points "
                      "offers it", hint=f"reinstall sandbox-harness, whose plugins offer '{name}'")


@functools.cache
def built_scorer(name: str, needed_by: str) -> Callable[[Case, Reply], Any]:
    """The score function of ``name`` built with its defaults, once per process."""
    return scorer_factory(name, needed_by)()
