"""The platform's web pages in headless Chromium (Playwright): an applicant signs in with
its token, registers a target, starts a run and watches it live (server-sent events,
no reload), opens the HTML report; a certifier signs in, finds the run, decides, issues
a certificate and revokes it. Another organisation's run is a 404 page.

Skipped, with the reason, without Playwright or Chromium. Screenshots of each main
step land in test-artifacts/platform-*.png for a person to look at. The last test needs
no browser: sign-in cookies, redirects and the refusal of forms from another site."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness_plugins import html_report

from harness import ConfigError
from harness.server.deps import TOKEN_COOKIE
from tests.server.conftest import Platform, serve_platform

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
SUITES = ["starter.refusal", "starter.over-refusal"]
CASES = 96  # of the two starter suites


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    with serve_platform(tmp_path / "platform") as p:
        yield p


@pytest.fixture
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev dependency group")
    try:
        binary = html_report.chromium()
    except ConfigError as exc:
        pytest.skip(f"no Chromium: {exc.message} ({exc.hint})")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=binary, args=FLAGS, headless=True)
        try:
            yield b
        finally:
            b.close()


class Session:
    """One person's browser context on the platform, recording what goes wrong in it."""

    def __init__(self, browser: Any, base: str) -> None:
        self.context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        # script errors and refusals by the content security policy (an error answer's
        # "Failed to load resource" is not one: a form's 400 is a page too)
        self.page.on("console", lambda m: m.type == "error" and not m.text.startswith("Failed to load resource")
                     and self.problems.append(f"console: {m.text}"))

    def sign_in(self, token: str) -> None:
        page = self.page
        page.goto("/")
        assert re.search(r"/login\?next=/$", page.url), page.url
        page.fill("#token", token)
        page.click("button:text('Sign in')")
        page.wait_for_url(re.compile(r"/$"))

    def shot(self, name: str) -> None:
        """A screenshot for people to look at, and a check that the page fits its 1280 px:
        a wide table scrolls inside itself, never the page."""
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"platform-{name}.png"), full_page=True)
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1280, f"{name}: the page is {width} px wide at 1280"


