"""Signed, verifiable reports: Ed25519 over the report's canonical JSON (RFC 8785, JCS).

A signed report carries at its top level::

    "signature": {"alg": "Ed25519", "key_id": "<16 hex>", "value": "<base64>", "canonical": "RFC8785"}

``value`` signs the RFC 8785 canonical JSON of the report *without* its ``signature``
member, so what is signed does not depend on how the file is indented or in which order
its keys are written: any reader that parses ``report.json`` (in any language) and puts
it in canonical form gets the same bytes. ``key_id`` is the first 16 hex digits of the
sha256 of the raw 32-byte public key; it names the key, it is not signed (changing it
only makes the report fail to verify).

:func:`verify` checks the signature and, given the suite files and the profile, that the
sha256 the report's manifest names for each of them is the sha256 of the files on disk,
computed as the harness computes it when it runs (:func:`harness.suite.load_suite`,
:func:`harness.criteria.load_profile`).

Derived suites (``derive:`` in the YAML, e.g. genai.jailbreak) have a manifest sha256 that
mixes their own file, their base suite's sha256 and the run's seed (see
:func:`harness.probes.expand`). :func:`verify` expands them with the manifest's seed,
looking up a base named by id in the given folder first and then in the installed suite
folders, and with the probes of the installed plugins; a base or a probe that cannot be
found is a problem that names it.

Numbers: RFC 8785 treats every JSON number as an IEEE 754 double. An integer beyond
+/-(2**53 - 1) has no exact double, so two different integers could canonicalise the
same and a change would go unseen: such integers are refused, as NaN and infinities are.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, HarnessError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    from .plugins import Registry

ALG = "Ed25519"
CANONICAL = "RFC8785"
PRIVATE_NAME = "private.pem"
PUBLIC_NAME = "public.pem"
#: the largest integer magnitude a double holds exactly (I-JSON, RFC 7493 2.2)
MAX_SAFE_INTEGER = 2**53 - 1

# ---------------------------------------------------------------------------
# RFC 8785 canonical JSON
# ---------------------------------------------------------------------------

_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_ESCAPES = {chr(i): _SHORT_ESCAPES.get(chr(i), f"\\u{i:04x}") for i in range(0x20)} | _SHORT_ESCAPES


def _py_string(value: str) -> str:
    # JCS (RFC 8785 3.2.2.2): escape '"', '\\' and U+0000..U+001F (the short forms where
    # JSON has one, else \u00xx in lower case); every other character as itself
    return '"' + "".join(_ESCAPES.get(c, c) for c in value) + '"'


try:  # the json module's C escaper does exactly what JCS asks (tests/unit/test_signing.py)
    from json.encoder import c_encode_basestring as _string  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    _string = None
if _string is None:  # pragma: no cover
    _string = _py_string


def number(value: float | int) -> str:
    """A number as ECMAScript's ``Number.prototype.toString`` writes it (RFC 8785 3.2.2.3)."""
    if isinstance(value, int):
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return int.__repr__(value)  # bool is an int too: never "True"
        raise ValueError(f"integer {value} is beyond +/-(2**53 - 1): RFC 8785 cannot represent it exactly")
    if value != value or value in (_INF, -_INF):
        raise ValueError(f"{value!r} is not a JSON number (RFC 8785 rejects NaN and infinities)")
    if value == 0:
        return "0"  # -0 too
    # repr gives the shortest digits that round-trip, as ECMAScript's algorithm asks;
    # only the layout differs
    text = float.__repr__(value)
    if "e" not in text:  # 1e-4 <= |value| < 1e16: the same but for a trailing ".0"
        return text[:-2] if text.endswith(".0") else text
    if value < 0:
        return "-" + number(-value)
    mantissa, _, exp = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    # value = 0.<digits> x 10**n (ECMAScript's s x 10**(n - k), s having k digits)
    n = len(whole) + int(exp) - (len(digits) - len(digits.lstrip("0")))
    digits = digits.strip("0")
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    e = n - 1
    sign = "+" if e >= 0 else "-"
    return (digits if k == 1 else digits[0] + "." + digits[1:]) + "e" + sign + str(abs(e))


_INF = float("inf")


def _utf16_key(key: str) -> bytes:
    # big-endian UTF-16 bytes compare as the code units do (RFC 8785 3.2.3)
    return key.encode("utf-16-be", "surrogatepass")


