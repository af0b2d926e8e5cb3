"""Shared fixtures: a fresh plugin registry per test, and reference targets served by
real uvicorn servers on loopback."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

# Modules with a C core are imported once for the whole session: pytester forgets the
# modules a test imported, and numpy (the refusal grader's runtime) refuses a second
# import, while a second yaml builds nodes its first C loader no longer recognises.
import numpy  # noqa: F401
import pytest
import yaml  # noqa: F401

from harness.plugins import Registry, make_plugin_manager
from harness.serving import serve_in_thread

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def registry() -> Registry:
    return Registry(make_plugin_manager())


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch):
    """Tests never see the CI switch, so progress output is what a test asks for."""
    monkeypatch.delenv("CI", raising=False)


@pytest.fixture(scope="session")
def pg_url() -> str:
    url = os.environ.get("HARNESS_TEST_PG_URL")
    if not url:
        pytest.skip("HARNESS_TEST_PG_URL is not set (a PostgreSQL URL); .ci/run sets it")
    return url


@pytest.fixture
def reference(registry) -> Iterator[Callable[..., str]]:
    """``reference(policy, **options)`` serves reference-chat in a thread and returns
    its base URL; every server stops at the end of the test."""
    spec = registry.reference_target("reference-chat")
    with ExitStack() as stack:
        yield lambda policy="safe", **options: stack.enter_context(
            serve_in_thread(spec.make_app(policy=policy, **options)))
