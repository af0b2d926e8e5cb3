"""Built-in connectors: ``openai-chat``, ``http-json`` and ``python``.

A connector makes one exchange and raises ``TargetError`` when it fails; retries, rate
limits and concurrency belong to the runner. API keys are read from the environment
variable the target file names, at connector creation, and kept only in the headers.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import re
from typing import Any

import httpx

from harness import (
    Case,
    ConfigError,
    ConnectorSpec,
    Reply,
    TargetError,
    hookimpl,
    http_errors,
    raise_for_status,
    redact,
)

_COMMON_HTTP = {
    "api_key_env": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
                    "description": "name of the environment variable that holds the API key"},
    "headers": {"type": "object", "additionalProperties": {"type": "string"},
                "description": "extra HTTP headers sent with every request"},
}

OPENAI_SCHEMA = {
    "type": "object",
    "required": ["base_url", "model"],
    "properties": {
        "base_url": {"type": "string", "pattern": "^https?://", "description": "e.g. http://127.0.0.1:8000/v1"},
        "model": {"type": "string", "minLength": 1},
        "path": {"type": "string", "pattern": "^/", "description": "default /chat/completions"},
        "system_prompt": {"type": "string", "description": "sent first, unless the case has its own"},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "max_tokens": {"type": "integer", "minimum": 1},
        "send_seed": {"type": "boolean", "description": "send the run's seed as `seed` (default true)"},
        "stream": {"type": "boolean", "description": "ask for server-sent events (for endpoints that only stream)"},
        **_COMMON_HTTP,
    },
}

HTTP_JSON_SCHEMA = {
    "type": "object",
    "required": ["url", "response_path"],
    "properties": {
        "url": {"type": "string", "pattern": "^https?://"},
        "method": {"enum": ["POST", "PUT"]},
        "body": {"description": "request body template: strings may hold {prompt}, {system}, {case_id}, {lang}; "
                                "a string that is exactly \"{messages}\" becomes the message list"},
        "response_path": {"type": "string", "minLength": 1,
                          "description": "dotted path to the answer text, e.g. output.text or choices.0.message.content"},
        "auth_header": {"type": "string", "description": "header that carries the key (default Authorization, as Bearer)"},
        **_COMMON_HTTP,
    },
}

PYTHON_SCHEMA = {
    "type": "object",
    "required": ["callable"],
    "properties": {
        "callable": {"type": "string", "pattern": r"^[\w.]+:[\w.]+$",
                     "description": "module:function taking the case and returning text, a Reply, or an awaitable of one"},
        "options": {"type": "object", "description": "keyword arguments passed to the callable"},
    },
}


def _auth_headers(target: Any, header: str = "Authorization") -> dict[str, str]:
    settings = target.settings
    headers = dict(settings.get("headers") or {})
    env = settings.get("api_key_env")
    if env:
        key = target.secret(env)
        if not key:
            raise ConfigError(f"the environment variable {env} (api_key_env) is not set",
                              hint=f"export {env}=... before the run")
        headers[header] = f"Bearer {key}" if header.lower() == "authorization" else key
    return headers


def _key(target: Any) -> str | None:
    env = target.settings.get("api_key_env")
    return target.secret(env) if env else None


def _hide(text: str, key: str | None) -> str:
    """The reply with the API key replaced by ***: an endpoint that echoes its request
    must not put the key in the store or a report."""
    return text.replace(key, "***") if key and len(key) >= 6 and key in text else text


def _messages(case: Any, default_system: str | None) -> list[dict[str, str]]:
    system = case.system or default_system
    head = [{"role": "system", "content": system}] if system else []
    return head + [dict(m) for m in case.messages]


def _malformed(target: str, why: str) -> TargetError:
    return TargetError(f"{target}: malformed reply: {why}", kind="malformed")


def _content_text(content: Any) -> str:
    """``message.content`` as text: a string, null (no text), or a list of content parts
    whose text parts are joined. Anything else is a reply the scorers cannot read."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) for p in content):
        return "".join(p["text"] for p in content if p.get("type") == "text" and isinstance(p.get("text"), str))
    raise TypeError(f"message.content is a {type(content).__name__}, not text")


#: words with which providers say that their content filter blocked the input (HTTP 400)
_FILTER_BLOCK = re.compile(
    r"content[_ ]?(filter|policy|management)|data_inspection_failed|inappropriate content|safety system|"
    r"moderation|responsible ai|不适当|敏感|违规|内容安全|安全审核|拦截",
    re.IGNORECASE,
)


