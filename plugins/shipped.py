"""The suites and profiles shipped with the harness."""

from __future__ import annotations

from pathlib import Path

from harness import data_dir, hookimpl


@hookimpl
def register_suite_dirs() -> list[Path]:
    return [data_dir("suites")]


@hookimpl
def register_profile_dirs() -> list[Path]:
    return [data_dir("profiles")]