def _emit(doc: Any, out: list[str]) -> None:
    kind = type(doc)
    if kind is str:
        out.append(_string(doc))
    elif kind is float or kind is int:
        out.append(number(doc))
    elif kind is dict or isinstance(doc, Mapping):
        if not doc:
            out.append("{}")
            return
        for key in doc:
            if type(key) is not str:
                raise TypeError(f"object key {key!r} is not a string")
        # keys of ASCII (most keys) sort the same by code point as by UTF-16 code unit
        keys = sorted(doc) if all(key.isascii() for key in doc) else sorted(doc, key=_utf16_key)
        sep = "{"
        for key in keys:
            out.append(sep)
            out.append(_string(key))
            out.append(":")
            _emit(doc[key], out)
            sep = ","
        out.append("}")
    elif kind is list or kind is tuple:
        if not doc:
            out.append("[]")
            return
        sep = "["
        for item in doc:
            out.append(sep)
            _emit(item, out)
            sep = ","
        out.append("]")
    elif doc is None:
        out.append("null")
    elif doc is True:
        out.append("true")
    elif doc is False:
        out.append("false")
    elif isinstance(doc, str):
        out.append(_string(doc))
    elif isinstance(doc, (int, float)):
        out.append(number(int(doc) if isinstance(doc, int) else float(doc)))
    elif isinstance(doc, (list, tuple)):
        _emit(list(doc), out)
    else:
        raise TypeError(f"{type(doc).__name__} is not a JSON value")


def canonical_json(doc: Any) -> bytes:
    """``doc`` in RFC 8785 (JCS) canonical form, UTF-8: keys sorted by UTF-16 code
    units, no whitespace, strings and numbers written as JCS says.

    Raises ``ValueError`` for NaN, infinities, integers beyond +/-(2**53 - 1) and
    strings with lone surrogates, ``TypeError`` for what is not JSON."""
    out: list[str] = []
    _emit(doc, out)
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"a string holds a lone surrogate ({exc.reason}): not valid UTF-8") from exc


def signed_bytes(report: Mapping[str, Any]) -> bytes:
    """What the signature of a report covers: the canonical JSON of the report without
    its ``signature`` member."""
    return canonical_json({k: v for k, v in report.items() if k != "signature"})


# ---------------------------------------------------------------------------
# keys
# ---------------------------------------------------------------------------


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex digits of the sha256 of the raw 32-byte public key."""
    return hashlib.sha256(_raw_public(public_key)).hexdigest()[:16]


def generate_keys(out_dir: Path | str, *, force: bool = False) -> tuple[Path, Path]:
    """Write a new Ed25519 key pair: ``private.pem`` (PKCS#8, unencrypted, mode 0600)
    and ``public.pem`` (SubjectPublicKeyInfo). Refuses to replace existing keys unless
    ``force``. Returns (private path, public path)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    out = Path(out_dir)
    private_path, public_path = out / PRIVATE_NAME, out / PUBLIC_NAME
    existing = [p for p in (private_path, public_path) if p.exists()]
    if existing and not force:
        raise ConfigError(f"{', '.join(map(str, existing))} already exist{'s' if len(existing) == 1 else ''}",
                          hint="keep the keys you have (reports signed with them verify only with them), "
                               "choose another --out, or replace them with --force")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {out}: {exc.strerror}", hint="choose a folder you can write to") from exc
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        # the private key is never readable by others, not even for a moment
        tmp = private_path.with_name(PRIVATE_NAME + ".tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(private_pem)
        os.chmod(tmp, 0o600)  # whatever the umask
        tmp.replace(private_path)
        public_path.write_bytes(public_pem)
    except OSError as exc:
        raise ConfigError(f"cannot write the keys to {out}: {exc.strerror}",
                          hint="choose a folder you can write to") from exc
    return private_path, public_path


def _read_pem(path: Path | str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: the {what} cannot be read ({exc.strerror})",
                          hint="give the path of a PEM file written by `harness keys generate`") from exc


def load_private_key(path: Path | str) -> Ed25519PrivateKey:
    """The Ed25519 private key in a PEM file; ``ConfigError`` naming the file otherwise."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    data = _read_pem(path, "signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:  # encrypted
        raise ConfigError(f"{path}: the signing key is encrypted with a password",
                          hint="give an unencrypted PKCS#8 key, as `harness keys generate` writes") from exc
    except (ValueError, binascii.Error) as exc:
        hint = ("this is a public key: sign with private.pem, verify with public.pem"
                if b"PUBLIC KEY" in data else "give private.pem written by `harness keys generate`")
        raise ConfigError(f"{path}: not a PEM private key", hint=hint) from exc
    except Exception as exc:  # cryptography raises its own UnsupportedAlgorithm
        raise ConfigError(f"{path}: the signing key cannot be loaded ({exc})",
                          hint="give private.pem written by `harness keys generate`") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: the signing key is not an Ed25519 key",
                          hint="create one with `harness keys generate`")
    return key


def load_public_key(path: Path | str) -> Ed25519PublicKey:
    """The Ed25519 public key in a PEM file (a private key's public half is taken too)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    data = _read_pem(path, "public key")
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key()
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, binascii.Error) as exc:
        raise ConfigError(f"{path}: not a PEM public key",
                          hint="give public.pem written by `harness keys generate`") from exc
    except Exception as exc:
        raise ConfigError(f"{path}: the public key cannot be loaded ({exc})",
                          hint="give public.pem written by `harness keys generate`") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{path}: the public key is not an Ed25519 key",
                          hint="give public.pem written by `harness keys generate`")
    return key


# ---------------------------------------------------------------------------
# sign and verify
# ---------------------------------------------------------------------------


def sign(report: Mapping[str, Any], private_key: Path | str | Ed25519PrivateKey) -> dict[str, Any]:
    """The report with a top-level ``signature`` (any old one replaced). ``private_key``
    is a PEM path or a loaded key.

    What is signed is the report as a reader of ``report.json`` sees it: the report goes
    through JSON once first, so tuples, dict subclasses and the like sign as the arrays
    and objects they are written as."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    manifest = report.get("manifest")
    if isinstance(manifest, Mapping) and manifest.get("subset"):  # every path that signs: run, rescore, review
        raise ConfigError("a run that sent only part of each suite (--limit, --sample) is not signed: it certifies "
                          "nothing", hint="leave out the signing key, or run the whole suites")
    key = private_key if isinstance(private_key, Ed25519PrivateKey) else load_private_key(private_key)
    body = {k: v for k, v in report.items() if k != "signature"}
    as_read = json.loads(json.dumps(body, ensure_ascii=False, allow_nan=False))
    value = key.sign(canonical_json(as_read))
    return {**body, "signature": {"alg": ALG, "key_id": key_id(key.public_key()),
                                  "value": base64.b64encode(value).decode("ascii"), "canonical": CANONICAL}}


def load_report(path: Path | str) -> dict[str, Any]:
    """A report file as a dict; ``ConfigError`` when it cannot be read or is not a JSON object."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: the report cannot be read ({exc.strerror})",
                          hint="give the path of a report.json") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: the report is not UTF-8 text", hint="give the path of a report.json") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: the report is not JSON: {exc.msg}",
                          hint="give the path of a report.json") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: the report is not a JSON object", hint="give the path of a report.json")
    return doc


