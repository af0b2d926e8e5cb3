"""Hook specifications of the ``harness`` project: every capability is a hook.

A plugin is a module (or object) with functions marked ``@hookimpl`` and named after a
spec below. It is loaded from the ``harness`` entry-point group or with ``-p
module.path`` on the command line. An implementation may take fewer arguments than its
spec; new arguments are only ever added at the end.

Hooks are called synchronously: ``register_*`` hooks are called once when the plugin
manager is built and return lists of specs (factories); the hot path calls what those
factories make. Observer hooks (``*_started``, ``*_finished``) must be cheap; their
exceptions are logged and recorded on the run, never fatal.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .models import (
        AttemptResult,
        ConnectorSpec,
        ProbeSpec,
        ReferenceTargetSpec,
        ReporterSpec,
        ScorerSpec,
    )

hookspec = pluggy.HookspecMarker("harness")
hookimpl = pluggy.HookimplMarker("harness")

# ---------------------------------------------------------------------------
# Registration: called once per plugin manager, results gathered from all plugins.
# ---------------------------------------------------------------------------


@hookspec
def register_connectors() -> list[ConnectorSpec]:
    """Return the connectors this plugin offers (a list of :class:`ConnectorSpec`).

    Called once when the harness gathers connectors. Two plugins offering the same
    name is a :class:`PluginError`.
    """


@hookspec
def register_scorers() -> list[ScorerSpec]:
    """Return the scorers this plugin offers (a list of :class:`ScorerSpec`).

    Called once when the harness gathers scorers; a suite names a scorer by
    ``ScorerSpec.name``.
    """


@hookspec
def register_probes() -> list[ProbeSpec]:
    """Return the probes (converters) this plugin offers (a list of :class:`ProbeSpec`).

    Called once when a derived suite is expanded; a suite names probes under
    ``derive.probes``.
    """


@hookspec
def register_reporters() -> list[ReporterSpec]:
    """Return the report formats this plugin writes (a list of :class:`ReporterSpec`).

    Called once when a run or ``harness report`` renders reports.
    """


@hookspec
def register_suite_dirs() -> list[Path]:
    """Return folders that hold suite YAML files (``*.yaml``, searched recursively).

    Called when a suite is named by id (``--suite genai.refusal``) and by
    ``harness list suites``. A suite provider that generates suites writes them or
    points at its own packaged folder.
    """


@hookspec
def register_profile_dirs() -> list[Path]:
    """Return folders that hold profile YAML files (sandbox criteria).

    Called when a profile is named by id and by ``harness list profiles``.
    """


@hookspec
def register_reference_targets() -> list[ReferenceTargetSpec]:
    """Return built-in endpoints that ``harness target serve NAME`` can start.

    Called once by ``harness target serve`` and ``harness demo``.
    """


# ---------------------------------------------------------------------------
# Run events: observers. Return values are ignored; each implementation is called on
# its own, so a failing one is recorded on the run and the others still run. Wrappers
# (``wrapper=True``) are not supported on these hooks.
# ---------------------------------------------------------------------------


@hookspec
def run_started(run_id: str, manifest: Mapping[str, Any]) -> None:
    """Called once per run (and once per resume) after the manifest is stored and
    before the first request is sent. Do not mutate ``manifest``."""


@hookspec
def case_finished(run_id: str, result: AttemptResult) -> None:
    """Called for every attempt as soon as it is scored, before it is stored.

    Runs on the event loop's thread: keep it to microseconds. Do not mutate ``result``.
    """


@hookspec
def run_finished(run_id: str, report: Mapping[str, Any]) -> None:
    """Called once after the report is built, before it is rendered to files."""