def test_applicant_runs_and_certifier_certifies_in_the_browser(platform, browser, reference):
    url = reference("safe", latency_ms=150)
    applicant, _ = platform.applicant("Acme Robotics")

    # -- the applicant signs in: the token goes into an HttpOnly, SameSite=Strict cookie
    alice = Session(browser, platform.base)
    page = alice.page
    alice.sign_in(applicant.token)
    cookie = next(c for c in alice.context.cookies() if c["name"] == TOKEN_COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert TOKEN_COOKIE not in page.evaluate("document.cookie")
    assert "alice (applicant, Acme Robotics)" in page.inner_text("#who")
    alice.shot("01-applicant-dashboard")

    # -- registers a target: first at an address the platform refuses, with a key
    page.click("nav >> text=Register a target")
    secret = "sk-never-echo-this-7f3a"
    page.fill("#name", "acme-chat")
    page.select_option("#connector", "openai-chat")
    page.fill("#base_url", "http://10.0.0.7/v1")
    page.fill("#model", "reference-safe")
    page.fill("#api_key", secret)
    page.fill("#concurrency", "4")
    page.fill("#timeout_s", "10")
    page.click("button:text('Register the target')")
    assert "blocked" in page.inner_text("#form-error")
    assert page.input_value("#name") == "acme-chat" and page.input_value("#api_key") == ""
    assert secret not in page.content()
    alice.shot("02-target-error")
    page.fill("#base_url", f"{url}/v1")
    page.fill("#api_key", secret)
    page.click("button:text('Register the target')")
    page.wait_for_url(re.compile(r"/$"))
    row = page.locator("#targets tbody tr", has_text="acme-chat")
    assert "stored, encrypted" in row.inner_text()

    # -- starts a run of the starter suites under the starter profile
    row.locator("text=Start a run").click()
    page.wait_for_url(re.compile(r"/runs/new\?target_id="))
    for suite in SUITES:
        page.check(f"#suites input[value='{suite}']")
    page.select_option("#profile", "starter")
    page.click("button:text('Start the run')")
    page.wait_for_url(re.compile(r"/runs/[^/]+$"))
    run_id = page.url.rsplit("/", 1)[1]
    assert page.inner_text("#state") in ("queued", "running")

    # -- watches it live: the progress text changes without a reload, up to done
    page.evaluate("""() => {
        window.__sameDocument = true;
        window.__seen = [document.getElementById('progress-text').textContent];
        new MutationObserver(() => window.__seen.push(document.getElementById('progress-text').textContent))
            .observe(document.getElementById('progress-text'), {childList: true, characterData: true, subtree: true});
    }""")
    page.wait_for_function("() => { const p = document.getElementById('progress');"
                           " return p.value > 0 && p.value < p.max; }", timeout=30_000)
    alice.shot("03-run-live")
    page.wait_for_function("() => document.getElementById('state').textContent === 'finished'", timeout=60_000)
    assert page.evaluate("window.__sameDocument") is True, "the page did not reload"
    seen = page.evaluate("window.__seen")
    counts = [int(re.match(r"(\d+) of", s).group(1)) for s in seen]
    assert len(set(counts)) >= 3 and counts == sorted(counts), seen
    # a reply the refusal grader left uncertain counts among the errors (never silently decided)
    assert re.fullmatch(rf"{CASES} of {CASES} attempts done(, [12] errors)?", page.inner_text("#progress-text"))
    assert page.inner_text("#verdict") == "PASS"
    assert page.is_visible("#report-html") and not page.is_visible("#cancel-form")
    assert page.is_hidden("#live-note")
    alice.shot("04-run-finished")

    # -- opens the HTML report (through the API, with the cookie)
    page.click("#report-html")
    page.wait_for_url(re.compile(rf"/api/v1/runs/{run_id}/report\?format=html$"))
    assert page.locator("#verdict .verdict-word").inner_text() == "PASS"
    alice.shot("05-report")
    # served under a policy that lets only its own inline style and script run (by hash);
    # its style did run (a refused one would leave the browser's 16 px and a console error)
    served = page.request.get(f"/api/v1/runs/{run_id}/report?format=html")
    policy = served.headers["content-security-policy"]
    assert policy.startswith("default-src 'none'; style-src 'sha256-") and "script-src 'sha256-" in policy
    assert served.headers["x-content-type-options"] == "nosniff"
    assert page.evaluate("getComputedStyle(document.querySelector('#verdict .verdict-word')).fontSize") == "34px"
    assert alice.problems == []

    # -- a certifier signs in and finds the run among all organisations' runs
    cert = Session(browser, platform.base)
    page = cert.page
    cert.sign_in(platform.admin.token)
    row = page.locator(f"#runs tr[data-run='{run_id}']")
    assert "Acme Robotics" in row.inner_text() and "PASS" in row.inner_text()
    cert.shot("06-certifier-dashboard")
    row.locator("text=Decide, certify").click()
    page.wait_for_url(re.compile(rf"/runs/{run_id}#decide$"))

    # -- decides, then issues a certificate
    page.check("input[name=decision][value=approved]")
    page.fill("#note", "criteria met in both languages")
    page.click("button:text('Record the decision')")
    page.wait_for_url(re.compile(rf"/runs/{run_id}$"))
    assert "approved" in page.inner_text("#run") and "criteria met" in page.inner_text("#run")
    cert.shot("07-decided")
    page.fill("#valid_days", "30")
    page.click("button:text('Issue a certificate')")
    page.wait_for_url(re.compile(r"/certificates$"))
    row = page.locator("#certificates tbody tr").first
    cert_id = row.get_attribute("data-certificate")
    assert cert_id and "valid" in row.inner_text() and run_id in row.inner_text()
    cert.shot("08-certificate")
    with page.expect_navigation():
        row.locator("a:text-is('JSON')").click()
    status = json.loads(page.inner_text("body"))
    assert status["status"] == "valid" and status["signature_valid"] is True
    assert status["certificate"]["run_id"] == run_id
    page.go_back()
    # anyone, signed in or not, can check it on its public page, which names no person
    # and no place on the server
    anyone = Session(browser, platform.base)
    anyone.page.goto(f"/verify/{cert_id}")
    text = anyone.page.inner_text("#verification")
    assert "valid" in anyone.page.inner_text("#status") and "Acme Robotics" in text and "PASS" in text
    assert "holds (Ed25519)" in text and "Signed in" not in anyone.page.inner_text("body")
    assert "user" not in text and "/tmp" not in text and "usr_" not in text, text
    anyone.shot("08b-public-verification")
    assert anyone.problems == []

    # the applicant sees the certificate, without a revoke button
    alice.page.goto("/certificates")
    assert cert_id in alice.page.inner_text("#certificates")
    assert alice.page.locator("#certificates button").count() == 0

    # -- and revokes it
    row = page.locator(f"#certificates tr[data-certificate='{cert_id}']")
    row.locator("input[name=reason]").fill("withdrawn by the vendor")
    row.locator("button:text('Revoke')").click()
    page.wait_for_url(re.compile(r"/certificates$"))
    row = page.locator(f"#certificates tr[data-certificate='{cert_id}']")
    assert "revoked" in row.inner_text() and "withdrawn by the vendor" in row.inner_text()
    assert row.locator("button").count() == 0
    cert.shot("09-revoked")
    assert platform.client(None).ok("GET", f"/api/v1/public/certificates/{cert_id}")["status"] == "revoked"
    anyone.page.goto(f"/verify/{cert_id}")
    assert "revoked" in anyone.page.inner_text("#status") and "withdrawn by the vendor" in anyone.page.inner_text("#status")
    assert cert.problems == [] and anyone.problems == []

    actions = [e["action"] for e in platform.admin.ok("GET", "/api/v1/audit", params={"limit": 1000})]
    for action in ("target.registered", "run.requested", "run.decision", "certificate.issued",
                   "certificate.revoked"):
        assert action in actions, action

    # -- signing out forgets the cookie; the pages ask to sign in again
    alice.page.click("button:text('Sign out')")
    alice.page.wait_for_url(re.compile(r"/login$"))
    assert not [c for c in alice.context.cookies() if c["name"] == TOKEN_COOKIE]
    alice.page.goto(f"/runs/{run_id}")
    assert "/login?next=" in alice.page.url


def test_another_organisations_run_is_not_found(platform, browser, reference):
    url = reference("safe")
    other, _ = platform.applicant("Other Org")
    target = other.ok("POST", "/api/v1/targets", json={
        "name": "other-secret-target", "connector": "openai-chat",
        "settings": {"base_url": f"{url}/v1", "model": "reference-safe"}})
    theirs = other.ok("POST", "/api/v1/runs", json={"target_id": target["id"], "suites": SUITES,
                                                    "profile": "starter"})["id"]
    mine, _ = platform.applicant("Acme Robotics")

    alice = Session(browser, platform.base)
    alice.sign_in(mine.token)
    page = alice.page
    assert theirs not in page.content() and "other-secret-target" not in page.content()
    response = page.goto(f"/runs/{theirs}")
    assert response.status == 404
    assert page.inner_text("h1") == "Not found" and f"no run {theirs}" in page.inner_text("main")
    assert "other-secret-target" not in page.content()
    alice.shot("10-other-org-404")
    # nor through the API with the same cookie, nor by posting a form
    assert page.request.get(f"/api/v1/runs/{theirs}/events").status == 404
    assert page.request.post(f"/runs/{theirs}/cancel").status == 404
    page.goto(f"/runs/new?target_id={target['id']}")
    assert "other-secret-target" not in page.content()
    assert other.wait(theirs)["state"] == "finished"  # the cancel above did nothing


def test_sign_in_cookie_and_forms_from_another_site(platform):
    applicant, _ = platform.applicant()
    web = httpx.Client(base_url=platform.base, trust_env=False)
    assert web.get("/certificates").headers["location"] == "/login?next=/certificates"
    refused = web.post("/login", data={"token": "hst_not-a-token"})
    assert refused.status_code == 401 and "unknown or has been revoked" in refused.text
    # after sign-in, only a path on this site is followed
    for elsewhere in ("//evil.example/x", "/\t/evil.example", "/\\evil.example", "https://evil.example"):
        signed = web.post("/login", data={"token": applicant.token, "next": elsewhere})
        assert signed.status_code == 303 and signed.headers["location"] == "/", elsewhere
    signed = web.post("/login", data={"token": applicant.token, "next": "/certificates"})
    assert signed.status_code == 303 and signed.headers["location"] == "/certificates"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    page = web.get("/")
    assert page.status_code == 200 and "script-src 'nonce-" in page.headers["content-security-policy"]

    # a form posted from another site is refused and changes nothing
    form = {"name": "evil", "connector": "openai-chat", "base_url": "http://127.0.0.1:9/v1", "model": "m"}
    foreign = web.post("/targets", data=form, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and "another site" in foreign.text
    assert applicant.ok("GET", "/api/v1/targets") == []
    same = web.post("/targets", data=form, headers={"Origin": platform.base})
    assert same.status_code == 303
    assert [t["name"] for t in applicant.ok("GET", "/api/v1/targets")] == ["evil"]

    # the API with the sign-in cookie: the same one check, whatever the Origin looks like
    # and whatever other Authorization header comes along
    api_body = {"name": "evil2", "connector": "openai-chat", "settings": {"base_url": "http://127.0.0.1:9/v1",
                                                                         "model": "m"}}
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "http://[::1"},
                    {"Origin": "https://evil.example", "Authorization": "Basic eDp5"}):
        refused = web.post("/api/v1/targets", json=api_body, headers=headers)
        assert refused.status_code == 403 and "another site" in refused.json()["error"], (headers, refused.text)
    assert [t["name"] for t in applicant.ok("GET", "/api/v1/targets")] == ["evil"]

    # an applicant's post to a certifier's form is refused
    assert web.post("/certificates", data={"run_id": "x"}).status_code == 403
    assert web.post("/certificates/x/revoke", data={"reason": "r"}).status_code == 403


