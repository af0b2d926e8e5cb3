"""Where the shipped data folders (schemas/, suites/, profiles/, reports/) are.

In a wheel they are package data under ``harness/data/``; in a checkout (editable
install) they are the top-level folders beside ``harness/``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_HERE = Path(__file__).resolve().parent


@cache
def data_dir(name: str) -> Path:
    """The folder of shipped data called ``name`` (``schemas``, ``suites``, ...)."""
    for base in (_HERE / "data", _HERE.parent):
        if (base / name).is_dir():
            return base / name
    raise FileNotFoundError(f"the harness's {name}/ folder is missing from the installation")
