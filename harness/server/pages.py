"""The web pages: the same platform as the API, for people, rendered on the server.

Sign-in puts the API token in an HttpOnly, SameSite=Strict cookie that the API also
accepts, so a page's script can follow a run's server-sent events at
``/api/v1/runs/{id}/events`` and link to its report. Every page works through the
functions of :mod:`.api` with the caller of that cookie: the same checks, the same
tenant isolation (another organisation's run is "not found" here as there), the same
audit entries. Forms post to page routes that answer 303 to the page to look at next;
a post whose ``Origin`` is not this host is refused. Handlers are plain functions, run
in the thread pool like the API's.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from harness.errors import HarnessError

from . import api, certificates, deps, schemas
from .repo import FINAL_STATES, Caller
from .service import Service

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters["when"] = lambda t: "" if t is None else datetime.fromtimestamp(t, UTC).strftime(
    "%Y-%m-%d %H:%M UTC")


class _SignIn(Exception):
    """The page needs a signed-in caller and has none."""


def _status(exc: HarnessError) -> int:
    """The status the API gives the same error (see app.create_app)."""
    return 400 if exc.status >= 500 or getattr(exc, "kind", None) else exc.status


class PageRoute(APIRoute):
    """A page route: refuses a post from another site, sends a caller without a valid
    cookie to the sign-in page, and shows errors as a page rather than JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                if request.method not in ("GET", "HEAD"):
                    deps.same_origin(request)
                return await handle(request)
            except _SignIn:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={quote(target)}" if request.method == "GET" else "/login",
                                        status_code=303)
            except HarnessError as exc:
                error = (_status(exc), exc.message, exc.hint, None)
            except HTTPException as exc:
                error = (exc.status_code, str(exc.detail), None, exc.headers)
            except RequestValidationError as exc:
                error = (422, _invalid(exc.errors()), "correct the fields named", None)
            return await run_in_threadpool(error_page, request, *error)  # it reads the store

        return page


def _invalid(errors: Any) -> str:
    # never the input itself: it may hold an API key
    return "the form is not valid: " + "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body')}: {e.get('msg', '')}" for e in errors[:10])


M = TypeVar("M", bound=BaseModel)


def _model(cls: type[M], **data: Any) -> M:
    """The API's request model from a form, with the API's checks."""
    try:
        return cls(**data)
    except ValidationError as exc:
        raise HarnessError(_invalid(exc.errors(include_input=False)), hint="correct the fields named") from None


router = APIRouter(route_class=PageRoute, include_in_schema=False, default_response_class=HTMLResponse)


def person(request: Request) -> Caller:
    """The signed-in caller (cookie), as the API sees it, rate limit included."""
    try:
        return deps.caller(request)
    except HTTPException as exc:
        if exc.status_code == 401:
            raise _SignIn from None
        raise


def certifier(who: Annotated[Caller, Depends(person)]) -> Caller:
    return deps.certifier(who)


Svc = Annotated[Service, Depends(deps.service)]
Who = Annotated[Caller, Depends(person)]
Certifier = Annotated[Caller, Depends(certifier)]