def _filtered(choice: dict[str, Any]) -> bool:
    """A choice whose content filter flagged it (Azure-style ``content_filter_results``)."""
    results = choice.get("content_filter_results")
    return isinstance(results, dict) and any(isinstance(r, dict) and r.get("filtered") for r in results.values())


def _from_stream(body: str) -> dict[str, Any]:
    """A chat completion assembled from server-sent events (``stream: true``)."""
    text: list[str] = []
    finish = None
    usage = None
    for line in body.splitlines():
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            break
        chunk = json.loads(payload)
        usage = chunk.get("usage") or usage
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            piece = (choice.get("delta") or {}).get("content")
            if isinstance(piece, str):
                text.append(piece)
            finish = choice.get("finish_reason") or finish
    return {"choices": [{"message": {"content": "".join(text)}, "finish_reason": finish}], "usage": usage}


def _unreachable(name: str, url: Any, exc: Exception) -> ConfigError:
    if isinstance(exc, TargetError):  # the service's address policy refused it
        return ConfigError(f"{name}: cannot reach {url}: {exc.message}",
                           hint="the platform's allowlist decides which addresses targets may have")
    return ConfigError(f"{name}: cannot reach {url}: {type(exc).__name__}: {exc}",
                       hint="check the address in the target file and that the service is running")


def _refused_key(name: str, env: str | None, response: httpx.Response) -> ConfigError:
    """A 401/403 before the first case: the key is wrong (or missing), with the server's
    whole message."""
    body = redact(response.text[:2000], response.request).strip()
    whose = f"the key in {env}" if env else "the request (no api_key_env is set, so no key was sent)"
    return ConfigError(f"{name}: the endpoint refused {whose} (HTTP {response.status_code}: {body})",
                       hint=f"check the key in {env}" if env else "set api_key_env in the target file to the "
                                                                  "variable with the key")


async def _probe(name: str, env: str | None, url: Any, sending: Any) -> httpx.Response | None:
    """A preflight request's answer: an address that does not answer and a refused key
    are usage errors; slow or flaky (None) is left to the run's retries and breaker."""
    try:
        response = await sending
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol, TargetError) as exc:
        raise _unreachable(name, url, exc) from exc
    except httpx.HTTPError:
        return None
    if response.status_code in (401, 403) and not _FILTER_BLOCK.search(response.text[:2000]):
        raise _refused_key(name, env, response)
    return response


