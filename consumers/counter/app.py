"""The counter desk: an aiohttp app where an officer fetches documents instead of asking for copies.

    create_app(settings)          the Application; raises ManualError / ConfigError at start
    serve(home, port, ready)      run it until cancelled (``linkage up`` calls this)

State lives under typed ``web.AppKey``s; the hub client and the SQLite store are
opened and closed in ``cleanup_ctx``; every route is listed in ``_routes``; one
middleware turns every failure into a Thai / English page, never exception text.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import hmac
import io
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import fontpkg_sarabun
import jinja2
from aiohttp import web
from cryptography import x509

from consumers.auditor.verify import verify_printout
from consumers.client import HubClient, Printout
from consumers.counter.errors import (
    CounterError,
    CsrfRejected,
    PageNotFound,
    ServiceUnavailable,
    TooManyAttempts,
)
from consumers.counter.manuals import DEFAULT_FOLDER, Manual, load_manuals
from consumers.counter.printout import CounterSigner, PrintCase, PrintoutError, certify_async
from consumers.counter.sessions import Limiter, Session, SessionStore
from consumers.counter.store import Case, CaseRow, CounterStore, DocSlot, Report, new_case_id
from consumers.counter.views import field_rows, issued_text
from linkage.config import AgencyConfig, ConfigError, Home, load_settings
from linkage.errors import InvalidRequest, LinkageError
from linkage.ids import IdKind, parse_id, parse_officer_id
from linkage.metrics import add_http_metrics
from linkage.v1 import common_pb2, provider_pb2

__all__ = ["CSP", "HUB", "STATE", "STORE", "CounterSettings", "CounterState", "create_app", "serve"]

_log = logging.getLogger("consumers.counter")
_HERE = Path(__file__).resolve().parent
_FONTS = Path(fontpkg_sarabun.ROOT) / "files"
_FONT_FILES = frozenset({"Sarabun-Regular.ttf", "Sarabun-Bold.ttf", "Sarabun-SemiBold.ttf"})
_BANGKOK = dt.timezone(dt.timedelta(hours=7))

SESSION_COOKIE = "counter_session"
ANON_COOKIE = "counter_csrf"
LANG_COOKIE = "counter_lang"
SIGNIN_PURPOSE = "ลงชื่อเข้าใช้งานเคาน์เตอร์"
_MAX_FIELD = 2000
# The cabinet's target (26 Sep 2017): cut documents, steps and time by 30-50 %.
TARGET_LOW, TARGET_HIGH = 30.0, 50.0


@dataclass(frozen=True)
class CounterSettings:
    """What one counter needs; read once. ``office_head`` None: the first of the agency's officers (sorted)."""

    home: Home
    hub_address: str
    agency: str = "phrae-municipality"
    manuals: Path = DEFAULT_FOLDER
    session_ttl: float = 30 * 60.0
    # Open cases (on disk, with the applicant's ID and printouts) are deleted this long after they were opened.
    case_ttl: float = 12 * 3600.0
    database: Path | None = None
    office_head: str | None = None
    host: str = "127.0.0.1"
    # Set only behind HTTPS: marks cookies Secure.
    secure_cookies: bool = False
    signin_attempts: int = 5

    @classmethod
    def from_env(cls, home: Home) -> CounterSettings:
        """Defaults from LINKAGE_COUNTER_* variables; the hub address from the configuration
        (which honours LINKAGE_HUB_HOST / LINKAGE_HUB_PORT) unless LINKAGE_COUNTER_HUB names one."""
        env = os.environ
        hub = env.get("LINKAGE_COUNTER_HUB")
        if not hub:
            cfg = load_settings(home).hub
            hub = f"{cfg.host}:{cfg.port}"
        try:
            ttl = float(env.get("LINKAGE_COUNTER_SESSION_TTL", "1800"))
        except ValueError:
            raise ConfigError("LINKAGE_COUNTER_SESSION_TTL must be a number of seconds") from None
        database = env.get("LINKAGE_COUNTER_DATABASE")
        return cls(home=home, hub_address=hub, agency=env.get("LINKAGE_COUNTER_AGENCY", "phrae-municipality"),
                   manuals=Path(env.get("LINKAGE_COUNTER_MANUALS", str(DEFAULT_FOLDER))), session_ttl=ttl,
                   database=Path(database) if database else None,
                   office_head=env.get("LINKAGE_COUNTER_OFFICE_HEAD") or None,
                   host=env.get("LINKAGE_COUNTER_HOST", "127.0.0.1"),
                   secure_cookies=env.get("LINKAGE_COUNTER_SECURE_COOKIES", "") == "1")


@dataclass
class CounterState:
    settings: CounterSettings
    agency: AgencyConfig
    manuals: dict[str, Manual]
    templates: jinja2.Environment
    ca_root: x509.Certificate
    sessions: SessionStore
    limiter: Limiter
    signer: CounterSigner
    agency_titles: dict[str, str]
    doc_types: dict[str, common_pb2.DocumentType] = field(default_factory=dict)


