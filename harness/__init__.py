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
from .judging import Judge, JudgeVerdict
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
from .resources import data_dir
from .targets import Connection, http_errors, raise_for_status

__version__ = "0.1.0"

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
]