class OpenAIChat:
    """POST {base_url}{path} with an OpenAI chat-completions body.

    Speaks the dialects of "OpenAI-compatible" seen in practice: ``reasoning_content``
    beside the answer (ignored: the answer is ``content``), no ``usage``, ``content:
    null``, content parts, extra fields, server-sent events (asked for with ``stream:
    true`` or sent unasked), and errors as JSON or HTML. A provider's content filter
    (HTTP 400 naming it, ``finish_reason: content_filter``, or flagged filter results) is
    the service refusing, recorded as an answer with ``finish_reason: content_filter``,
    not as an error.
    """

    def __init__(self, target: Any, client: Any) -> None:
        s = target.settings
        self.name = target.name
        self.client = client
        # parsed once: httpx would parse and merge a string URL on every request
        self.url = httpx.URL(s["base_url"].rstrip("/") + s.get("path", "/chat/completions"))
        self.headers = _auth_headers(target)
        self.key = _key(target)
        self.system = s.get("system_prompt")
        self.send_seed = s.get("send_seed", True)
        self.extra = {k: s[k] for k in ("temperature", "max_tokens", "stream") if k in s}
        self.model = s["model"]
        self.target_env = s.get("api_key_env")

    async def send(self, case: Any, *, seed: int) -> Reply:
        body = {"model": self.model, "messages": _messages(case, self.system), **self.extra}
        if self.send_seed:
            body["seed"] = seed
        with http_errors(self.name):
            response = await self.client.post(self.url, json=body, headers=self.headers)
        if response.status_code in (400, 403, 422, 451) and _FILTER_BLOCK.search(response.text[:2000]):
            return Reply(text="", finish_reason="content_filter", status_code=response.status_code)
        raise_for_status(response, self.name)
        try:
            if response.headers.get("content-type", "").startswith("text/event-stream"):
                data = _from_stream(response.text)
            else:
                data = response.json()
            choice = data["choices"][0]
            text = _content_text(choice["message"].get("content"))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise _malformed(self.name, f"{type(exc).__name__}: {str(exc)[:100]}") from exc
        finish = "content_filter" if _filtered(choice) else choice.get("finish_reason")
        usage = data.get("usage") or {}
        tokens = usage.get("total_tokens") if isinstance(usage, dict) else None
        return Reply(text=_hide(text, self.key), finish_reason=finish, tokens=tokens,
                     status_code=response.status_code)


    async def preflight(self) -> None:
        """Check once, before the first case, that the endpoint can be reached, takes the
        key and knows the model; a ConfigError (a usage error, exit 2) says which of them
        is wrong. ``GET {base_url}/models`` first (where the dialect has it), then one
        small request. Transient trouble (429, 5xx, a timeout) is left to the run."""
        base = self.url.copy_with(path=self.url.path.rsplit("/chat/completions", 1)[0] or "/")
        try:
            listed = await self.client.get(base.join(base.path.rstrip("/") + "/models"), headers=self.headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol, TargetError) as exc:
            raise _unreachable(self.name, base, exc) from exc
        except httpx.HTTPError:
            return  # slow or flaky, not misconfigured: the run's retries and breaker handle it
        if listed.status_code in (401, 403):
            raise _refused_key(self.name, self.target_env, listed)
        known: list[str] = []
        if listed.status_code == 200:
            try:
                known = [m["id"] for m in listed.json().get("data", []) if isinstance(m, dict) and "id" in m]
            except (ValueError, AttributeError):
                known = []
        # the request decides: servers answer under aliases and deployments they do not list
        body = {"model": self.model, "messages": [{"role": "user", "content": "Hello"}], **self.extra}
        response = await _probe(self.name, self.target_env, self.url,
                                self.client.post(self.url, json=body, headers=self.headers))
        if response is None:
            return
        status = response.status_code
        message = redact(response.text[:2000], response.request).strip()
        if status == 404 or (status == 400 and "model" in message.lower()):
            if known and self.model not in known:
                raise ConfigError(f"{self.name}: the endpoint does not know model {self.model!r}; it lists "
                                  + ", ".join(repr(m) for m in known[:20]) + (" ..." if len(known) > 20 else ""),
                                  hint="set model in the target file to one of those")
            no_v1 = not base.path.rstrip("/").endswith("/v1")
            raise ConfigError(f"{self.name}: {self.url} answered HTTP {status} to a request for model "
                              f"{self.model!r}: {message}",
                              hint="OpenAI-compatible base URLs usually end in /v1 (e.g. http://host:port/v1)"
                              if no_v1 else "check model and base_url in the target file")


_PLACEHOLDER = re.compile(r"\{(prompt|system|case_id|lang)\}")


def _fill(template: Any, values: dict[str, Any]) -> Any:
    """Put the case into a body template, keeping JSON types. One pass: a placeholder
    written inside a prompt is sent as written (injection cases rely on it)."""
    if isinstance(template, str):
        if template == "{messages}":
            return values["messages"]
        return _PLACEHOLDER.sub(lambda m: str(values[m[1]] or ""), template)
    if isinstance(template, dict):
        return {k: _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values) for v in template]
    return template


def _dig(data: Any, path: list[str]) -> Any:
    for part in path:
        if isinstance(data, list):
            data = data[int(part)]
        else:
            data = data[part]
    return data


