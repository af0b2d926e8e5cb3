"""Shared fixtures: a fresh plugin registry per test, and reference targets served by
real uvicorn servers on loopback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.plugins import Registry, make_plugin_manager

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
