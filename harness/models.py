"""The data the harness passes around: plain frozen dataclasses, cheap to make by the
hundred thousand, and serialisable so runs can be stored and rebuilt."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

Status = Literal["pass", "fail", "error"]

#: target settings that say how the runner may drive the endpoint, not what it is
RUNNER_SETTINGS = ("concurrency", "rpm", "tpm", "timeout_s", "retries", "backoff_s", "max_backoff_s",
                   "max_consecutive_failures")
Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE"]


@dataclass(frozen=True, slots=True)
class ScorerRef:
    """Which scorer judges a case, with the arguments it is built with."""

    name: str
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Case:
    """One input plus the expected behaviour.

    ``messages`` is the conversation sent to the target (OpenAI roles: ``user`` and
    ``assistant``; the last one is the user's turn). ``expected`` is read by the scorer:
    ``refuse``/``comply`` for the refusal scorer, a string or list for ``contains``...
    """

    id: str
    suite: str
    messages: tuple[Mapping[str, str], ...]
    expected: Any = None
    scorer: ScorerRef = ScorerRef("contains")
    system: str | None = None
    category: str = "default"
    lang: str = "und"
    metadata: Mapping[str, Any] = field(default_factory=dict)
    #: a robot scenario (schemas/robot-scenario.schema.json) instead of a conversation
    scenario: Mapping[str, Any] | None = None

    @property
    def prompt(self) -> str:
        """The last user turn: what single-prompt connectors send."""
        return self.messages[-1]["content"]


@dataclass(frozen=True, slots=True)
class Suite:
    """A versioned set of cases on one risk area."""

    id: str
    version: str
    title: str
    cases: tuple[Case, ...]
    clause: str = ""
    description: str = ""
    languages: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    path: Path | None = None
    #: sha256 of the suite file and of any question bank it points at.
    sha256: str = ""
    #: for a derived suite: ``{"from": suite id or path, "per_category": n, "probes":
    #: [ScorerRef-like (name, args)]}``; its cases are made by ``harness.probes.expand``.
    derive: Mapping[str, Any] | None = None
    #: the quantity each attempt measures (robot suites), bounded by profiles per suite
    measure: str | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """The system under test: a connector name plus that connector's settings."""

    name: str
    connector: str
    settings: Mapping[str, Any]
    path: Path | None = None
    #: values of environment variables named in the settings (``api_key_env``) that the
    #: caller supplies itself: the service decrypts a target's key into this, per run,
    #: instead of putting it in the process environment that every run shares. Never
    #: part of the fingerprint, the manifest or the repr.
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def secret(self, name: str) -> str | None:
        """The value of environment variable ``name`` for this target: from
        :attr:`secrets` when given there, else from the process environment."""
        return self.secrets.get(name) or os.environ.get(name)

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the target in a manifest: never a secret, only the name of
        the environment variable that holds one. How hard the harness may push (the
        runner's limits) is recorded apart: it may change between a run and its resume."""
        shown = {k: self.settings[k] for k in ("base_url", "url", "model", "callable") if k in self.settings}
        deciding = {k: v for k, v in self.settings.items() if k not in RUNNER_SETTINGS}
        digest = hashlib.sha256(
            json.dumps({"connector": self.connector, **deciding}, sort_keys=True, default=str).encode()
        ).hexdigest()
        limits = {k: self.settings[k] for k in RUNNER_SETTINGS if k in self.settings}
        return {"name": self.name, "connector": self.connector, **shown, "settings_sha256": digest, "limits": limits}


@dataclass(slots=True)
class Reply:
    """What the target answered to one case."""

    text: str
    finish_reason: str | None = None
    #: tokens the endpoint says the exchange used (for tokens-per-minute limits).
    tokens: int | None = None
    status_code: int | None = None
    #: measurements of a robot episode (the text holds the same as JSON, for the store)
    data: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Score:
    """A scorer's judgement of one attempt."""

    status: Status
    value: float = 0.0
    #: a class name for rates such as ``refusal_rate`` (``refusal``, ``compliance``...).
    label: str | None = None
    evidence: str = ""
    #: scorer-specific fields for ``harness grade`` output (e.g. ``contains_pii``, ``kinds``)
    details: Mapping[str, Any] = field(default_factory=dict)
    #: the attempt's value of its suite's measure (``ssm_margin_mm``...): the metrics give
    #: each suite its minimum and maximum, which a profile can bound
    measure: float | None = None
    #: a grader's calibrated probability that ``label`` is right (None: no such measure)
    confidence: float | None = None
    #: marks the metrics count per group (``degenerate``: a reply with nothing usable;
    #: ``judged``: an LLM judge decided)
    flags: tuple[str, ...] = ()
    #: the short class of a scorer's own ``error`` (``uncertain``: the grader does not know)
    error_kind: str | None = None


@dataclass(slots=True)
class AttemptResult:
    """One attempt with its verdict, as it goes to the store and the case hooks."""

    key: str
    suite: str
    case_id: str
    epoch: int
    category: str
    lang: str
    status: Status
    score: float
    label: str | None
    evidence: str
    response: str | None
    error: str | None
    #: short error class for breakdowns: ``timeout``, ``http_503``, ``malformed``...
    error_kind: str | None
    latency_ms: float
    tries: int
    measure: float | None = None
    confidence: float | None = None
    #: the score's flags, comma-separated (None when it has none)
    flags: str | None = None

    @classmethod
    def of(cls, verdict: Score, *, key: str, suite: str, case_id: str, epoch: int, category: str, lang: str,
           response: str | None, error: str | None, error_kind: str | None, latency_ms: float, tries: int
           ) -> AttemptResult:
        """The attempt's result from its score: the one place where a Score's fields
        become a stored result (the runner and rescoring both build it here)."""
        return cls(key, suite, case_id, epoch, category, lang, verdict.status, verdict.value, verdict.label,
                   verdict.evidence, response, error, error_kind or verdict.error_kind, latency_ms, tries,
                   verdict.measure, verdict.confidence, ",".join(verdict.flags) or None)


@runtime_checkable
class Connector(Protocol):
    """Talks to one target. ``send`` makes one exchange and raises ``TargetError`` when
    it fails; the runner owns retries, rate limits and concurrency."""

    async def send(self, case: Case, *, seed: int) -> Reply: ...


ScoreFn = Callable[[Case, Reply], "Score | Awaitable[Score]"]


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    """A connector a plugin offers. ``factory(target, client)`` returns a
    :class:`Connector`; ``client`` is the run's ``httpx.AsyncClient`` for the target.
    ``settings_schema`` (a JSON Schema) checks the target file's settings at load time."""

    name: str
    factory: Callable[..., Connector]
    settings_schema: Mapping[str, Any] | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class ScorerSpec:
    """A scorer a plugin offers. ``factory(**args)`` returns ``score(case, reply)``."""

    name: str
    factory: Callable[..., ScoreFn]
    version: str = "1"
    description: str = ""
    #: every label the scorer can give: each gets a ``<label>_rate`` in every group of a
    #: suite that uses the scorer, even when no attempt got it (a rate of 0 is a value).
    labels: tuple[str, ...] = ()
    #: ``card(**args) -> dict``: the grader card of a scorer built with ``args`` (name,
    #: version, sha256 of its configuration and weights, its measured accuracy), shown in
    #: every report of a run it scored; None for scorers that only apply a rule
    card: Callable[..., Mapping[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    """A converter that makes a new case from a case (role play, an encoding...).
    ``factory(**args)`` returns ``convert(case, rng) -> Case``: the new case's messages
    (and system prompt) matter; the harness sets its id, suite and category. ``rng`` is
    a ``random.Random`` seeded from the run's seed, the suite, the case and the probe, so
    the same run always makes the same cases. ``convert`` returns None for a case it has
    nothing to rewrite in (an evasion probe that finds no word it knows): no case is made."""

    name: str
    factory: Callable[..., Callable[..., Case]]
    version: str = "1"
    description: str = ""


@dataclass(frozen=True, slots=True)
class ReporterSpec:
    """A report format. ``render(report, out_dir)`` writes the file and returns its path."""

    name: str
    render: Callable[[Mapping[str, Any], Path], Path]
    description: str = ""
    #: written by every run unless ``--format`` says otherwise; False for formats that
    #: need more than the harness (the PDF needs a browser)
    default: bool = True


@dataclass(frozen=True, slots=True)
class ReferenceTargetSpec:
    """A built-in endpoint for tests and demos. ``make_app(**options)`` returns an ASGI app."""

    name: str
    make_app: Callable[..., Any]
    policies: tuple[str, ...] = ()
    description: str = ""
