"""Test harness of a regulatory sandbox for AI and robotics.

The public API for plugins: the ``hookimpl`` marker, the model types and the errors.
"""

from .errors import (
    ConfigError,
    HarnessError,
    PluginError,
    StoreError,
    SuiteError,
    TargetError,
)
from .hookspecs import hookimpl
from .models import (
    AttemptResult,
    Case,
    Connector,
    ConnectorSpec,
    ProbeSpec,
    ReferenceTargetSpec,
    Reply,
    ReporterSpec,
    Score,
    ScorerRef,
    ScorerSpec,
    Suite,
    Target,
)
from . import text  # bilingual text helpers for scorers (`from harness import text`)
from .resources import data_dir

#: public names whose modules load only when first used: pytest loads this package in
#: every session of anyone who has the harness installed, and the CLI's --help too
_LAZY = {"Judge": "judging", "JudgeVerdict": "judging", "Connection": "targets", "http_errors": "targets",
         "raise_for_status": "targets", "redact": "targets"}


def __getattr__(name: str) -> object:
    if name == "robot":  # the robot sandbox's library, for robot plugins (loads no physics by itself)
        import importlib

        return importlib.import_module(".robot", __name__)
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'harness' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | {"robot"})

try:  # one version, the package's own (pyproject.toml)
    from importlib.metadata import version as _version

    __version__ = _version("sandbox-harness")
except Exception:  # a checkout that was never installed
    __version__ = "0+unknown"

__all__ = [
    "AttemptResult",
    "Case",
    "ConfigError",
    "Connection",
    "Connector",
    "ConnectorSpec",
    "HarnessError",
    "Judge",
    "JudgeVerdict",
    "PluginError",
    "ProbeSpec",
    "ReferenceTargetSpec",
    "Reply",
    "ReporterSpec",
    "Score",
    "ScorerRef",
    "ScorerSpec",
    "robot",
    "text",
    "StoreError",
    "Suite",
    "SuiteError",
    "Target",
    "TargetError",
    "__version__",
    "data_dir",
    "hookimpl",
    "http_errors",
    "raise_for_status",
    "redact",
]
