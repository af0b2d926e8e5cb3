"""The errors a user of the harness can meet.

Every error the harness raises on purpose derives from :class:`HarnessError`::

    HarnessError                 message + hint; the CLI prints both and exits 2
    ├── ConfigError              a bad target file, profile, option or environment
    ├── SuiteError               a bad suite file or question bank
    ├── PluginError              a plugin failed to load or broke a hook contract
    ├── StoreError               the store cannot be opened, migrated or resumed
    ├── TargetError              one exchange with the target failed (per attempt)
    │   └── ProtocolError        a robot controller's message is not what the protocol says
    └── AccessError              the platform refuses a request (HTTP 403/404/409)
        ├── NotFound             no such row, or not the caller's to see
        ├── Forbidden            the caller's role may not do this
        └── Conflict             the request clashes with the state of what it names

A failed safety check is data (a verdict with status ``fail``), never an exception.
A ``TargetError`` is caught by the runner and recorded as an ``error`` verdict for that
attempt; the run goes on.  Any other exception is a bug and shows its traceback.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base of the harness's own errors: ``message`` says what is wrong, ``hint`` the fix."""

    #: HTTP status the server answers with for this kind of error.
    status = 400

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class ConfigError(HarnessError):
    """A target file, profile, command-line option or environment variable is wrong."""


class SuiteError(HarnessError):
    """A suite file or the question bank it points at is wrong."""


class PluginError(HarnessError):
    """A plugin could not be loaded, or it broke the contract of a hook."""

    status = 500


class StoreError(HarnessError):
    """The store cannot be opened, migrated, or a run cannot be resumed as asked."""

    status = 409


class TargetError(HarnessError):
    """One exchange with the target failed.

    ``kind`` is one of ``timeout``, ``connect``, ``reset``, ``http`` (a status that is
    not 2xx; see ``status_code``), ``malformed`` (a reply the connector cannot read) or
    ``blocked`` (the address policy refuses the target's address; never retried).
    ``retry_after`` carries the server's Retry-After in seconds when it sent one.
    """

    status = 502

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        status_code: int | None = None,
        retry_after: float | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.kind = kind
        self.status_code = status_code
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Worth another try: timeouts, dropped connections, 429 and 5xx."""
        if self.kind in ("timeout", "connect", "reset"):
            return True
        return self.kind == "http" and self.status_code is not None and (
            self.status_code == 429 or self.status_code >= 500
        )

    @property
    def label(self) -> str:
        """Short name for error breakdowns: ``timeout``, ``http_503``, ``malformed``..."""
        return f"http_{self.status_code}" if self.kind == "http" else self.kind


class ProtocolError(TargetError, ValueError):
    """A robot controller's message is not what the protocol says (a malformed reply of
    the target); a ``ValueError`` too, as JSON decoding errors are."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, kind="malformed", hint=hint)


class AccessError(HarnessError):
    """The platform refuses a request: what it names is not there, not the caller's, or
    not in a state for it."""


class NotFound(AccessError):
    """No such row, or not the caller's to see."""

    status = 404


class Forbidden(AccessError):
    """The caller's role may not do this."""

    status = 403


class Conflict(AccessError):
    """The request clashes with the state of what it names."""

    status = 409
