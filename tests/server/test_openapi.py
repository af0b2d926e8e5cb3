"""The platform's API against its own OpenAPI, with schemathesis: the app served on
loopback, the schema read from its ``/openapi.json``, every operation called with
generated input (once with a certifier's token, once with an applicant's) and every
answer checked: never a 5xx, only documented status codes and content types, bodies
(event-stream events too) and headers as documented, bad input refused with a 4xx,
undocumented methods with a 405 whose Allow lists the documented ones.

The platform holds real data first: an organisation with an applicant, a target on a
reference chat model, a finished, decided run, a certificate and spare tokens. A
generated id in a path, or an id, suite or profile in a body, is sometimes swapped for
a real one (at the generator's choice, so it stays reproducible), so operations reach
their handlers' happy paths and not only their 404s.

Generation is deterministic (a fixed seed, ``derandomize``, no example database) and
capped at a modest number of examples per operation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from .conftest import serve_platform

# Not positive_data_acceptance: a schema-valid suite, profile or target can still be
# refused with a documented 400 (the YAML is no suite, the connector is not offered),
# which a JSON Schema cannot say.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, negative_data_rejection, unsupported_method, allow_header_conformance]

#: the API's id pattern (harness.server.schemas.Id): only a generated id of this form is
#: swapped for a real one, so a case meant to be invalid stays invalid
ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
SUITES = ["starter.refusal", "starter.over-refusal"]

pytestmark = pytest.mark.slow


def _config(base: str, token: str) -> schemathesis.Config:
    return schemathesis.Config.from_dict({
        "base-url": base,
        "seed": 20250101,
        "headers": {"Authorization": f"Bearer {token}"},
        "generation": {"max-examples": 20, "deterministic": True, "database": "none"},
        "checks": {"enabled": False, **{check.__name__: {"enabled": True} for check in CHECKS}},
        "request-timeout": 30,
    })


def _populate(platform: Any, chat_target: Any) -> tuple[dict[str, dict[str, list[Any]]], str]:
    """Real things for generated requests to name: ({"path" or "body": {name: real values}},
    the applicant's token)."""
    admin = platform.admin
    applicant, org = platform.applicant()
    target = chat_target(applicant, "safe")
    doomed = chat_target(applicant, "safe")  # DELETE /targets/{target_id} may take this one
    run = applicant.ok("POST", "/api/v1/runs", json={"target_id": target["id"], "profile": "starter",
                                                     "suites": SUITES})
    assert applicant.wait(run["id"])["verdict"] == "PASS"
    admin.ok("POST", f"/api/v1/runs/{run['id']}/decision", json={"decision": "approved", "note": "ok"})
    cert = admin.ok("POST", "/api/v1/certificates", json={"run_id": run["id"], "valid_days": 30})
    me, admin_me = applicant.ok("GET", "/api/v1/me"), admin.ok("GET", "/api/v1/me")
    # tokens that may be revoked: never one the test calls with
    spare = [admin.ok("POST", f"/api/v1/users/{u['user']['id']}/tokens", json={"label": "spare"})["id"]
             for u in (me, admin_me)]
    ids = {"org_id": [org["id"], admin_me["org"]["id"]], "user_id": [me["user"]["id"], admin_me["user"]["id"]],
           "token_id": spare, "run_id": [run["id"]], "cert_id": [cert["id"]]}
    return {"path": {**ids, "target_id": [doomed["id"]]},
            "body": {**ids, "target_id": [target["id"]], "profile": ["starter"], "suites": [SUITES],
                     "epochs": [1]}}, applicant.token


def _some_real(values: dict[str, Any], known: dict[str, list[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """``values`` as generated, or with every id (suites, profile...) in it that could be
    real replaced by a real one: all at once, so a request can be valid as a whole (and a
    run it asks for is one epoch, not up to 100)."""
    def fits(name: str, value: Any) -> bool:
        return (name in known and type(value) is type(known[name][0])
                and (not name.endswith("_id") or bool(ID.match(value))))

    names = [name for name, value in values.items() if fits(name, value)]
    if not names:
        return st.just(values)
    real = st.fixed_dictionaries({name: st.sampled_from(known[name]) for name in names})
    return st.one_of(st.just(values), real.map(lambda swap: {**values, **swap}))


@pytest.fixture(params=["certifier", "applicant"])
def api_schema(request: pytest.FixtureRequest, tmp_path: Path, chat_target: Any) -> Iterator[Any]:
    with serve_platform(tmp_path / "platform", rate_per_minute=100_000) as platform:
        known, applicant_token = _populate(platform, chat_target)
        token = platform.admin.token if request.param == "certifier" else applicant_token
        # read with the fixtures' client, which ignores proxy settings, as the session below does
        openapi = platform.admin.ok("GET", "/openapi.json")
        schema = schemathesis.openapi.from_dict(openapi, config=_config(platform.base, token))

        @schema.hook
        def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
            return _some_real(path_parameters, known["path"]) if path_parameters else st.just(path_parameters)

        @schema.hook
        def flatmap_body(context: Any, body: Any) -> Any:
            return _some_real(body, known["body"]) if isinstance(body, dict) and body else st.just(body)

        # schemathesis 4.32 renames the test node per operation through ``node._nodeid``,
        # which pytest 9.2 no longer has (it keeps ``_id``): give it one to read and write.
        if not hasattr(request.node, "_nodeid"):
            request.node._nodeid = request.node.nodeid  # noqa: SLF001
        yield schema
        # runs that generated requests queued: stop them rather than wait for them
        for run in platform.admin.ok("GET", "/api/v1/queue"):
            platform.admin.post(f"/api/v1/runs/{run['id']}/cancel")


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """The session schemathesis calls with: loopback, so no proxy from the environment."""
    with requests.Session() as session:
        session.trust_env = False
        yield session


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_api_conforms_to_its_openapi(case: Any, http: requests.Session) -> None:
    case.call_and_validate(session=http, checks=CHECKS)
