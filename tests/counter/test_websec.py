"""The counter's web security, over HTTP against the real hub: headers on every response, CSRF on every POST
route, every field of every form echoed only escaped, no personal data in logs or URLs."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from markupsafe import escape

from consumers.counter.middlewares import CSP
from linkage.ids import with_check_digit
from tests.counter.conftest import MUNI, Counter, csrf_of, persona
from tests.counter.passkeys import http_sign_in

SERVICE = "health-hazard-business"  # five linked document types, edu.degree among them
TEMPLATES = Path(__file__).resolve().parents[2] / "consumers" / "counter" / "templates"

MARKUP = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "</textarea></title><script>alert(1)</script>",
    '" autofocus onfocus="alert(1)',
]


def _me(personas: list[dict[str, Any]]) -> dict[str, Any]:
    return next(p for p in personas if p["kind"] == "citizen" and "card" in p and "edu.degree" in p["doc_types"])


async def _open_case(counter: Counter, subject: str) -> str:
    token = await counter.csrf(f"/cases/new/{SERVICE}")
    resp = await counter.client.post(f"/cases/new/{SERVICE}", data={"csrf": token, "subject_id": subject},
                                     allow_redirects=False)
    assert resp.status == 303, await resp.text()
    return str(resp.headers["Location"])


# --- headers ------------------------------------------------------------------------------------------------------

def _directives(csp: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            assert words[0] not in out, f"{words[0]} twice in {csp}"
            out[words[0]] = words[1:]
    return out


def _assert_secure(resp: ClientResponse, what: str) -> None:
    h = resp.headers
    d = _directives(h.get("Content-Security-Policy", ""))
    assert d.get("default-src") in (["'none'"], ["'self'"]), what
    for name, value in (("object-src", "'none'"), ("base-uri", "'none'"), ("form-action", "'self'"),
                        ("frame-ancestors", "'none'"), ("script-src", "'none'")):
        assert d.get(name) == [value], (what, name, d.get(name))
    sources = [s for v in d.values() for s in v]
    assert all(s in ("'self'", "'none'") for s in sources), (what, sources)  # no unsafe-*, no data:, no hosts
    assert h.get("X-Content-Type-Options") == "nosniff", what
    assert h.get("Referrer-Policy") in ("no-referrer", "same-origin"), what
    assert h.get("X-Frame-Options") == "DENY", what
    if not resp.url.path.startswith(("/static/", "/fonts/")):
        assert h.get("Cache-Control") == "no-store", what


async def test_every_kind_of_response_carries_the_security_headers(
        counter: Counter, personas: list[dict[str, Any]]) -> None:
    assert _directives(CSP)["object-src"] == ["'none'"]
    c = counter.client
    me = _me(personas)
    seen: list[tuple[str, int]] = []

    async def check(resp: ClientResponse, what: str, status: int) -> str:
        body = await resp.read()
        assert resp.status == status, (what, resp.status)
        _assert_secure(resp, what)
        seen.append((what, status))
        return body.decode("utf-8", "replace")

    for path in ("/", "/manuals", f"/manuals/{SERVICE}", "/complaints/new", "/me",
                 "/static/counter.css", "/fonts/Sarabun-Regular.ttf"):
        await check(await c.get(path), path, 200)
    await check(await c.get("/signin", allow_redirects=False), "sign-in: to the passkey page", 303)
    await check(await c.get("/nowhere"), "404 page", 404)
    await check(await c.get("/fonts/..%2Flinkage.toml"), "font 404", 404)
    await check(await c.get("/static/nothing.css"), "static 404", 404)
    await check(await c.get("/signout"), "405 page", 405)
    await check(await c.get("/reports", allow_redirects=False), "redirect to sign-in", 303)
    await check(await c.post("/signin", data={"officer_id": "x"}), "CSRF 403", 403)
    await check(await c.post("/signin", data={"csrf": "x" * 70_000}), "413 page", 413)
    await check(await c.get("/lang/en?next=/", allow_redirects=False), "language redirect", 303)
    await counter.sign_in()
    where = await _open_case(counter, me["id"])
    # The citizen's page with their access history (personal data).
    token = await counter.csrf("/me")
    page = await check(await c.post("/me", data={"csrf": token, "subject_id": me["id"], **me["card"]}), "/me", 200)
    assert 'data-testid="accesses"' in page
    for path in (where, "/", f"/cases/new/{SERVICE}", "/reports", f"/reports/{SERVICE}", "/complaints"):
        await check(await c.get(path), path, 200)
    await check(await c.get("/reports.csv"), "CSV", 200)
    page = await (await c.get(where)).text()
    resp = await c.post(f"{where}/certify", data={"csrf": csrf_of(page)})
    await check(resp, "certified PDF", 200)
    assert resp.content_type == "application/pdf"
    await check(await c.get("/cases/not-a-case"), "case 404", 404)
    assert len(seen) == 26


def test_templates_hold_no_inline_script_or_style() -> None:
    """Under the CSP an inline script, style or event handler would not run; none may creep in."""
    inline = re.compile(r"<script|<style|\sstyle\s*=|\son[a-z]+\s*=|javascript:", re.IGNORECASE)
    files = sorted(TEMPLATES.glob("*.html"))
    assert len(files) >= 10
    # The passkey pages (routes.SCRIPTED) load the one script file of this site, and nothing else runs anywhere.
    passkey_script = '<script src="/static/passkey.js" defer></script>'
    for f in files:
        text = f.read_text(encoding="utf-8")
        if f.name in ("signin_passkey.html", "enrol.html"):
            assert text.count(passkey_script) == 1, f.name
            text = text.replace(passkey_script, "")
        found = inline.search(text)
        assert found is None, f"{f.name}: {found.group(0) if found else ''}"


# --- CSRF ---------------------------------------------------------------------------------------------------------

async def test_every_post_route_refuses_a_missing_or_foreign_token(
        counter: Counter, personas: list[dict[str, Any]]) -> None:
    c = counter.client
    me = _me(personas)
    await counter.sign_in(counter.officers[1])
    foreign = await counter.csrf("/")  # another officer's token, valid in their session only
    await counter.sign_in()
    where = await _open_case(counter, me["id"])
    case_id = where.rsplit("/", 1)[1]
    values = {"service": SERVICE, "case_id": case_id, "doc_type": "edu.degree", "code": "en", "app_id": "an-app",
              "ticket": "1", "ref": "PHR-2569-00001", "id": "1", "action": "take"}
    forms = {
        "/signin": {"officer_id": counter.officers[0]},
        "/signout": {},
        f"/cases/new/{SERVICE}": {"subject_id": me["id"], "citizen_present": "1"},
        f"/cases/{case_id}/retry/edu.degree": {"citizen_present": "1"},
        f"/cases/{case_id}/certify": {},
        f"/cases/{case_id}/application": {"phone": "0812345678"},
        "/applications/an-app/confirm": {"citizen_confirms": "1"},
        "/applications/an-app/pdf": {},
        "/applications/an-app/receipt": {},
        f"/cases/{case_id}/revoke/edu.degree": {"reason": "พิมพ์ผิด"},
        "/complaints/new": {"office": "กองช่าง", "details": "ขอสำเนา"},
        "/me": {"subject_id": me["id"], **me["card"]},
        "/me/consents": {"citizen": "x", "consent_id": "00000000-0000-4000-8000-000000000000", "decision": "approve"},
        "/me/apply": {"citizen": "x", "service": SERVICE},
        "/me/apply/fetch": {"citizen": "x", "service": SERVICE, "consent": "1"},
        "/me/apply/save": {"citizen": "x", "case": "x"},
        "/me/apply/confirm": {"citizen": "x", "application": "x", "citizen_confirms": "1"},
        "/me/apply/pdf": {"citizen": "x", "application": "x"},
        "/disbursements": {"month": "2569-12"},
        "/verify": {},
        "/signin/passkey/begin": {"officer_id": counter.officers[0]},
        "/signin/passkey/finish": {"officer_id": counter.officers[0], "statement": "", "assertion": "{}"},
        "/enrol/begin": {"officer_id": counter.officers[0], "code": "ABCD-EFGH-JKLM"},
        "/enrol/finish": {"officer_id": counter.officers[0], "code": "ABCD-EFGH-JKLM", "credential": "{}"},
        "/queue/book": {"service": SERVICE, "choice": "2099-01-05T09:00", "subject_id": me["id"]},
        "/queue/mine": {"code": "ABCD1234", "subject_id": me["id"]},
        "/queue/mine/cancel": {"code": "ABCD1234", "subject_id": me["id"]},
        "/queue/mine/rebook": {"code": "ABCD1234", "subject_id": me["id"], "choice": "2099-01-05T09:00"},
        "/queue/walkin": {"service": SERVICE},
        "/queue/call": {},
        "/queue/1/finish": {"outcome": "served"},
        "/track": {"case_ref": "PHR-2569-00001", "subject_id": me["id"]},
        "/track/feedback": {"case_ref": "PHR-2569-00001", "subject_id": me["id"], "rating": "5"},
        "/tracking/PHR-2569-00001/move": {"status": "under_review"},
        "/complaints/1/take": {},
    }
    routes = [r for r in c.app.router.routes() if r.method == "POST"]
    paths = {r.resource.canonical.format_map(values) for r in routes if r.resource is not None}
    # The payment switch's notice is no form: no token, trusted only through its signature (test_fees.py).
    assert (await c.post("/payments/callback", data={"csrf": foreign})).status == 401
    assert paths - {"/payments/callback"} == set(forms), "a POST route was added: give it a form here"
    hub_log = counter.stack.hub.hub.log
    before = (hub_log.size, len(await (await c.get("/complaints")).text()))
    for path, data in forms.items():
        for token in (None, "", "forged", foreign):
            sent = data if token is None else {**data, "csrf": token}
            resp = await c.post(path, data=sent, allow_redirects=False)
            assert resp.status == 403, (path, token, resp.status)
            assert "แบบฟอร์มนี้หมดอายุหรือไม่ได้มาจากระบบเคาน์เตอร์" in await resp.text()
    # Nothing happened: nothing fetched, no complaint, no case, still signed in as the same officer.
    assert (hub_log.size, len(await (await c.get("/complaints")).text())) == before
    index = await (await c.get("/")).text()
    assert index.count("/cases/") - index.count("/cases/new/") == 1
    # Anonymous forms are bound to the browser's own cookie: another browser's token is refused.
    c.session.cookie_jar.clear()
    for path in ("/signin", "/complaints/new", "/me", "/me/consents", "/verify"):
        resp = await c.post(path, data={**forms[path], "csrf": foreign}, allow_redirects=False)
        assert resp.status == 403, path
    assert (await c.get("/reports", allow_redirects=False)).status == 303


# --- reflected and stored markup ----------------------------------------------------------------------------------

def _assert_escaped(page: str, payload: str, what: str, echoed: bool = True) -> None:
    assert payload not in page, f"{what}: {payload!r} came back raw"
    for tag in ("<script>alert", "<img src=x", "<svg onload", 'onfocus="alert'):
        assert tag not in page, f"{what}: {tag!r} in the page"
    if echoed:
        assert str(escape(payload)) in page, f"{what}: {payload!r} not shown back (escaped)"


async def test_markup_in_every_field_comes_back_only_escaped(counter: Counter,
                                                             personas: list[dict[str, Any]]) -> None:
    c = counter.client
    me = _me(personas)
    # Signed in first: the markup below fails five sign-ins, which is where the limiter stops an address.
    await counter.sign_in()
    for payload in MARKUP:
        # Sign-in: the ID is shown back next to its error, "next" goes into a hidden field.
        token = await counter.csrf("/signin")
        page = await (await c.post("/signin", data={"csrf": token, "officer_id": payload, "next": payload})).text()
        _assert_escaped(page, payload, "sign-in officer_id")
        page = await (await c.get("/signin", params={"next": "/" + payload})).text()
        _assert_escaped(page, "/" + payload, "sign-in ?next=", echoed=False)  # kept only if a plain path
        # The public complaint form: every field, refused (each shown back) and accepted (listed for the head).
        token = await counter.csrf("/complaints/new")
        fields = {name: payload for name in ("office", "service", "demanded", "details", "contact")}
        resp = await c.post("/complaints/new", data={"csrf": token, **fields})
        page = await resp.text()
        assert resp.status == 400  # the service is not one of the list
        for name in ("office", "demanded", "details", "contact"):
            end = "</textarea>" if name == "details" else ">"
            value = page.split(f'name="{name}"', 1)[1].split(end, 1)[0]
            assert str(escape(payload)) in value, (name, value)
        _assert_escaped(page, payload, "complaint form")
        resp = await c.post("/complaints/new", data={"csrf": token, **fields, "service": "other"})
        assert resp.status == 200
        # The citizen's page: every field shown back but the laser code.
        token = await counter.csrf("/me")
        page = await (await c.post("/me", data={"csrf": token, "subject_id": payload, "first_name_th": payload,
                                                "last_name_th": payload, "birth_date": payload,
                                                "laser_code": payload})).text()
        _assert_escaped(page, payload, "/me")
        assert page.count(str(escape(payload))) == 4  # subject_id, first and last name, birth date; no laser code
        # Markup in the address: service names, case ids, document types, language codes.
        for path in (f"/manuals/{payload}", f"/cases/new/{payload}", f"/cases/{payload}", f"/lang/{payload}"):
            page = await (await c.get(path)).text()
            _assert_escaped(page, payload, path, echoed=False)

    page = await (await c.get("/complaints")).text()
    for payload in MARKUP:
        _assert_escaped(page, payload, "complaints list")
        assert page.count(str(escape(payload))) >= 4  # office, copies asked for, details, contact
    for payload in MARKUP:
        # The case form shows the ID back next to its error.
        token = await counter.csrf(f"/cases/new/{SERVICE}")
        page = await (await c.post(f"/cases/new/{SERVICE}", data={"csrf": token, "subject_id": payload,
                                                                 "citizen_present": payload})).text()
        _assert_escaped(page, payload, "case form")
        page = await (await c.get(f"/reports/{payload}")).text()
        _assert_escaped(page, payload, "report of a service", echoed=False)
    # Retry: the checkbox value and a document type that is not in the case.
    where = await _open_case(counter, me["id"])
    token = csrf_of(await (await c.get(where)).text())
    for payload in MARKUP:
        resp = await c.post(f"{where}/retry/edu.degree", data={"csrf": token, "citizen_present": payload})
        _assert_escaped(await resp.text(), payload, "retry", echoed=False)
        resp = await c.post(f"{where}/retry/{payload}", data={"csrf": token})
        assert resp.status == 404
        _assert_escaped(await resp.text(), payload, "retry of a foreign document type", echoed=False)


@pytest.mark.parametrize("target", ["//evil.example/", "/\t/evil.example/", "/\\evil.example", "https://evil.example/",
                                    "/%0d%0aSet-Cookie:x=1", "javascript:alert(1)"])
async def test_no_redirect_leaves_the_site(counter: Counter, target: str) -> None:
    resp = await counter.client.get("/lang/en", params={"next": target}, allow_redirects=False)
    location = resp.headers["Location"]
    assert resp.status == 303 and location.startswith("/") and not location.startswith("//")
    assert "evil" not in location and "\n" not in location
    resp = await counter.client.get("/signin", params={"next": target}, allow_redirects=False)
    location = resp.headers["Location"]
    assert resp.status == 303 and location.startswith("/signin/passkey?") and "\n" not in location
    where = await http_sign_in(counter.client, counter.stack.home, MUNI, counter.officers[0],
                               counter.stack.counter_origin, target)
    assert where.lower() in ("/", target.lower()) and "evil" not in where


# --- personal data in logs and URLs -------------------------------------------------------------------------------

_COUNTER_LOGGERS = ("consumers", "aiohttp")  # the hub and the registries share this test's process: left out


def _thai_ids(text: str) -> list[str]:
    return [m for m in re.findall(r"(?<!\d)\d{13}(?!\d)", text) if with_check_digit(m[:12]) == m]


async def test_no_personal_data_in_the_counters_logs_or_urls(
        counter: Counter, personas: list[dict[str, Any]], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    c = counter.client
    me = _me(personas)
    company = persona(personas, "dbd.juristic", kind="juristic")
    urls: list[str] = []

    async def visit(resp: ClientResponse) -> str:
        urls.extend(str(r.url) for r in (*resp.history, resp))
        urls.extend(r.headers.get("Location", "") for r in (*resp.history, resp))
        return (await resp.read()).decode("utf-8", "replace")

    # A whole case: sign in, open, look, retry, certify, reports, sign out; a complaint; the citizen's page.
    await counter.sign_in()
    token = await counter.csrf(f"/cases/new/{SERVICE}")
    resp = await c.post(f"/cases/new/{SERVICE}", data={"csrf": token, "subject_id": me["id"]})
    page = await visit(resp)
    assert me["card"]["first_name_th"] in page  # the case shows the name, so the test would see it leak
    where = resp.url.path
    assert where.startswith("/cases/") and me["id"] not in where
    token = csrf_of(page)
    await visit(await c.post(f"{where}/retry/dopa.card", data={"csrf": token, "citizen_present": "1"}))
    await visit(await c.post(f"{where}/certify", data={"csrf": token}))
    token = await counter.csrf("/cases/new/food-premises")
    await visit(await c.post("/cases/new/food-premises", data={"csrf": token, "subject_id": company}))
    await visit(await c.post("/cases/new/food-premises", data={"csrf": token, "subject_id": me["id"]}))  # refused
    for path in ("/", "/reports", "/reports.csv", "/complaints"):
        await visit(await c.get(path))
    await visit(await c.post("/signout", data={"csrf": token}))
    token = await counter.csrf("/complaints/new")
    await visit(await c.post("/complaints/new", data={"csrf": token, "office": "กองช่าง", "details": me["id"],
                                                      "contact": me["card"]["first_name_th"]}))
    token = await counter.csrf("/me")
    page = await visit(await c.post("/me", data={"csrf": token, "subject_id": me["id"], **me["card"]}))
    assert 'data-testid="accesses"' in page
    await visit(await c.post("/me", data={"csrf": token, "subject_id": me["id"], **me["card"],
                                          "laser_code": "ZZ9-9999999-99"}))

    records = [r for r in caplog.records if r.name.startswith(_COUNTER_LOGGERS)]
    text = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in records)
    assert where in text, "the counter's access log was not captured"
    secrets = [me["id"], company, *counter.officers, me["card"]["first_name_th"], me["card"]["last_name_th"],
               me["card"]["laser_code"], me["card"]["birth_date"]]
    for secret in secrets:
        assert secret not in text, f"{secret} in the counter's log"
        assert all(secret not in url for url in urls), f"{secret} in a URL"
    assert _thai_ids(text) == [] and _thai_ids(" ".join(urls)) == []
    assert not re.search(r"[\u0e00-\u0e7f]", " ".join(urls)), "Thai text (a name?) in a URL"