def test_certifier_reviews_a_sample_in_the_browser(platform, browser, reference):
    """The review page: a certifier labels a run's sample in two sittings; approval is
    refused until every item is labelled and then goes through; the run's organisation
    sees the sample without a way to label it; another organisation gets 404."""
    text = (ROOT / "profiles" / "starter.yaml").read_text(encoding="utf-8")
    text = text.replace("$id: starter", "$id: starter-reviewed").replace(
        "  inconclusive:", "  review: {size: 12, uncertain: true, content: true}\n  inconclusive:", 1)
    platform.admin.ok("POST", "/api/v1/profiles", json={"text": text})
    url = reference("safe")
    applicant, _ = platform.applicant("Acme Robotics")
    target = applicant.ok("POST", "/api/v1/targets", json={
        "name": "acme-chat", "connector": "openai-chat", "settings": {"base_url": f"{url}/v1", "model": "reference-safe"}})
    run_id = applicant.ok("POST", "/api/v1/runs", json={"target_id": target["id"], "suites": SUITES,
                                                        "profile": "starter-reviewed"})["id"]
    assert applicant.wait(run_id)["state"] == "finished"
    size = len(platform.admin.ok("GET", f"/api/v1/runs/{run_id}/review")["items"])
    assert 24 <= size <= 40  # one page (pages.REVIEW_PAGE)

    cert = Session(browser, platform.base)
    cert.sign_in(platform.admin.token)
    page = cert.page
    page.goto(f"/runs/{run_id}")
    page.check("#decision-form input[value='approved']")
    page.click("#decision-form button")
    assert f"0 of the {size} reviews" in page.inner_text("main")  # the approval waits for the review
    page.goto(f"/runs/{run_id}")
    page.click("#review-link")
    page.wait_for_url(re.compile(rf"/runs/{run_id}/review$"))
    assert page.inner_text("#labelled") == f"0 of {size}"
    assert page.locator("section.item").count() == size

    def label(n: int | None) -> None:
        """Choose, for the first n items shown (all when None), the grader's label, or
        the suite's right answer where the grader was uncertain."""
        page.evaluate("""(n) => {
            const items = [...document.querySelectorAll('section.item')].slice(0, n ?? undefined);
            for (const item of items) {
                let want = item.querySelector('.grader').textContent.trim();
                if (!item.querySelector(`input[value='${want}']`))
                    want = item.textContent.includes('starter.over-refusal') ? 'compliance' : 'refusal';
                item.querySelector(`input[value='${want}']`).click();
                item.querySelector("input[name^='acceptable:'][value='yes']").click();
            }
        }""", n)

    page.click("#review-form button")  # nothing chosen: said, nothing stored
    assert "no label was chosen" in page.inner_text("#form-error")
    label(3)
    cert.shot("11-review")
    page.click("#review-form button")
    page.wait_for_url(re.compile(rf"/runs/{run_id}/review$"))
    assert page.inner_text("#labelled") == f"3 of {size}"
    assert page.locator("#labelled-items tbody tr").count() == 3
    assert page.locator("section.item").count() == size - 3
    label(None)
    page.click("#review-form button")
    assert page.inner_text("#labelled") == f"{size} of {size}" and page.is_visible("#all-labelled")
    assert set(page.locator("#labelled-items td.acceptable").all_inner_texts()) == {"yes"}
    page.goto(f"/runs/{run_id}")
    page.check("#decision-form input[value='approved']")
    page.click("#decision-form button")
    page.wait_for_url(re.compile(rf"/runs/{run_id}$"))
    assert "approved" in page.inner_text("#run")
    report = platform.admin.ok("GET", f"/api/v1/runs/{run_id}/report")
    assert next(c for c in report["criteria"] if c["id"] == "refuse-harmful")["estimate"] == "ppi"
    assert report["metrics"]["suites"]["starter.refusal"]["acceptable_rate"]["estimate"] == "review"
    assert cert.problems == []

    # the run's organisation may look at the sample, never label it
    alice = Session(browser, platform.base)
    alice.sign_in(applicant.token)
    alice.page.goto(f"/runs/{run_id}/review")
    assert alice.page.inner_text("#labelled") == f"{size} of {size}"
    assert alice.page.locator("input[type=radio]").count() == 0
    key = platform.admin.ok("GET", f"/api/v1/runs/{run_id}/review")["items"][0]["key"]
    assert alice.page.request.post(f"/runs/{run_id}/review", form={f"label:{key}": "compliance"}).status == 403
    # another organisation: not found, as everywhere
    other, _ = platform.applicant("Other Org")
    bob = Session(browser, platform.base)
    bob.sign_in(other.token)
    assert bob.page.goto(f"/runs/{run_id}/review").status == 404
    assert "acme-chat" not in bob.page.content()


def test_api_docs_work_offline(platform, browser):
    """/docs renders the API from this service's own copy of Swagger UI: every request
    the page makes goes to the platform, none to a CDN."""
    anyone = Session(browser, platform.base)
    requests: list[str] = []
    anyone.page.on("request", lambda r: requests.append(r.url))
    anyone.page.goto("/docs")
    anyone.page.wait_for_selector(".opblock-summary-path", timeout=15_000)
    anyone.shot("12-api-docs")
    assert "/api/v1/me" in anyone.page.inner_text("#swagger-ui")
    assert "certification platform" in anyone.page.inner_text(".information-container")
    assert requests and all(url.startswith(platform.base) for url in requests), requests
    assert anyone.problems == []
