"""Targets: loading target files, the HTTP client a run uses for one target, and the
one place where httpx's exceptions become :class:`TargetError`."""

from __future__ import annotations

import email.utils
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, TargetError
from .files import (
    Problem,
    explain,
    format_problems,
    locate,
    parse,
    pointer,
    problems_of,
    read_text,
    schema,
    unknown_key_fix,
)
from .models import Target

if TYPE_CHECKING:
    import httpx

    from .netguard import AddressPolicy
    from .plugins import Registry

#: Defaults of the runner's settings, shared by every connector.
DEFAULTS: dict[str, Any] = {
    "concurrency": 8,
    "timeout_s": 60.0,
    "retries": 3,
    "backoff_s": 0.5,
    "max_backoff_s": 30.0,
    "max_consecutive_failures": 25,
}


def load_target(path: Path, registry: Registry, secrets: Mapping[str, str] | None = None) -> Target:
    """Read and check a target file: the common keys, then the connector's own settings
    against its schema. Unknown keys are errors, so a typo never goes unnoticed.
    ``secrets`` supplies the values of environment variables the file names (see
    :attr:`Target.secrets`)."""
    text = read_text(path, ConfigError)
    return parse_target(text, path, registry, secrets)


def parse_target(text: str, path: Path, registry: Registry, secrets: Mapping[str, str] | None = None) -> Target:
    """Check the target document ``text`` (YAML or JSON) as :func:`load_target` does;
    ``path`` names it in errors and in the manifest."""
    secrets = dict(secrets or {})
    data = parse(path, text, ConfigError)
    problems = problems_of(path, text, data, "target")
    if not isinstance(data, dict) or not isinstance(data.get("connector"), str):
        raise ConfigError(f"{path} is not a valid target file:\n" + format_problems(problems),
                          hint="a target file needs name and connector; see schemas/target.schema.json")
    spec = registry.connectors().get(data["connector"])
    if spec is None:
        line = locate(text, ["connector"])
        known = ", ".join(sorted(registry.connectors()))
        raise ConfigError(
            f"{path}:{line[0] if line else '?'}: unknown connector {data['connector']!r}",
            hint=f"use one of: {known} (or load the plugin that offers it with -p MODULE)",
        )
    own = dict(spec.settings_schema or {"type": "object"})
    allowed = set(schema("target")["properties"]) | set(own.get("properties", {}))
    for key in data:
        if key not in allowed:
            problems.append(Problem(str(path), *(locate(text, [key]) or (None, None)), f"/{key}",
                                    f"unknown key {key!r} for connector {spec.name!r}",
                                    unknown_key_fix([key], allowed)))
    from jsonschema import Draft202012Validator

    for error in Draft202012Validator(own).iter_errors(data):
        parts = list(error.absolute_path)
        message, hint = explain(error)
        problems.append(Problem(str(path), *(locate(text, parts) or (None, None)), pointer(parts), message, hint))
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise ConfigError(f"{path} is not a valid target file:\n" + format_problems(problems),
                          hint="`harness list connectors` shows each connector's settings")
    settings = {**DEFAULTS, **{k: v for k, v in data.items() if k not in ("name", "connector")}}
    env = settings.get("api_key_env")
    if env and not (secrets.get(env) or os.environ.get(env)):
        line = locate(text, ["api_key_env"])
        raise ConfigError(
            f"{path}:{line[0] if line else '?'}: the environment variable {env} (named by api_key_env) is not set",
            hint=f"export {env}=... before the run; the key is read from there and never written anywhere",
        )
    return Target(name=data["name"], connector=data["connector"], settings=settings, path=path, secrets=secrets)


def make_client(target: Target, policy: AddressPolicy | None = None) -> httpx.AsyncClient:
    """The one ``httpx.AsyncClient`` of a run for ``target``, over the lean transport,
    with as many keep-alive connections as the concurrency. With a ``policy`` (the
    service) every connection is checked against it (see :mod:`harness.netguard`)."""
    import httpx

    from .transport import FastTransport

    return httpx.AsyncClient(
        transport=FastTransport(max_connections=int(target.settings["concurrency"]), policy=policy),
        timeout=httpx.Timeout(float(target.settings["timeout_s"])),
        follow_redirects=False,
        trust_env=False,  # never send sandbox traffic through a proxy from the environment
    )


def policy_of(client: Any) -> AddressPolicy | None:
    """The address policy of a client made by :func:`make_client` (None outside the
    service): what a connector's own connections, such as a WebSocket, are checked
    against too."""
    return getattr(getattr(client, "_transport", None), "policy", None)  # httpx keeps its transport there


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


#: request headers that never carry a secret; every other header's value is redacted
_PLAIN_HEADERS = frozenset((b"host", b"accept", b"accept-encoding", b"connection", b"user-agent",
                            b"content-length", b"content-type"))


def redact(text: str, request: httpx.Request) -> str:
    """``text`` with the values of the request's credential-bearing headers (the API key,
    whether sent as ``Bearer KEY`` or alone, and any custom header) replaced by ***,
    so an endpoint that echoes its request cannot put a secret into a store or report."""
    for name, value in request.headers.raw:
        if name.lower() in _PLAIN_HEADERS:
            continue
        whole = value.decode("latin-1")
        for secret in sorted({whole, whole.split(" ", 1)[-1]}, key=len, reverse=True):
            if len(secret) >= 6:
                text = text.replace(secret, "***")
    return text


def raise_for_status(response: httpx.Response, target: str) -> None:
    """A non-2xx reply becomes a ``TargetError`` with its status, Retry-After and the
    start of its body, with secrets redacted."""
    if response.status_code < 300:
        return
    body = redact(response.text[:4096], response.request)[:200].replace("\n", " ")
    raise TargetError(
        f"{target} answered HTTP {response.status_code}: {body}",
        kind="http",
        status_code=response.status_code,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )


@contextmanager
def http_errors(target: str) -> Iterator[None]:
    """Translate httpx's exceptions, most specific first, into ``TargetError``."""
    import httpx

    try:
        yield
    except httpx.TimeoutException as exc:
        raise TargetError(f"{target}: timed out ({type(exc).__name__})", kind="timeout") from exc
    except httpx.ConnectError as exc:
        raise TargetError(f"{target}: cannot connect: {exc}", kind="connect") from exc
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        raise TargetError(f"{target}: connection dropped: {exc or type(exc).__name__}", kind="reset") from exc
    except httpx.HTTPError as exc:
        raise TargetError(f"{target}: {type(exc).__name__}: {exc}", kind="connect") from exc


class Connection:
    """A connector to the target described by a target file, with its own client: for
    plugins that need to talk to a second endpoint (an LLM judge, a translator).

    Use it inside the event loop that sends::

        async with Connection("judge.yaml") as judge:
            reply = await judge.send(case, seed=0)
    """

    def __init__(self, path: str | Path) -> None:
        from .plugins import Registry, make_plugin_manager

        registry = Registry(make_plugin_manager())
        self.target = load_target(Path(path), registry)
        self._factory = registry.connector(self.target.connector).factory
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Any:
        self._client = make_client(self.target)
        return self._factory(self.target, self._client)

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