STATE = web.AppKey("counter_state", CounterState)
HUB = web.AppKey("counter_hub", HubClient)
STORE = web.AppKey("counter_store", CounterStore)
_SESSION = web.RequestKey("counter_session", Session)
_ANON = web.RequestKey("counter_anon_csrf", str)
_SET_ANON = web.RequestKey("counter_set_anon", bool)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(settings: CounterSettings) -> web.Application:
    """The counter app. Raises ManualError for a bad manual file, ConfigError for an unknown agency and
    SignerUnavailable when the agency's signing certificate cannot be loaded."""
    manuals = load_manuals(settings.manuals)
    linkage_settings = load_settings(settings.home)
    agency = linkage_settings.agencies.get(settings.agency)
    if agency is None:
        raise ConfigError(f"{settings.home.config_file}: no agency {settings.agency!r};"
                          f" known: {', '.join(sorted(linkage_settings.agencies))}")
    templates = jinja2.Environment(loader=jinja2.FileSystemLoader(_HERE / "templates"),
                                   autoescape=True, undefined=jinja2.StrictUndefined)
    state = CounterState(
        settings=settings, agency=agency, manuals=manuals, templates=templates,
        ca_root=x509.load_pem_x509_certificate(settings.home.ca.cert.read_bytes()),
        sessions=SessionStore(settings.session_ttl),
        limiter=Limiter(settings.signin_attempts),
        signer=CounterSigner.from_home(settings.home, settings.agency),
        agency_titles={name: a.title or name for name, a in linkage_settings.agencies.items()},
    )
    app = web.Application(middlewares=[_errors, _sessions, _csrf], client_max_size=64 * 1024)
    app[STATE] = state
    app.cleanup_ctx.append(_hub_ctx)
    app.cleanup_ctx.append(_store_ctx)
    app.on_response_prepare.append(_security_headers)
    add_http_metrics(app)  # GET /metrics: requests by route name and status, nothing about a person
    _routes(app)
    return app


def _routes(app: web.Application) -> None:
    """Every route of the counter. Names in _PUBLIC need no sign-in."""
    r = app.router
    r.add_get("/", _index, name="index")
    r.add_get("/signin", _signin_form, name="signin")
    r.add_post("/signin", _signin, name="signin_post")
    r.add_post("/signout", _signout, name="signout")
    r.add_get("/lang/{code}", _switch_lang, name="lang")
    r.add_get("/manuals", _manuals, name="manuals")
    r.add_get("/manuals/{service}", _manual, name="manual")
    r.add_get("/cases/new/{service}", _case_form, name="case_form")
    r.add_post("/cases/new/{service}", _case_open, name="case_open")
    r.add_get("/cases/{case_id}", _case, name="case")
    r.add_post("/cases/{case_id}/retry/{doc_type}", _case_retry, name="case_retry")
    r.add_post("/cases/{case_id}/certify", _case_certify, name="case_certify")
    r.add_get("/reports", _reports, name="reports")
    r.add_get("/reports.csv", _reports_csv, name="reports_csv")
    r.add_get("/reports/{service}", _report_service, name="report_service")
    r.add_get("/complaints/new", _complaint_form, name="complaint_form")
    r.add_post("/complaints/new", _complaint_post, name="complaint_post")
    r.add_get("/complaints", _complaints, name="complaints")
    r.add_get("/me", _me_form, name="me")
    r.add_post("/me", _me, name="me_post")
    r.add_get("/fonts/{name}", _font, name="font")
    r.add_static("/static", _HERE / "static", name="static")


_PUBLIC = frozenset({"metrics", "index", "signin", "signin_post", "lang", "manuals", "manual", "complaint_form",
                     "complaint_post", "me", "me_post", "font", "static"})


# --- resources -------------------------------------------------------------------------------------------------

async def _hub_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[STATE].settings
    # LINKAGE_COUNTER_HUB may name several hub replicas, comma-separated: calls are spread round-robin.
    addresses = [a.strip() for a in settings.hub_address.split(",") if a.strip()]
    hub = HubClient.connect(addresses, settings.home.ca.cert, settings.home.client_cert(settings.agency))
    app[HUB] = hub
    try:
        yield
    finally:
        await hub.close()


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[STATE].settings
    store = CounterStore(settings.database or settings.home.data / "counter.sqlite", case_ttl=settings.case_ttl)
    app[STORE] = store
    try:
        yield
    finally:
        store.close()


async def _doc_types(app: web.Application) -> Mapping[str, common_pb2.DocumentType]:
    """The document types the agency may fetch (field titles for labels), asked of the hub once."""
    state = app[STATE]
    if not state.doc_types:
        try:
            answer = await app[HUB].list_services()
        except LinkageError as err:
            _log.warning("ListServices failed: %s", err.reason)
            return {}
        state.doc_types = {s.doc_type.code: s.doc_type for s in answer.services}
    return state.doc_types