def render(request: Request, name: str, status: int = 200, *, who: Caller | None = None,
           headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    """A page, with a policy that lets only its own inline script and style run."""
    nonce = secrets.token_urlsafe(16)
    org = None
    if who is not None:
        org = request.app.state.service.platform.get_org(who.org_id)["name"]
    response = templates.TemplateResponse(request, name, {"who": who, "org_name": org, "nonce": nonce, **context},
                                          status_code=status, headers=headers)
    response.headers.update({
        "Content-Security-Policy": f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
                                   "connect-src 'self'; img-src 'self' data:; form-action 'self'; "
                                   "frame-ancestors 'none'; base-uri 'none'",
        "Referrer-Policy": "same-origin", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})
    return response


def error_page(request: Request, status: int, message: str, hint: str | None,
               headers: dict[str, str] | None = None) -> HTMLResponse:
    titles = {403: "Not allowed", 404: "Not found", 409: "Not possible now", 429: "Too many requests"}
    token = request.cookies.get(deps.TOKEN_COOKIE)
    who = request.app.state.service.platform.authenticate(token) if token else None  # for the menu
    return render(request, "error.html", status, who=who, headers=headers,
                  title=titles.get(status, "Something is wrong"), code=status, message=message, hint=hint)


def see(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _local(path: str | None) -> str:
    """A path on this site to go on to after sign-in; / for anything else."""
    if not path or not path.startswith("/") or path.startswith("//") or any(c == "\\" or c <= " " for c in path):
        return "/"  # browsers drop tabs and newlines: "/\t/evil.example" would be "//evil.example"
    return path


# -- signing in and out -------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    token = request.cookies.get(deps.TOKEN_COOKIE)
    if token and request.app.state.service.platform.authenticate(token):
        return see(_local(next))
    return render(request, "login.html", title="Sign in", next=_local(next))


@router.post("/login")
def login(request: Request, svc: Svc, token: Annotated[str, Form(max_length=512)] = "",
          next: Annotated[str, Form(max_length=2000)] = "/") -> Response:
    deps.anonymous(request)  # every attempt counts against the address
    token = token.strip()
    if not token or svc.platform.authenticate(token) is None:
        return render(request, "login.html", 401, title="Sign in", next=_local(next),
                      error="That token is unknown or has been revoked.")
    response = see(_local(next))
    response.set_cookie(deps.TOKEN_COOKIE, token, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")
    return response


@router.api_route("/logout", methods=["GET", "POST"])
def logout(request: Request) -> Response:
    response = see("/login")
    response.delete_cookie(deps.TOKEN_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")
    return response


# -- dashboard --------------------------------------------------------------------------------


@router.get("/")
def dashboard(request: Request, svc: Svc, who: Who) -> Response:
    targets = api.list_targets(svc, who)
    names = {t["id"]: t["name"] for t in targets}
    context: dict[str, Any] = {"runs": api.list_runs(svc, who, limit=50), "names": names}
    if who.certifier:
        context.update(queue=api.queue(svc, who), orgs={o["id"]: o["name"] for o in svc.platform.list_orgs(who)})
    else:
        context.update(targets=targets)
    return render(request, "dashboard.html", who=who, title="Dashboard", **context)


# -- targets ---------------------------------------------------------------------------------


def _target_form(request: Request, svc: Service, who: Caller, status: int = 200, error: HarnessError | None = None,
                 **values: Any) -> Response:
    values = {"connector": svc.config.connectors[0], "concurrency": 8, "timeout_s": 60, **values}
    return render(request, "target_new.html", status, who=who, title="Register a target",
                  connectors=svc.config.connectors, values=values, error=error)


@router.get("/targets/new")
def new_target(request: Request, svc: Svc, who: Who) -> Response:
    return _target_form(request, svc, who)


@router.post("/targets")
def create_target(request: Request, svc: Svc, who: Who,
                  name: Annotated[str, Form()] = "", connector: Annotated[str, Form()] = "",
                  base_url: Annotated[str, Form()] = "", model: Annotated[str, Form()] = "",
                  api_key: Annotated[str, Form()] = "", concurrency: Annotated[str, Form()] = "",
                  timeout_s: Annotated[str, Form()] = "", extra: Annotated[str, Form()] = "") -> Response:
    values = {"name": name, "connector": connector, "base_url": base_url, "model": model,
              "concurrency": concurrency, "timeout_s": timeout_s, "extra": extra}  # never the key
    try:
        settings: dict[str, Any] = {}
        if extra.strip():
            try:
                settings = json.loads(extra)
            except ValueError as exc:
                raise HarnessError(f"other settings are not JSON: {exc}",
                                   hint='write a JSON object, e.g. {"rpm": 60}') from None
            if not isinstance(settings, dict):
                raise HarnessError("other settings must be a JSON object", hint='e.g. {"rpm": 60}')
        for key, raw, kind in (("base_url", base_url, str), ("model", model, str), ("concurrency", concurrency, int),
                               ("timeout_s", timeout_s, float)):
            if raw.strip():
                try:
                    settings[key] = kind(raw.strip())
                except ValueError:
                    number = "a whole number" if kind is int else "a number"
                    raise HarnessError(f"{key} must be {number}, not {raw.strip()[:20]!r}",
                                       hint=f"give {key} as {number}") from None
        body = _model(schemas.TargetIn, name=name.strip(), connector=connector, settings=settings,
                      api_key=api_key or None)
        api.create_target(body, svc, who)
    except HarnessError as exc:
        return _target_form(request, svc, who, 400, exc, **values)
    return see("/")


# -- runs --------------------------------------------------------------------------------------


def _run_form(request: Request, svc: Service, who: Caller, status: int = 200, error: HarnessError | None = None,
              **values: Any) -> Response:
    values = {"suites": [], "profile": "", "shards": "", **values}
    return render(request, "run_new.html", status, who=who, title="Start a run", error=error, values=values,
                  targets=api.list_targets(svc, who), suites=api.list_suites(svc, who),
                  profiles=api.list_profiles(svc, who))


@router.get("/runs/new")
def new_run(request: Request, svc: Svc, who: Who, target_id: str = "") -> Response:
    return _run_form(request, svc, who, target_id=target_id)


@router.post("/runs")
def request_run(request: Request, svc: Svc, who: Who, target_id: Annotated[str, Form()] = "",
                suites: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
                profile: Annotated[str, Form()] = "", shards: Annotated[str, Form()] = "") -> Response:
    values = {"target_id": target_id, "suites": suites, "profile": profile, "shards": shards}
    try:
        if shards.strip() and not shards.strip().isdigit():
            raise HarnessError("shards must be a whole number", hint="leave it empty for one shard")
        body = _model(schemas.RunIn, target_id=target_id, suites=suites, profile=profile,
                      **({"shards": int(shards)} if shards.strip() else {}))
        run = api.request_run(body, request, svc, who)
    except HarnessError as exc:
        return _run_form(request, svc, who, 400, exc, **values)
    return see(f"/runs/{run['id']}")


@router.get("/runs/{run_id}")
def run_page(request: Request, run_id: schemas.Id, svc: Svc, who: Who) -> Response:
    job = svc.platform.get_job(run_id, who)
    run = api.get_run(run_id, svc, who)
    return render(request, "run.html", who=who, title=f"Run {run_id}", run=run, live=run["state"] not in FINAL_STATES,
                  target=svc.platform.get_target(job["target_id"], who, deleted=True),
                  org_name_of_run=svc.platform.get_org(job["org_id"], who)["name"],
                  suites=[s["id"] for s in job["request"]["suites"]], profile=job["request"]["profile"]["id"],
                  certificates=svc.platform.list_certificates(who, run_id), max_days=certificates.MAX_DAYS)


@router.post("/runs/{run_id}/cancel")
def cancel_run(run_id: schemas.Id, svc: Svc, who: Who) -> Response:
    api.cancel_run(run_id, svc, who)
    return see(f"/runs/{run_id}")


@router.post("/runs/{run_id}/decision")
def decide(run_id: schemas.Id, svc: Svc, who: Certifier, decision: Annotated[str, Form()] = "",
           note: Annotated[str, Form()] = "") -> Response:
    api.decide(run_id, _model(schemas.DecisionIn, decision=decision, note=note), svc, who)
    return see(f"/runs/{run_id}")


# -- people's review of a run's sample -------------------------------------------------------

#: unlabelled items shown per page: a sample can be 2,000 items, labelled in sittings
REVIEW_PAGE = 40


@router.get("/runs/{run_id}/review")
def review_page(request: Request, run_id: schemas.Id, svc: Svc, who: Who) -> Response:
    """The run's review sample (harness.review): a certifier labels the next unlabelled
    items, each by what the reply did; the run's organisation may look; anyone else gets
    the API's 404."""
    return _review_page(request, run_id, svc, who)


def _review_page(request: Request, run_id: str, svc: Service, who: Caller, error: HarnessError | None = None,
                 status: int = 200) -> Response:
    sample = api.get_review(run_id, svc, who)
    todo = [i for i in sample["items"] if not i["label"]]
    done = [i for i in sample["items"] if i["label"]]
    return render(request, "review.html", status, who=who, title=f"Review of run {run_id}", run_id=run_id,
                  sample=sample, todo=todo[:REVIEW_PAGE], remaining=len(todo), done=done, error=error)


@router.post("/runs/{run_id}/review")
async def review_labels(request: Request, run_id: schemas.Id, svc: Svc, who: Certifier) -> Response:
    """Labels from the review form: one ``label:<key>`` field per item a person chose a
    label for (items left blank stay unlabelled), and ``acceptable:<key>`` (yes or no)
    where the profile asks about content. All or nothing, as in the API."""
    form = await request.form()
    marks = {name[11:]: {"yes": True, "no": False}.get(str(value)) for name, value in form.multi_items()
             if name.startswith("acceptable:")}
    labels = [{"key": name[6:], "label": value, **({"acceptable": marks[name[6:]]} if marks.get(name[6:]) is not None
                                                     else {})}
              for name, value in form.multi_items() if name.startswith("label:") and isinstance(value, str) and value]
    try:
        if not labels:
            raise HarnessError("no label was chosen", hint="choose a label for at least one item")
        await run_in_threadpool(api.post_review, run_id, schemas.ReviewIn(labels=labels), svc, who)
    except HarnessError as exc:
        return await run_in_threadpool(_review_page, request, run_id, svc, who, exc, 400)
    except ValidationError as exc:
        error = HarnessError(_invalid(exc.errors(include_input=False)), hint="choose one label per item")
        return await run_in_threadpool(_review_page, request, run_id, svc, who, error, 400)
    return see(f"/runs/{run_id}/review")


# -- certificates ------------------------------------------------------------------------------


@router.get("/verify/{cert_id}", dependencies=[Depends(deps.anonymous)])
def verify_page(request: Request, cert_id: schemas.Id, svc: Svc) -> Response:
    """A certificate's public verification page: anyone may open it, signed in or not.
    The same facts as ``GET /api/v1/public/certificates/{id}``, for people."""
    status = api.verify_certificate(cert_id, svc)
    return render(request, "verify.html", title=f"Certificate {cert_id}", cert=status, doc=status["certificate"])


@router.get("/certificates")
def list_certificates(request: Request, svc: Svc, who: Who) -> Response:
    now = time.time()
    rows = [{**c, "status": "revoked" if c["revoked_at"] is not None else "expired" if c["expires_at"] < now
             else "valid"} for c in api.list_certificates(svc, who)]
    orgs = {o["id"]: o["name"] for o in svc.platform.list_orgs(who)}
    return render(request, "certificates.html", who=who, title="Certificates", certificates=rows, orgs=orgs)


@router.post("/certificates")
def issue_certificate(svc: Svc, who: Certifier, run_id: Annotated[str, Form()] = "",
                      valid_days: Annotated[str, Form()] = "365") -> Response:
    days = int(valid_days) if valid_days.strip().isdigit() else valid_days
    api.issue_certificate(_model(schemas.CertificateIn, run_id=run_id, valid_days=days), svc, who)
    return see("/certificates")


@router.post("/certificates/{cert_id}/revoke")
def revoke_certificate(cert_id: schemas.Id, svc: Svc, who: Certifier, reason: Annotated[str, Form()] = "") -> Response:
    api.revoke_certificate(cert_id, _model(schemas.RevokeIn, reason=reason.strip()), svc, who)
    return see("/certificates")