def _check_signature(report: Mapping[str, Any], public_key: Ed25519PublicKey) -> list[str]:
    from cryptography.exceptions import InvalidSignature

    sig = report.get("signature")
    if sig is None:
        return ["the report has no signature (it was not run with --sign-key, or the signature was removed)"]
    if not isinstance(sig, Mapping):
        return ["the report's signature is not an object"]
    problems = []
    if sig.get("alg") != ALG:
        problems.append(f"the signature's alg is {sig.get('alg')!r}, not {ALG!r}")
    if sig.get("canonical") != CANONICAL:
        problems.append(f"the signature's canonical form is {sig.get('canonical')!r}, not {CANONICAL!r}")
    given = key_id(public_key)
    if sig.get("key_id") != given:
        problems.append(f"signed with key {sig.get('key_id')}, you gave {given}")
        return problems  # the signature cannot verify with another key: saying so adds nothing
    try:
        value = base64.b64decode(str(sig.get("value", "")), validate=True)
    except (binascii.Error, ValueError):
        return problems + ["the signature's value is not base64"]
    try:
        message = signed_bytes(report)
    except (ValueError, TypeError) as exc:
        return problems + [f"the report cannot be put in canonical form ({exc}): it was changed after signing"]
    try:
        public_key.verify(value, message)
    except InvalidSignature:
        problems.append("the signature does not match: the report was changed after signing")
    return problems


def _short(digest: Any) -> str:
    return f"{str(digest)[:12]}…"


class _DirFirst:
    """A registry whose suite folders start with ``folder``: a derived suite's base named
    by id is looked up in the folder being verified before the installed ones."""

    def __init__(self, registry: Registry, folder: Path) -> None:
        self._registry, self._folder = registry, folder

    def suite_dirs(self) -> list[Path]:
        return [self._folder, *self._registry.suite_dirs()]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._registry, name)


