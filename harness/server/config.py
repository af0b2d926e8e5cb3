"""The settings of ``harness serve`` and ``harness worker``: one immutable object,
built from command-line options over ``HARNESS_*`` environment variables over defaults,
and passed explicitly (nothing reads the environment behind its back)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from harness.errors import ConfigError

#: connectors a tenant may register: only those that talk to a URL. ``python`` would run
#: code of the applicant's choosing inside the service.
NETWORK_CONNECTORS = ("openai-chat", "http-json")


@dataclass(frozen=True)
class ServerConfig:
    """Everything the service needs to know. ``data_dir`` holds the SQLite store by
    default, the server's keys and rendered reports."""

    data_dir: Path = Path("platform")
    #: the store (runs, results, audit and the platform's tables); default SQLite in data_dir
    db_url: str | None = None
    #: Celery broker (``redis://...``); None: the server runs queued work in its own threads
    broker_url: str | None = None
    #: worker threads of the embedded queue (0: none, for a server beside Celery workers)
    embedded_workers: int = 2
    #: addresses or networks that targets may be at although they are not public
    allow: tuple[str, ...] = ()
    #: connectors tenants may register
    connectors: tuple[str, ...] = NETWORK_CONNECTORS
    #: largest request body, and largest uploaded suite or profile, in bytes
    max_body_bytes: int = 1_000_000
    max_document_bytes: int = 2_000_000
    #: requests per minute per API token (a burst of as many is allowed)
    rate_per_minute: int = 600
    #: requests per minute per client address without a valid token: the public
    #: endpoints, sign-in and every refused token (so guessing is slow)
    anonymous_rate_per_minute: int = 60
    #: a worker that has not renewed its lease on a shard for this long is presumed dead
    lease_s: float = 30.0
    #: how often a worker renews its lease and looks for a cancel
    heartbeat_s: float = 2.0
    #: largest shard count a run may ask for
    max_shards: int = 16
    #: seconds until the broker hands an unacknowledged task to another worker (Redis)
    visibility_timeout_s: float = 3600.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def store_url(self) -> str:
        return self.db_url or f"sqlite:///{self.data_dir / 'platform.db'}"

    @classmethod
    def from_env(cls, **overrides: Any) -> ServerConfig:
        """Defaults < ``HARNESS_<FIELD>`` environment variables < ``overrides`` (the
        command line; None means not given)."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            raw = os.environ.get(f"HARNESS_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _convert(f.name, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"])
        for key in ("allow", "connectors"):
            if isinstance(values.get(key), str):
                values[key] = _convert(key, values[key])
            elif key in values:
                values[key] = tuple(values[key])
        return replace(cls(), **values)


def _convert(name: str, raw: str) -> Any:
    default = getattr(ServerConfig(), name)
    try:
        if isinstance(default, tuple):
            return tuple(item.strip() for item in raw.split(",") if item.strip())
        if isinstance(default, bool):
            return raw.lower() in ("1", "true", "yes")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError as exc:
        raise ConfigError(f"HARNESS_{name.upper()}={raw!r} is not a valid {type(default).__name__}",
                          hint=f"set HARNESS_{name.upper()} to a number, or unset it") from exc
    return raw