# --- middleware --------------------------------------------------------------------------------------------------

_HTTP_TEXT = {
    404: ("ไม่พบหน้าที่ต้องการ", "Page not found."),
    405: ("ไม่รองรับวิธีเรียกหน้านี้", "Method not allowed."),
    413: ("ข้อมูลที่ส่งมามีขนาดใหญ่เกินไป", "The request is too large."),
}


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        th, en = _HTTP_TEXT.get(exc.status, ("คำขอไม่ถูกต้อง", "Bad request."))
        return _error_page(request, exc.status, th, en)
    except CounterError as err:
        return _error_page(request, err.status, err.message_th, err.message_en)
    except LinkageError as err:
        _log.warning("hub refused %s: %s %s", request.path, type(err).__name__, err.reason)
        return _error_page(request, 502, "ระบบเชื่อมโยงข้อมูลไม่สามารถให้บริการได้ในขณะนี้ กรุณาลองใหม่",
                           f"The linkage hub could not serve this request ({err.reason}); please try again.")
    except Exception:
        _log.exception("unexpected error on %s %s", request.method, request.path)
        return _error_page(request, 500, "เกิดข้อผิดพลาดภายในระบบ เจ้าหน้าที่ดูรายละเอียดได้ในบันทึกของระบบ",
                           "Internal error; the server log has the details.")


