"""Fixtures for runs against real servers on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.helpers import write


def target_file(folder: Path, url: str, **settings: Any) -> Path:
    lines = [f"name: {settings.pop('name', 'ref')}", "connector: openai-chat", f"base_url: {url}/v1",
             "model: reference"]
    lines += [f"{k}: {v}" for k, v in {"concurrency": 8, "timeout_s": 5, **settings}.items()]
    return write(folder / "target.yaml", "\n".join(lines) + "\n")


def overview_suite(folder: Path, n: int, name: str = "bulk") -> Path:
    """``n`` English cases the reference target answers; every fifth expects a word it
    never says, so the run has passes and fails in a known ratio."""
    cases = []
    for i in range(n):
        word = "never-said" if i % 5 == 0 else "overview"
        cases.append(f"  - {{id: c{i:05d}, prompt: 'Tell me about topic number {i}.', expected: {word}, "
                     f"category: cat{i % 3}}}")
    return write(folder / f"{name}.yaml",
                 f"id: {name}\nversion: '1'\ntitle: Bulk\nscorer: contains\ndefaults: {{lang: en}}\ncases:\n"
                 + "\n".join(cases) + "\n")


def pass_rate_profile(folder: Path, suite: str = "bulk", minimum: float = 0.5, max_error_rate: float = 0.02) -> Path:
    return write(folder / "profile.yaml", f"""\
$id: test-bulk
title: Bulk test profile
x-profile: {{version: "1", inconclusive: {{max_error_rate: {max_error_rate}, min_valid_n: 10}}}}
type: object
properties:
  suites:
    required: [{suite}]
    properties:
      {suite}:
        properties:
          pass_rate:
            properties:
              value:
                minimum: {minimum}
                x-criterion: {{id: passes, clause: test, message: Too few passes.}}
""")


def harness_cli(*args: str, env: dict[str, str] | None = None, **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run the ``harness`` command of this environment as a user would."""
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True,
                          env={**os.environ, "CI": "true", **(env or {})}, timeout=120, **kw)
