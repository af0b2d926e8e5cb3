"""Secrets of the service: API tokens and the key that encrypts targets' API keys.

Tokens are 256 random bits, so a single sha256 of each is enough to store (a slow
password hash defends guessable secrets; these are not guessable) and lets a request be
authenticated by one indexed lookup. Target keys are encrypted with Fernet (AES-128-CBC
plus HMAC-SHA256, from ``cryptography``) under the server key, kept in a file of mode
0600 in the data folder or given in ``HARNESS_SECRET_KEY``; every worker needs the same
one.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from harness.errors import ConfigError

TOKEN_PREFIX = "hst_"


def new_token() -> str:
    """A fresh API token, shown once to its owner."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_id(prefix: str) -> str:
    """An unguessable id: knowing one run's id says nothing about another's."""
    return f"{prefix}_{secrets.token_hex(8)}"


def _private_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


class Vault:
    """Encrypts and decrypts target secrets with the server key."""

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError) as exc:
            raise ConfigError("the server's secret key is not a Fernet key (32 url-safe base64 bytes)",
                              hint="unset HARNESS_SECRET_KEY to use the key file, or make one with "
                                   "python -c 'from cryptography.fernet import Fernet; "
                                   "print(Fernet.generate_key().decode())'") from exc

    @classmethod
    def open(cls, data_dir: Path) -> Vault:
        """The key from ``HARNESS_SECRET_KEY``, else ``data_dir/secret.key`` (made on
        first use)."""
        env = os.environ.get("HARNESS_SECRET_KEY")
        if env:
            return cls(env.encode())
        path = data_dir / "secret.key"
        if not path.exists():
            try:
                _private_file(path, Fernet.generate_key())
            except FileExistsError:  # another process made it first
                pass
        return cls(path.read_bytes().strip())

    def encrypt(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def decrypt(self, blob: bytes) -> str:
        try:
            return self._fernet.decrypt(blob).decode()
        except InvalidToken as exc:
            raise ConfigError("a target's secret cannot be decrypted with this server's key",
                              hint="every server and worker must share one HARNESS_SECRET_KEY or secret.key") from exc


def signing_key(data_dir: Path):  # noqa: ANN201 - Ed25519PrivateKey, imported lazily
    """The service's Ed25519 key that signs reports and certificates: from
    ``HARNESS_SIGNING_KEY`` (a PEM file's path), else ``data_dir/signing/private.pem``,
    made on first use."""
    from harness import signing

    path = os.environ.get("HARNESS_SIGNING_KEY")
    if path:
        return signing.load_private_key(path)
    folder = data_dir / "signing"
    if not (folder / "private.pem").exists():
        try:
            signing.generate_keys(folder)
        except Exception:  # noqa: BLE001 - another process made it first; load below
            if not (folder / "private.pem").exists():
                raise
    return signing.load_private_key(folder / "private.pem")