@web.middleware
async def _sessions(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    cookie = request.cookies.get(SESSION_COOKIE)
    session = state.sessions.get(cookie)
    if session is not None:
        request[_SESSION] = session
    anon = request.cookies.get(ANON_COOKIE, "")
    request[_SET_ANON] = not anon
    request[_ANON] = anon or secrets.token_urlsafe(32)
    route = request.match_info.route.name
    if session is None and request.match_info.http_exception is None and route not in _PUBLIC:
        target = f"/signin?next={quote(request.path_qs, safe='')}" + ("&expired=1" if cookie else "")
        raise web.HTTPSeeOther(target)
    response = await handler(request)
    if request[_SET_ANON]:
        _cookie(request, response, ANON_COOKIE, request[_ANON])
    return response


@web.middleware
async def _csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "POST":
        form = await request.post()
        sent = form.get("csrf")
        expected = _csrf_token(request)
        if not isinstance(sent, str) or not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
            raise CsrfRejected()
    return await handler(request)


# The pages run no script at all, so everything starts from 'none' (stricter than default-src 'self') and only
# the stylesheet, the font and images from this site are allowed; no 'unsafe-inline': no style or script is
# written into a page (templates/ has none, a test keeps it so). Objects, <base>, framing by any site and forms
# posting elsewhere are refused outright.
CSP = ("default-src 'none'; script-src 'none'; style-src 'self'; font-src 'self'; img-src 'self';"
       " connect-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# Only these carry nothing personal and may be kept by the browser.
_CACHEABLE = ("/static/", "/fonts/")


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response the app makes: pages, redirects, error pages, the PDF, the CSV, static files, the font.
    (aiohttp's own 400 for a request it cannot parse is made before the app is reached and goes without.)"""
    h = response.headers
    h["Content-Security-Policy"] = CSP
    h["X-Content-Type-Options"] = "nosniff"
    h["Referrer-Policy"] = "no-referrer"
    h["X-Frame-Options"] = "DENY"
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    h["Cross-Origin-Resource-Policy"] = "same-origin"
    h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if not request.path.startswith(_CACHEABLE):
        # Pages, the certified PDF and the CSV may hold personal data: never on disk, never in the back button.
        h["Cache-Control"] = "no-store"


# --- helpers -----------------------------------------------------------------------------------------------------

def _session(request: web.Request) -> Session:
    session: Session | None = request.get(_SESSION)
    if session is None:  # the middleware redirects first; this guards against a route left out of it
        raise web.HTTPSeeOther("/signin")
    return session


def _csrf_token(request: web.Request) -> str:
    session: Session | None = request.get(_SESSION)
    return session.csrf if session is not None else request[_ANON]


def _lang(request: web.Request) -> str:
    return "en" if request.cookies.get(LANG_COOKIE) == "en" else "th"


def _cookie(request: web.Request, response: web.StreamResponse, name: str, value: str,
            max_age: int | None = None) -> None:
    response.set_cookie(name, value, httponly=True, samesite="Strict", path="/", max_age=max_age,
                        secure=request.app[STATE].settings.secure_cookies)


def _local(target: str | None, default: str = "/") -> str:
    """target if it is a path on this site, else default (no open redirects). Browsers drop tabs and newlines
    from URLs and read a backslash as a slash, so "/<tab>/evil.example" would be "//evil.example": refused too."""
    if (not target or not target.startswith("/") or target.startswith("//") or "\\" in target
            or any(ch.isspace() or not ch.isprintable() for ch in target)):
        return default
    return target


def _render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    lang = _lang(request)
    state = request.app[STATE]

    def tr(th: str, en: str) -> str:
        return th if lang == "th" else en

    html = state.templates.get_template(template).render(
        lang=lang, tr=tr, session=request.get(_SESSION), csrf=_csrf_token(request), here=request.path_qs,
        agency_title=state.agency.title or state.agency.name, **context)
    return web.Response(text=html, content_type="text/html", charset="utf-8", status=status)


def _error_page(request: web.Request, status: int, th: str, en: str) -> web.Response:
    if _ANON not in request:
        request[_ANON] = request.cookies.get(ANON_COOKIE, "") or secrets.token_urlsafe(32)
    return _render(request, "error.html", status=status, status_code=status, message_th=th, message_en=en)


def _manual_or_404(request: web.Request) -> Manual:
    service = request.match_info["service"]
    manual = request.app[STATE].manuals.get(service)
    if manual is None:
        raise PageNotFound("service_not_found", f"ไม่พบบริการ “{service}” ในคู่มือสำหรับประชาชนของหน่วยงานนี้",
                           f"There is no service “{service}” in this office's citizen's manuals.")
    return manual


def _case_or_404(request: web.Request) -> Case:
    case = request.app[STORE].case(request.match_info["case_id"], _session(request).officer_id)
    if case is None:
        raise PageNotFound("case_not_found", "ไม่พบเรื่องนี้ หรือเรื่องนี้ไม่ได้เปิดโดยท่าน",
                           "No such case, or it was not opened by you.")
    return case


def _field(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    return value[:_MAX_FIELD] if isinstance(value, str) else ""


# --- sign-in -----------------------------------------------------------------------------------------------------

async def _index(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    session: Session | None = request.get(_SESSION)
    mine = request.app[STORE].open_cases(session.officer_id) if session is not None else []
    open_cases = [{"case": c, "manual": state.manuals.get(c.service_id),
                   "fetched": sum(1 for s in c.slots.values() if s.fetched)} for c in mine]
    return _render(request, "index.html", manuals=list(state.manuals.values()), open_cases=open_cases)


async def _signin_form(request: web.Request) -> web.StreamResponse:
    if request.get(_SESSION) is not None:
        raise web.HTTPSeeOther("/")
    return _render(request, "signin.html", next=_local(request.query.get("next")), error=None, value="",
                   expired=request.query.get("expired") == "1")


async def _signin(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    form = await request.post()
    key = request.remote or "unknown"
    if state.limiter.blocked(key):
        raise TooManyAttempts("signin_limited", "ลงชื่อเข้าใช้ไม่สำเร็จหลายครั้งเกินไป กรุณารอ 10 นาทีแล้วลองใหม่",
                              "Too many failed sign-ins; wait 10 minutes and try again.")
    raw = _field(form, "officer_id")
    target = _local(_field(form, "next"))
    try:
        officer_id = parse_officer_id(raw)
    except InvalidRequest as err:
        state.limiter.fail(key)
        return _render(request, "signin.html", status=400, next=target, value=raw, expired=False,
                       error=_id_message(err))
    if officer_id not in state.agency.officers:
        state.limiter.fail(key)
        return _render(request, "signin.html", status=403, next=target, value=raw, expired=False,
                       error=(f"เลขประจำตัวนี้ไม่อยู่ในรายชื่อเจ้าหน้าที่ของ{state.agency.title or state.agency.name}",
                              "This ID is not on the office's list of officers."))
    state.limiter.reset(key)
    name = await _officer_name(request.app, officer_id)
    head = state.settings.office_head or min(state.agency.officers)
    is_head = officer_id == head
    session = state.sessions.open(officer_id, name, "หัวหน้าสำนักงาน" if is_head else "เจ้าหน้าที่เคาน์เตอร์บริการ",
                                  "Office head" if is_head else "Counter officer", is_head)
    response = web.HTTPSeeOther(target)
    _cookie(request, response, SESSION_COOKIE, session.id)
    raise response


async def _officer_name(app: web.Application, officer_id: str) -> str:
    """The officer's name from the civil registry, through the hub (the fetch is logged like any other).

    Empty when it cannot be had: sign-in does not depend on the registry being up.
    """
    try:
        doc = await app[HUB].fetch_document("dopa.person", officer_id, purpose=SIGNIN_PURPOSE,
                                            officer_id=officer_id)
    except LinkageError as err:
        _log.warning("officer name lookup failed: %s", err.reason)
        return ""
    data = doc.data
    return f"{data.get('title', '')}{data.get('first_name_th', '')} {data.get('last_name_th', '')}".strip()


async def _signout(request: web.Request) -> web.StreamResponse:
    request.app[STATE].sessions.close(_session(request).id)
    response = web.HTTPSeeOther("/signin")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


async def _switch_lang(request: web.Request) -> web.StreamResponse:
    code = request.match_info["code"]
    if code not in ("th", "en"):
        raise web.HTTPNotFound()
    response = web.HTTPSeeOther(_local(request.query.get("next")))
    _cookie(request, response, LANG_COOKIE, code, max_age=365 * 86400)
    raise response


def _id_message(err: InvalidRequest) -> tuple[str, str]:
    """parse_id's "what: Thai / English" message as (Thai, English), without the field-name prefix."""
    return _split_message(err.message)


def _split_message(message: str) -> tuple[str, str]:
    """The hub's "field: Thai / English" message as (Thai, English), without the field-name prefix."""
    head, sep, rest = message.partition(": ")
    text = rest if sep and head.isidentifier() else message
    th, _, en = text.partition(" / ")
    return th, en or th


# --- manuals -----------------------------------------------------------------------------------------------------

async def _manuals(request: web.Request) -> web.StreamResponse:
    return _render(request, "manuals.html", manuals=list(request.app[STATE].manuals.values()))


async def _manual(request: web.Request) -> web.StreamResponse:
    manual = _manual_or_404(request)
    return _render(request, "manual.html", m=manual, doc_types=await _doc_types(request.app))


# --- cases -------------------------------------------------------------------------------------------------------

async def _case_form(request: web.Request) -> web.StreamResponse:
    manual = _manual_or_404(request)
    return _render(request, "case_form.html", m=manual, value="", present=False, error=None)


async def _case_open(request: web.Request) -> web.StreamResponse:
    manual = _manual_or_404(request)
    session = _session(request)
    state = request.app[STATE]
    form = await request.post()
    raw = _field(form, "subject_id")
    present = form.get("citizen_present") == "1"
    # A malformed ID is answered here, next to the field, before anything is sent to the hub.
    if not raw.strip():
        return _render(request, "case_form.html", status=400, m=manual, value=raw, present=present,
                       error=("กรุณากรอกเลขประจำตัว 13 หลัก", "Please enter the 13-digit ID."))
    try:
        subject = parse_id(raw, manual.subject)
    except InvalidRequest as err:
        return _render(request, "case_form.html", status=400, m=manual, value=raw, present=present,
                       error=_id_message(err))
    store = request.app[STORE]
    now = dt.datetime.now(_BANGKOK)
    doc_types = list(manual.linked_doc_types)
    report = _report_row(manual)
    # On disk before anything is asked of the hub: a counter killed during the fetch comes back with the case
    # and every document marked "interrupted, retry".
    case = store.open_case(Case(
        id=new_case_id(), ref="", service_id=manual.id, subject_id=subject, citizen_present=present,
        officer_id=session.officer_id, created=time.time(), opened_at=now.isoformat(timespec="seconds"),
        slots={t: _problem_slot(t, *_INTERRUPTED) for t in doc_types}), f"PHR-{now.year + 543}-", report)
    started = time.perf_counter()
    try:
        answer = await request.app[HUB].fetch_documents(
            doc_types, subject, purpose=manual.purpose, officer_id=session.officer_id, case_ref=case.ref,
            citizen_present=present)
        slots = [_slot(state, doc_type, outcome) for doc_type, outcome in answer.items()]
    except LinkageError as err:
        # The whole call failed (e.g. the hub is down): keep the case, every document can be retried.
        _log.warning("FetchDocuments failed for case %s: %s", case.ref, err.reason)
        slots = [_problem_slot(t, err.reason, err.message, err.retryable, err.provider) for t in doc_types]
    store.update_case(case.id, slots, report, fetch_ms=(time.perf_counter() - started) * 1000)
    raise web.HTTPSeeOther(f"/cases/{case.id}")


# What a document shows when the counter stopped between asking the hub and storing its answer.
_INTERRUPTED = ("fetch_interrupted", "ระบบเคาน์เตอร์หยุดทำงานก่อนได้รับเอกสารฉบับนี้ กรุณากดลองดึงอีกครั้ง"
                " / The counter stopped before this document arrived; press retry.", True, "")


def _slot(state: CounterState, doc_type: str, outcome: Printout | LinkageError) -> DocSlot:
    if isinstance(outcome, Printout):
        return _document_slot(state, doc_type, outcome)
    return _problem_slot(doc_type, outcome.reason, outcome.message, outcome.retryable, outcome.provider)


def _document_slot(state: CounterState, doc_type: str, doc: Printout) -> DocSlot:
    # The client verified it on receipt; a printout that failed arrives as a PrintoutRejected problem instead.
    report = doc.report if doc.report is not None else verify_printout(doc.jws, state.ca_root)
    failed = ", ".join(f"[{c.number}] {c.name}" for c in report.failed)
    return DocSlot(doc_type=doc_type, printout_id=doc.printout_id, jws=doc.jws,
                   payload=doc.payload, issued_at=doc.issued_at, log_index=doc.log_index,
                   seal_valid=report.valid,
                   seal_detail=", ".join(f"[{c.number}] {c.name}" for c in report.checks if c.ok) if report.valid
                   else f"failed: {failed}")


def _problem_slot(doc_type: str, reason: str, message: str, retryable: bool, provider: str) -> DocSlot:
    return DocSlot(doc_type=doc_type, problem_reason=reason, problem_message=message,
                   problem_retryable=retryable, problem_provider=provider)


def _report_row(manual: Manual) -> Report:
    """How a case of this service is counted in the reports (no personal data: service, day and counts)."""
    def row(case: Case) -> CaseRow:
        return CaseRow(
            case_ref=case.ref, service_id=manual.id, day=case.opened_at[:10], required=len(manual.documents),
            linked=sum(1 for d in manual.documents if d.linked),
            fetched=sum(1 for d in manual.documents if d.doc_type and d.doc_type in case.slots
                        and case.slots[d.doc_type].fetched),
            brought=len(manual.brought))
    return row


async def _case(request: web.Request) -> web.StreamResponse:
    case = _case_or_404(request)
    state = request.app[STATE]
    manual = state.manuals[case.service_id]
    lang = _lang(request)
    types = await _doc_types(request.app)
    cards = []
    for doc_type, slot in case.slots.items():
        spec = types.get(doc_type)
        names = [d.name for d in manual.documents if d.doc_type == doc_type]
        cards.append({
            "slot": slot, "names": names,
            "title": (spec.title_th if lang == "th" else spec.title_en) if spec is not None else doc_type,
            "rows": field_rows(spec, slot.payload.get("data", {}), lang) if slot.fetched else [],
            "issued": issued_text(slot.issued_at, lang) if slot.fetched else "",
            "problem": _split_message(slot.problem_message),
        })
    return _render(request, "case.html", case=case, m=manual, cards=cards,
                   fetched=sum(1 for s in case.slots.values() if s.fetched))


async def _case_retry(request: web.Request) -> web.StreamResponse:
    case = _case_or_404(request)
    session = _session(request)
    state = request.app[STATE]
    manual = state.manuals[case.service_id]
    doc_type = request.match_info["doc_type"]
    form = await request.post()
    present = case.citizen_present or form.get("citizen_present") == "1"
    if doc_type not in case.slots:
        raise PageNotFound("document_not_in_case", "เรื่องนี้ไม่มีเอกสารประเภทนี้",
                           "This case has no document of that type.")
    try:
        doc = await request.app[HUB].fetch_document(
            doc_type, case.subject_id, purpose=manual.purpose, officer_id=session.officer_id, case_ref=case.ref,
            citizen_present=present)
        slot = _document_slot(state, doc_type, doc)
    except LinkageError as err:
        slot = _problem_slot(doc_type, err.reason, err.message, err.retryable, err.provider)
    # Only this slot is written: a retry of another document of the same case running alongside keeps its own.
    request.app[STORE].update_case(case.id, [slot], _report_row(manual), citizen_present=present)
    raise web.HTTPSeeOther(f"/cases/{case.id}#doc-{doc_type.replace('.', '-')}")


async def _case_certify(request: web.Request) -> web.StreamResponse:
    case = _case_or_404(request)
    session = _session(request)
    state = request.app[STATE]
    if not any(s.fetched for s in case.slots.values()):
        raise ServiceUnavailable("nothing_to_certify", "ยังไม่มีเอกสารที่ดึงได้ในเรื่องนี้ จึงยังรับรองสำเนาไม่ได้",
                                 "No document of this case has been fetched yet; there is nothing to certify.")
    await _doc_types(request.app)  # titles of the document types, from the hub
    pdf = await make_certified_pdf(state, case, session)
    return web.Response(body=pdf, content_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{case.ref}.pdf"'})


def _subject_name(case: Case) -> str:
    """The citizen's or company's Thai name, from the first fetched document that carries one."""
    for slot in case.slots.values():
        data = slot.payload.get("data", {})
        if data.get("first_name_th"):
            return f"{data.get('title', '')}{data['first_name_th']} {data.get('last_name_th', '')}".strip()
        if data.get("name_th"):
            return str(data["name_th"])
    return ""


async def make_certified_pdf(state: CounterState, case: Case, session: Session) -> bytes:
    """The case's certified printout: one A4 PDF, PAdES-signed with the counter agency's certificate.

    Every seal is checked again before anything is printed; a broken seal or a missing signing key
    becomes a Thai / English page (ServiceUnavailable), never a half-made PDF.
    """
    manual = state.manuals[case.service_id]
    fetched = [slot for slot in case.slots.values() if slot.fetched]
    print_case = PrintCase(
        service_name=manual.name_th, subject_id=case.subject_id, subject_name=_subject_name(case),
        officer_name=session.name or session.officer_id, officer_id=session.officer_id,
        agency_title=state.agency.title, case_ref=case.ref, printouts=[slot.jws for slot in fetched],
        still_to_bring=[d.name for d in manual.brought], doc_types=state.doc_types)
    try:
        return await certify_async(print_case, state.signer)
    except PrintoutError as err:
        _log.warning("certified printout refused for case %s: %s", case.ref, err.code)
        raise ServiceUnavailable(err.code, err.message_th, err.message) from err


# --- reports -----------------------------------------------------------------------------------------------------

def _report_rows(app: web.Application) -> tuple[list[dict[str, Any]], dict[str, Any], list[tuple[str, int]]]:
    """Per-service rows, the office-wide row and cases per day."""
    state = app[STATE]
    cases = app[STORE].cases()
    rows = []
    for m in state.manuals.values():
        mine = [c for c in cases if c.service_id == m.id]
        required = len(m.documents)
        linked = sum(1 for d in m.documents if d.linked)
        rows.append(_figures(m.id, m.name_th, m.name_en, required, linked, mine))
    office = _figures("", "ทั้งสำนักงาน", "Whole office", sum(r["required"] for r in rows),
                      sum(r["linked"] for r in rows), cases)
    days: dict[str, int] = {}
    for c in cases:
        days[c.day] = days.get(c.day, 0) + 1
    return rows, office, sorted(days.items())


def _figures(service: str, name_th: str, name_en: str, required: int, linked: int,
             cases: list[CaseRow]) -> dict[str, Any]:
    reduction = 100.0 * linked / required if required else 0.0
    days = {c.day for c in cases}
    return {
        "service": service, "name_th": name_th, "name_en": name_en, "required": required, "linked": linked,
        "brought": required - linked, "reduction": reduction,
        "target": "above" if reduction >= TARGET_HIGH else "met" if reduction >= TARGET_LOW else "below",
        "cases": len(cases), "fetched": sum(c.fetched for c in cases),
        "copies_avoided": sum(c.fetched for c in cases),
        "per_day": len(cases) / len(days) if days else 0.0,
    }


async def _reports(request: web.Request) -> web.StreamResponse:
    rows, office, days = _report_rows(request.app)
    return _render(request, "reports.html", rows=rows, office=office, days=days, low=TARGET_LOW, high=TARGET_HIGH)


async def _report_service(request: web.Request) -> web.StreamResponse:
    manual = _manual_or_404(request)
    rows, _, _ = _report_rows(request.app)
    row = next(r for r in rows if r["service"] == manual.id)
    days: dict[str, int] = {}
    for c in request.app[STORE].cases():
        if c.service_id == manual.id:
            days[c.day] = days.get(c.day, 0) + 1
    return _render(request, "report_service.html", m=manual, row=row, days=sorted(days.items()),
                   low=TARGET_LOW, high=TARGET_HIGH)


async def _reports_csv(request: web.Request) -> web.StreamResponse:
    rows, office, days = _report_rows(request.app)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["service", "name_th", "name_en", "documents_required", "fetched_through_linkage",
                "still_brought", "reduction_percent", "cabinet_target_30_50", "cases", "documents_fetched_in_cases",
                "cases_per_day"])
    for r in [*rows, office]:
        w.writerow([r["service"] or "*", r["name_th"], r["name_en"], r["required"], r["linked"], r["brought"],
                    f"{r['reduction']:.1f}", r["target"], r["cases"], r["fetched"], f"{r['per_day']:.2f}"])
    w.writerow([])
    w.writerow(["day", "cases"])
    for day, count in days:
        w.writerow([day, count])
    # A BOM so that spreadsheet programs read the Thai as UTF-8.
    return web.Response(body=("\ufeff" + out.getvalue()).encode("utf-8"), content_type="text/csv",
                        charset="utf-8", headers={"Content-Disposition": 'attachment; filename="counter-report.csv"'})


# --- complaints --------------------------------------------------------------------------------------------------

async def _complaint_form(request: web.Request) -> web.StreamResponse:
    return _render(request, "complaint_form.html", manuals=list(request.app[STATE].manuals.values()),
                   values={}, errors={}, done=None)


async def _complaint_post(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    form = await request.post()
    values = {k: _field(form, k) for k in ("office", "service", "demanded", "details", "contact")}
    errors: dict[str, tuple[str, str]] = {}
    if not values["details"].strip():
        errors["details"] = ("กรุณาเล่าเหตุการณ์ที่เกิดขึ้น", "Please say what happened.")
    if not values["office"].strip():
        errors["office"] = ("กรุณาระบุหน่วยงานหรือจุดบริการ", "Please name the office or counter.")
    if values["service"] and values["service"] not in state.manuals and values["service"] != "other":
        errors["service"] = ("กรุณาเลือกบริการจากรายการ", "Please choose a service from the list.")
    if errors:
        return _render(request, "complaint_form.html", status=400, manuals=list(state.manuals.values()),
                       values=values, errors=errors, done=None)
    number = request.app[STORE].add_complaint(dt.datetime.now(_BANGKOK).isoformat(timespec="seconds"),
                                              values["office"], values["service"], values["demanded"],
                                              values["details"], values["contact"])
    return _render(request, "complaint_form.html", manuals=list(state.manuals.values()), values={}, errors={},
                   done=number)


async def _complaints(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    names = {m.id: m.name_th for m in state.manuals.values()}
    return _render(request, "complaints.html", complaints=request.app[STORE].complaints(), names=names)


# --- assets ------------------------------------------------------------------------------------------------------

async def _font(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in _FONT_FILES:
        raise web.HTTPNotFound()
    return web.FileResponse(_FONTS / name, headers={"Cache-Control": "public, max-age=86400",
                                                    "Content-Type": "font/ttf"})


# --- the citizen's own history ----------------------------------------------------------------------------------

_CARD_FIELDS = ("first_name_th", "last_name_th", "birth_date", "laser_code")


async def _me_form(request: web.Request) -> web.StreamResponse:
    return _render(request, "me.html", values={}, errors={}, accesses=None, subject="")


async def _me(request: web.Request) -> web.StreamResponse:
    """Who read my data: the citizen types what is printed on their card; the hub checks it with the civil
    registry (the sandbox's stand-in for a ThaiD login) and lists the accesses. Answered on this page, never by
    redirect, so the ID stays out of URLs; the laser code is never echoed back."""
    state = request.app[STATE]
    form = await request.post()
    values = {name: _field(form, name).strip() for name in ("subject_id", *_CARD_FIELDS)}
    shown = {k: v for k, v in values.items() if k != "laser_code"}
    errors: dict[str, tuple[str, str]] = {}
    subject = ""
    try:
        subject = parse_id(values["subject_id"], IdKind.CITIZEN)
    except InvalidRequest as err:
        errors["subject_id"] = _id_message(err)
    for name in ("first_name_th", "last_name_th", "laser_code"):
        if not values[name]:
            errors[name] = ("กรุณากรอกช่องนี้ตามที่พิมพ์บนบัตร", "Please fill this in as printed on the card.")
    birth = values["birth_date"]
    if not (len(birth) == 8 and birth.isdigit()):
        errors["birth_date"] = ("วันเกิดต้องเป็นตัวเลข 8 หลัก คือ ปี พ.ศ. เดือน วัน เช่น 25300115",
                                "The date of birth must be 8 digits: BE year, month, day, e.g. 25300115.")
    if errors:
        return _render(request, "me.html", status=400, values=shown, errors=errors, accesses=None, subject="")
    # Guessing a laser code is limited per address and per ID, whichever runs out first.
    keys = (f"me:{request.remote or 'unknown'}", f"me-id:{subject}")
    if any(state.limiter.blocked(k) for k in keys):
        raise TooManyAttempts("card_check_limited", "ตรวจข้อมูลบัตรไม่ผ่านหลายครั้งเกินไป กรุณารอ 10 นาทีแล้วลองใหม่",
                              "Too many card checks failed; wait 10 minutes and try again.")
    card = provider_pb2.CheckCardRequest(subject_id=subject, **{k: values[k] for k in _CARD_FIELDS})
    try:
        found = await request.app[HUB].list_accesses(subject, citizen_card=card)
    except LinkageError as err:
        if err.reason != "citizen_not_verified":
            raise
        for k in keys:
            state.limiter.fail(k)
        return _render(request, "me.html", status=403, values=shown, accesses=None, subject="", errors={"form": (
            "ข้อมูลบนบัตรไม่ตรงกับทะเบียนราษฎร หรือบัตรถูกยกเลิกแล้ว กรุณาตรวจสอบแล้วลองใหม่",
            "The card details do not match the civil registry, or the card was voided; check them and try again.")})
    lang = _lang(request)
    titles = state.agency_titles
    doc_types = await _doc_types(request.app)
    accesses = [{
        "when": issued_text(a.issued_at, lang), "agency": titles.get(a.agency, a.agency),
        "doc_type": _doc_title(doc_types.get(a.doc_type), a.doc_type, lang), "purpose": a.purpose,
        "case_ref": a.case_ref, "printout_id": a.printout_id, "revoked": a.revoked,
    } for a in sorted(found, key=lambda a: a.log_index, reverse=True)]
    return _render(request, "me.html", values={}, errors={}, accesses=accesses, subject=subject)


def _doc_title(doc_type: common_pb2.DocumentType | None, code: str, lang: str) -> str:
    if doc_type is None:
        return code
    return (doc_type.title_th if lang == "th" else doc_type.title_en) or code


# --- running -----------------------------------------------------------------------------------------------------

async def serve(home: Home, port: int, ready: Callable[[int], None]) -> None:
    """Run the counter for home on port (0: any free one) until cancelled; ready(bound_port) once listening."""
    settings = CounterSettings.from_env(home)
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, port)
        await site.start()
        ready(int(runner.addresses[0][1]))
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
