"""The API's request and response bodies (Pydantic), and the errors every route may
answer with: the shapes the OpenAPI at ``/docs`` documents."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from . import certificates

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class Error(BaseModel):
    error: str
    hint: str | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Error, "description": why} for code, why in (
        (400, "bad input: the message names what and the hint the fix"),
        (401, "no token, or a token that is unknown or revoked"),
        (403, "the caller's role may not do this"),
        (404, "no such thing, or not the caller's to see"),
        (409, "the request clashes with the state of what it names"),
        (413, "the request body is too large"),
        (422, "the request does not match its schema"),
        (429, "too many requests for this token: see Retry-After"),
    )
}


class Org(BaseModel):
    id: str
    name: str
    created_at: float


class OrgIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name


class User(BaseModel):
    id: str
    org_id: str
    name: str
    role: Literal["certifier", "applicant"]
    created_at: float


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    role: Literal["certifier", "applicant"]


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: Annotated[str, Field(max_length=200)] = ""


class Token(BaseModel):
    id: str
    user_id: str
    label: str
    created_at: float
    revoked_at: float | None = None


class TokenCreated(Token):
    token: str = Field(description="the token itself: shown this once, stored only as a hash")


class Me(BaseModel):
    user: User
    org: Org
    token_id: str


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    connector: Annotated[str, Field(min_length=1, max_length=64)]
    settings: dict[str, Any] = Field(default_factory=dict,
                                     description="the connector's settings, as in a target file (base_url, model, ...)")
    api_key: Annotated[str, Field(min_length=1, max_length=4096)] | None = Field(
        default=None, description="the endpoint's API key: encrypted at rest, never returned")
    org_id: Id | None = Field(default=None, description="certifiers only: the organisation the target belongs to")


class TargetOut(BaseModel):
    id: str
    org_id: str
    name: str
    connector: str
    settings: dict[str, Any]
    has_api_key: bool
    created_at: float


class Document(BaseModel):
    id: str
    kind: Literal["suite", "profile"]
    version: str
    sha256: str
    source: Literal["shipped", "uploaded"]
    title: str | None = None


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, Field(min_length=1, description="the suite or profile as YAML")]


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target_id: Id
    suites: Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]], Field(min_length=1, max_length=50)]
    profile: Annotated[str, Field(min_length=1, max_length=200)]
    seed: Annotated[int, Field(ge=0, le=2**53 - 1)] = 0
    epochs: Annotated[int, Field(ge=1, le=100)] = 1
    shards: Annotated[int, Field(ge=1, le=64)] = 1
    concurrency: Annotated[int, Field(ge=1, le=1024)] | None = None


class Run(BaseModel):
    id: str
    org_id: str
    target_id: str
    requested_by: str
    state: Literal["queued", "running", "finished", "cancelled", "failed"]
    run_status: str
    verdict: str | None = None
    total: int
    done: int
    errors: int
    shards: int
    error: str | None = None
    decision: str | None = None
    decision_note: str | None = None
    created_at: float
    updated_at: float


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approved", "rejected"]
    note: Annotated[str, Field(max_length=2000)] = ""


class CertificateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run_id: Id
    valid_days: Annotated[int, Field(ge=1, le=certificates.MAX_DAYS)] = 365


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class Certificate(BaseModel):
    id: str
    run_id: str
    org_id: str
    issued_at: float
    expires_at: float
    revoked_at: float | None = None
    revoked_reason: str | None = None
    document: dict[str, Any]


class CertificateStatus(BaseModel):
    id: str
    status: Literal["valid", "expired", "revoked", "invalid"]
    signature_valid: bool
    problems: list[str]
    revoked_at: str | None = None
    revoked_reason: str | None = None
    certificate: dict[str, Any]


class AuditEntry(BaseModel):
    seq: int
    at: str
    actor: str
    action: str
    subject: str
    data: Any = None
    prev_sha256: str
    sha256: str


class AuditCheck(BaseModel):
    intact: bool
    entries: int
    problems: list[str]
    head_sha256: str | None = None


class ReviewLabel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(max_length=300, description="an item's key from GET /runs/{id}/review")
    label: str = Field(max_length=50, description="one of the item's labels")
    acceptable: bool | None = Field(default=None, description="whether the reply is acceptable content: required "
                                    "where the item says content is asked (the profile's x-profile.review.content)")
    note: str | None = Field(default=None, max_length=500)


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: at most 500 a request, so the largest valid body stays under the service's body limit
    labels: list[ReviewLabel] = Field(max_length=500)