def _base_of(suite: Any, dirs: _DirFirst) -> str:
    """The base a derived suite names, and the file it is found in, for messages."""
    from .suite import find

    ref = suite.derive["from"]
    try:
        path = (suite.path.parent / ref if ref.endswith((".yaml", ".yml")) and suite.path is not None
                else find(ref, dirs.suite_dirs(), "suite"))
    except HarnessError:
        return f"{ref} (not found)"
    return ref if str(path).endswith(ref) else f"{ref} ({path})"


def _check_suites(manifest: Mapping[str, Any], folder: Path, registry: Any) -> list[str]:
    from .probes import expand
    from .suite import load_suite, peek_id

    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such folder", hint="--suites takes the folder that holds the suite files")
    entries = manifest.get("suites")
    if not isinstance(entries, list):
        return ["the report's manifest has no list of suites"]
    wanted = {e.get("id") for e in entries if isinstance(e, Mapping) and isinstance(e.get("id"), str)}
    paths: dict[str, list[Path]] = {}
    for path in sorted([*folder.rglob("*.yaml"), *folder.rglob("*.yml")]):
        found = peek_id(path)
        if isinstance(found, str) and found in wanted:
            paths.setdefault(found, []).append(path)
    seed = manifest.get("seed", 0)
    problems = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            problems.append("the report's manifest has a suite that is not an object")
            continue
        sid, recorded = entry.get("id"), entry.get("sha256")
        if not isinstance(sid, str) or sid not in paths:
            problems.append(f"suite {sid} of the report is not in {folder}")
            continue
        seen = []
        for path in paths[sid]:
            try:
                suite = load_suite(path)
                note = ""
                if suite.derive:
                    if registry is None:
                        from .plugins import Registry, make_plugin_manager

                        registry = Registry(make_plugin_manager())
                    elif callable(registry):  # a factory: plugins are loaded only when needed
                        registry = registry()
                    dirs = _DirFirst(registry, folder)
                    note = (f" (a derived suite: its hash covers {path.name}, its base "
                            f"{_base_of(suite, dirs)} and seed {seed})")
                    suite = expand(suite, dirs, seed)  # type: ignore[arg-type]
            except HarnessError as exc:
                seen.append(f"{path} cannot be loaded: {exc.message}")
                continue
            if suite.sha256 == recorded:
                break
            seen.append(f"sha256 {_short(recorded)} in the report, {_short(suite.sha256)} on disk ({path}){note}")
        else:
            problems.extend(f"suite {sid}: {text}" for text in seen)
    return problems


def _check_profile(manifest: Mapping[str, Any], path: Path) -> list[str]:
    from .criteria import load_profile

    if not path.is_file():
        raise ConfigError(f"{path}: no such profile file", hint="--profile takes the profile file the run used")
    recorded = manifest.get("profile")
    if not isinstance(recorded, Mapping):
        return ["the report's manifest has no profile"]
    profile = load_profile(path)
    problems = []
    if profile.id != recorded.get("id"):
        problems.append(f"profile {path} is {profile.id}, the report's is {recorded.get('id')}")
    if profile.sha256 != recorded.get("sha256"):
        problems.append(f"profile {recorded.get('id')}: sha256 {_short(recorded.get('sha256'))} in the report, "
                        f"{_short(profile.sha256)} on disk ({path})")
    return problems


def verify(report: Mapping[str, Any], public_pem_path: Path | str, suites_dir: Path | str | None = None,
           profile: Path | str | None = None, *,
           registry: Registry | Callable[[], Registry] | None = None) -> list[str]:
    """The problems of a report, one sentence each; empty when it is intact.

    Checks the signature with the public key, and with ``suites_dir`` (searched
    recursively for suite YAML, matched by id) and ``profile`` that the sha256 in the
    report's manifest are those of the files on disk. Raises ``ConfigError`` when the
    key, the folder or the profile cannot be read (``registry``, or a function that makes
    one: the plugins whose probes expand derived suites; the installed ones by default)."""
    public_key = load_public_key(public_pem_path)
    problems = _check_signature(report, public_key)
    part = (report.get("manifest") or {}).get("subset") if isinstance(report.get("manifest"), Mapping) else None
    if part:  # signed by hand (signing refuses it): intact or not, it certifies nothing
        how = ", ".join(f"--{k} {v}" for k, v in part.items()) if isinstance(part, Mapping) else repr(part)[:80]
        problems.append(f"the run sent only part of each suite ({how}): it certifies nothing")
    if suites_dir is None and profile is None:
        return problems
    manifest = report.get("manifest")
    if not isinstance(manifest, Mapping):
        return problems + ["the report has no manifest"]
    if suites_dir is not None:
        problems += _check_suites(manifest, Path(suites_dir), registry)
    if profile is not None:
        problems += _check_profile(manifest, Path(profile))
    return problems
