"""One process's view of the platform: its settings, the store, the plugins, the keys
and the address policy. The API, the embedded workers and each Celery worker process
build one and share it across their threads."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, SuiteError
from harness.models import Target
from harness.netguard import AddressPolicy
from harness.plugins import Registry, make_plugin_manager
from harness.store import Store
from harness.targets import parse_target

from .config import ServerConfig
from ..errors import NotFound
from .repo import Platform
from .vault import Vault, signing_key

#: the environment variable name a registered target's key is known by inside the
#: service; the key itself never reaches the process environment
KEY_ENV = "HARNESS_TARGET_KEY"


class Service:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store.open(config.store_url)
        self.platform = Platform(self.store)
        self.registry = Registry(make_plugin_manager())
        self.vault = Vault.open(config.data_dir)
        self.policy = AddressPolicy(config.allow)
        self._signing_key: Any = None
        self._shipped: dict[str, dict[str, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.store.close()

    @property
    def signing_key(self) -> Any:
        with self._lock:
            if self._signing_key is None:
                self._signing_key = signing_key(self.config.data_dir)
            return self._signing_key

    # -- targets --------------------------------------------------------------------------

    def _target(self, name: str, connector: str, settings: dict[str, Any], secret: str | None,
                label: str) -> Target:
        """A target from its parts, checked as a target file is (``label`` names it in
        errors); its key, if any, goes into ``Target.secrets``, never the environment."""
        doc = {"name": name, "connector": connector, **settings}
        target = parse_target(json.dumps(doc), Path(label), self.registry, {KEY_ENV: secret} if secret else {})
        return replace(target, path=None)

    def check_target(self, name: str, connector: str, settings: dict[str, Any], secret: str | None) -> Target:
        """A target being registered: one of the service's connectors, and the same schema
        checks as a target file."""
        if connector not in self.config.connectors:
            raise ConfigError(f"connector {connector!r} is not offered by this service",
                              hint=f"use one of: {', '.join(self.config.connectors)}")
        return self._target(name, connector, settings, secret, f"target {name!r}")

    def target_of(self, row: dict[str, Any]) -> Target:
        """The stored target with its key decrypted."""
        secret = self.vault.decrypt(row["secret"]) if row.get("secret") else None
        return self._target(row["name"], row["connector"], row["settings"], secret, f"target {row['id']}")

    # -- suites and profiles -------------------------------------------------------------------

    def document_path(self, sha256: str) -> Path:
        """The uploaded document as a file in this machine's data folder, written on
        first use (a worker on another machine writes its own copy)."""
        row = self.platform.document(sha256)
        if row is None:
            raise NotFound(f"no uploaded document {sha256}")
        path = self.config.data_dir / "documents" / sha256 / f"{row['doc_id']}.yaml"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
            tmp.write_text(row["text"], encoding="utf-8")
            tmp.replace(path)
        return path

    def shipped(self, kind: str) -> dict[str, dict[str, Any]]:
        """The installed suites or profiles by id, as ``harness list`` shows them (read
        once: they are package data and do not change while the process lives)."""
        with self._lock:
            if kind not in self._shipped:
                from harness.listing import rows

                self._shipped[kind] = {row["id"]: {k: v for k, v in row.items() if k != "path"}
                                       for row in rows(self.registry, f"{kind}s")}
            return self._shipped[kind]

    def pin(self, kind: str, ref: str) -> dict[str, Any]:
        """A suite or profile named by a run request, pinned: an uploaded one by the
        sha256 of its newest upload, a shipped one by id."""
        row = self.platform.newest_document(kind, ref)
        if row is not None:
            return {"id": ref, "sha256": row["sha256"]}
        if ref in self.shipped(kind):
            return {"id": ref, "sha256": None}
        error = SuiteError if kind == "suite" else ConfigError
        raise error(f"no {kind} {ref!r} on this service", hint=f"GET /api/v1/{kind}s lists them")

    def ref_path(self, pinned: dict[str, Any]) -> str:
        return str(self.document_path(pinned["sha256"])) if pinned["sha256"] else pinned["id"]