class HttpJson:
    """Any JSON HTTP API: a body template in, a field path out."""

    def __init__(self, target: Any, client: Any) -> None:
        s = target.settings
        self.name = target.name
        self.client = client
        self.url = httpx.URL(s["url"])
        self.method = s.get("method", "POST")
        self.headers = _auth_headers(target, s.get("auth_header", "Authorization"))
        self.key = _key(target)
        self.body = s.get("body", {"prompt": "{prompt}"})
        self.path = s["response_path"].split(".")
        self.target_env = s.get("api_key_env")

    async def send(self, case: Any, *, seed: int) -> Reply:
        values = {"prompt": case.prompt, "system": case.system, "case_id": case.id, "lang": case.lang,
                  "messages": _messages(case, None)}
        with http_errors(self.name):
            response = await self.client.request(self.method, self.url, json=_fill(self.body, values),
                                                 headers=self.headers)
        raise_for_status(response, self.name)
        return Reply(text=_hide(self._text(response), self.key), status_code=response.status_code)

    def _text(self, response: httpx.Response) -> str:
        try:
            text = _dig(response.json(), self.path)
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise _malformed(self.name, f"no {'.'.join(self.path)} in the reply") from exc
        if not isinstance(text, str):
            raise _malformed(self.name, f"{'.'.join(self.path)} is a {type(text).__name__}, not text")
        return text

    async def preflight(self) -> None:
        """One small request before the first case: an address that does not answer, a
        refused key, a URL the service does not have (404, 405) or a ``response_path``
        that is not in a successful reply is a usage error (exit 2) naming what is wrong,
        instead of a run whose every attempt fails the same way. Transient trouble (429,
        5xx, a timeout) is left to the run."""
        values = {"prompt": "Hello", "system": "", "case_id": "preflight", "lang": "en",
                  "messages": [{"role": "user", "content": "Hello"}]}
        response = await _probe(self.name, self.target_env, self.url,
                                self.client.request(self.method, self.url, json=_fill(self.body, values),
                                                    headers=self.headers))
        if response is None:
            return
        status = response.status_code
        if status in (404, 405):
            message = redact(response.text[:500], response.request).strip()
            raise ConfigError(f"{self.name}: {self.method} {self.url} answered HTTP {status}: {message}",
                              hint="check url and method in the target file")
        if not 200 <= status < 300:
            return
        try:
            self._text(response)
        except TargetError as exc:
            try:
                shape = _shape(response.json())
            except ValueError:
                shape = f"not JSON: {redact(response.text[:200], response.request)!r}"
            raise ConfigError(f"{self.name}: {exc.message.split(': ', 1)[1]}; the reply was {shape}",
                              hint="set response_path in the target file to the field with the answer text, "
                                   "e.g. output.text or choices.0.message.content") from exc


def _shape(data: Any, depth: int = 0) -> str:
    """A JSON reply's keys, nested two levels, without its values (they may be long or
    private): ``{"output": {"text", "id"}, "usage"}``."""
    if isinstance(data, dict) and depth < 2:
        inner = [f'"{k}": {_shape(v, depth + 1)}' if isinstance(v, dict | list) and depth < 1 else f'"{k}"'
                 for k, v in list(data.items())[:12]]
        return "{" + ", ".join(inner) + (", ..." if len(data) > 12 else "") + "}"
    if isinstance(data, list):
        return f"[{_shape(data[0], depth + 1) if data else ''}]" if depth < 2 else "[...]"
    return type(data).__name__


class PythonCallable:
    """An in-process function, for tests and custom glue."""

    def __init__(self, target: Any, client: Any = None) -> None:
        module_name, _, attr = target.settings["callable"].partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except Exception as exc:  # whatever the module raises at import is a bad target setting
            raise ConfigError(f"target {target.name}: cannot import {target.settings['callable']}: "
                              f"{type(exc).__name__}: {exc}",
                              hint="give module:function importable from the current environment") from exc
        if not callable(obj):
            raise ConfigError(f"target {target.name}: {target.settings['callable']} is a {type(obj).__name__}, "
                              "not a function", hint="name a function or another callable")
        self.fn = obj
        self.options = dict(target.settings.get("options") or {})
        self.name = target.name

    async def send(self, case: Any, *, seed: int) -> Reply:
        try:
            out = self.fn(case, **self.options)
            if inspect.isawaitable(out):
                out = await out
        except (TargetError, asyncio.CancelledError):
            raise
        except Exception as exc:  # the glue's fault is this attempt's error, not the run's
            raise TargetError(f"{self.name}: the callable raised {type(exc).__name__}: {exc}",
                              kind="exception") from exc
        if isinstance(out, Reply):
            return out
        if not isinstance(out, str):
            raise _malformed(self.name, f"the callable returned {type(out).__name__}, not text")
        return Reply(text=out)


@hookimpl
def register_connectors() -> list[ConnectorSpec]:
    return [
        ConnectorSpec("openai-chat", OpenAIChat, OPENAI_SCHEMA,
                      "OpenAI-compatible chat completions (system prompt, multi-turn, temperature, max_tokens, seed)"),
        ConnectorSpec("http-json", HttpJson, HTTP_JSON_SCHEMA,
                      "any JSON HTTP API: a request body template and a response field path"),
        ConnectorSpec("python", PythonCallable, PYTHON_SCHEMA, "an in-process Python callable"),
    ]
