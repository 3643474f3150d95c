"""Applying online from the citizen's own page (issue 14, item 1): after the card check of /me, a citizen starts an
application for a service the way the counter does, with no one at a desk.

    1. /me lists the services a citizen applies for; choosing one shows which linkage documents the form is filled
       from, and asks the citizen's consent to fetch them, once (their card details stand in for presence: the hub
       records the consent, and the citizen's list of accesses marks those reads "your consent")
    2. the counter asks the hub for that consent, the citizen's approval is sent with their card details, and one
       FetchDocuments carrying it fills a case (views/cases.py's open_and_fetch), in the name of the office head,
       who answers for the online channel
    3. the form comes back prefilled from the sealed printouts, read-only, each naming its printout; the citizen
       types the rest (and what could not be fetched, marked so for the officer); bad values come back beside their
       fields, nothing stored
    4. saved as a draft (channel ``online``), shown for checking; once the citizen confirms it is submitted, its
       tracking timeline starts (``received``): it is in the officers' /tracking list, its page open to any officer
       of the agency, and the citizen downloads the signed PDF

Every step is a POST carrying the page token the card check gave (citizens.py): the ID never travels in a URL, and
a token expires after 10 minutes (the citizen types their card again). A case or application is shown only with a
token of the citizen it belongs to.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from consumers.counter.applications.forms import FORMS, AppForm
from consumers.counter.applications.store import DRAFT, ONLINE, Application, ApplicationStore, new_application_id
from consumers.counter.display import BANGKOK
from consumers.counter.errors import PageNotFound
from consumers.counter.manuals import Manual
from consumers.counter.pages import form_field, language, render
from consumers.counter.state import HUB, STATE, STORE, TRACKER, hub_doc_types
from consumers.counter.store import Case
from consumers.counter.views.applications import form_rows, print_application, read_posted, source_printouts, value_rows
from consumers.counter.views.cases import open_and_fetch
from linkage.errors import LinkageError
from linkage.ids import IdKind
from linkage.v1 import provider_pb2

__all__ = ["apply_confirm", "apply_fetch", "apply_pdf", "apply_save", "apply_start", "online_services"]

_LANGS = ("th", "en")
_EXPIRED = ("หมดเวลาแล้ว กรุณากรอกข้อมูลบัตรอีกครั้ง", "This page has expired; type your card details again.")


def online_services(request: web.Request) -> list[Manual]:
    """The services a citizen applies for from their own page: a person's, with an application form."""
    forms = request.app[FORMS]
    return sorted((m for m in request.app[STATE].manuals.values() if m.subject is IdKind.CITIZEN and m.id in forms),
                  key=lambda m: m.order)


def _online_officer(request: web.Request) -> str:
    """Who online applications are received by: the office head (LINKAGE_COUNTER_OFFICE_HEAD, else the first of the
    agency's officers), accountable for the reads made for them."""
    state = request.app[STATE]
    return state.settings.office_head or min(state.agency.officers)


@dataclass(frozen=True)
class _Citizen:
    """The citizen of a page token: their ID, their card details, and a fresh token for the next page."""

    subject: str
    card: provider_pb2.CheckCardRequest
    token: str


_Step = Callable[[web.Request, Any, _Citizen], Awaitable[web.StreamResponse]]


def _citizen_step(step: _Step) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A step of the flow: its form posted, its page token good (else the card check again, 403)."""

    @functools.wraps(step)
    async def handler(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        post = await request.post()
        held = state.citizens.get(form_field(post, "citizen"))
        if held is None:
            return render(request, "me.html", status=403, values={}, accesses=None, subject="",
                          errors={"form": _EXPIRED})
        subject, card = held
        return await step(request, post, _Citizen(subject, card, state.citizens.open(subject, card)))

    return handler


def _service(request: web.Request, service_id: str) -> tuple[Manual, AppForm]:
    manual = next((m for m in online_services(request) if m.id == service_id), None)
    if manual is None:
        raise PageNotFound("service_not_online", "บริการนี้ยื่นคำขอออนไลน์ไม่ได้", "This service cannot be applied for"
                                                                            " online.")
    return manual, request.app[FORMS][service_id]


def _doc_lang(request: web.Request, post: Any) -> str:
    chosen = form_field(post, "doc_lang")
    return chosen if chosen in _LANGS else language(request)


async def _consent_page(request: web.Request, manual: Manual, token: str, doc_lang: str, status: int = 200,
                        error: tuple[str, str] | None = None) -> web.Response:
    titles = await hub_doc_types(request.app)
    lang = language(request)
    documents = [(titles[t].title_th if lang == "th" else titles[t].title_en) if t in titles else t
                 for t in manual.linked_doc_types]
    return render(request, "me_apply.html", status=status, step="consent", manual=manual, documents=documents,
                  citizen=token, doc_lang=doc_lang, error=error)


@_citizen_step
async def apply_start(request: web.Request, post: Any, citizen: _Citizen) -> web.StreamResponse:
    """Step 1: what the chosen service's form is filled from, and the consent to fetch it."""
    manual, _ = _service(request, form_field(post, "service"))
    return await _consent_page(request, manual, citizen.token, _doc_lang(request, post))


@_citizen_step
async def apply_fetch(request: web.Request, post: Any, citizen: _Citizen) -> web.StreamResponse:
    """Step 2: the consent asked, approved with the citizen's card details, the documents fetched; the form."""
    subject, card, token = citizen.subject, citizen.card, citizen.token
    manual, form = _service(request, form_field(post, "service"))
    doc_lang = _doc_lang(request, post)
    if form_field(post, "consent") != "1":
        return await _consent_page(request, manual, token, doc_lang, 400, (
            "กรุณาทำเครื่องหมายยินยอมให้ดึงเอกสารก่อน หรือยื่นคำขอที่เคาน์เตอร์แทน",
            "Please tick your consent to fetch the documents first, or apply at the counter instead."))
    hub, officer = request.app[HUB], _online_officer(request)
    try:
        consent = await hub.request_consent(list(manual.linked_doc_types), subject, purpose=manual.purpose,
                                            officer_id=officer)
        await hub.decide_consent(consent.consent_id, subject, card, True)
    except LinkageError as err:
        return await _consent_page(request, manual, token, doc_lang, 503, (
            f"ขอความยินยอมผ่านระบบเชื่อมโยงไม่สำเร็จ: {err.message_th}",
            f"The consent could not be recorded through the linkage hub: {err.message_en}"))
    case, _ = await open_and_fetch(request, manual, subject, officer_id=officer, consent_id=consent.consent_id)
    if not any(slot.fetched for slot in case.slots.values()):
        # Nothing came: the citizen would type the whole form; say why instead, and where else to apply.
        slot = next(iter(case.slots.values()))
        return await _consent_page(request, manual, token, doc_lang, 503, (
            f"ดึงเอกสารจากระบบเชื่อมโยงไม่ได้ในขณะนี้ ({slot.problem_message_th}) กรุณาลองใหม่ภายหลัง หรือยื่นที่เคาน์เตอร์",
            f"The documents could not be fetched from the linkage system now ({slot.problem_message_en}); try again"
            " later, or apply at the counter."))
    return await _form_page(request, case, form, token, doc_lang, {}, {})


async def _form_page(request: web.Request, case: Case, form: AppForm, token: str, doc_lang: str,
                     entered: dict[str, str], errors: dict[str, str], status: int = 200) -> web.Response:
    rows = await form_rows(request, case, form, doc_lang, entered, errors)
    return render(request, "application_form.html", status=status, case=case, form=form, rows=rows, doc_lang=doc_lang,
                  errors=errors, manual=request.app[STATE].manuals[case.service_id],
                  fr=lambda th, en: th if doc_lang == "th" else en, action="/me/apply/save",
                  hidden={"citizen": token, "case": case.id}, online=True)


def _case(request: web.Request, case_id: str, subject: str) -> Case:
    case = request.app[STORE].case(case_id[:64], _online_officer(request))
    if case is None or case.subject_id != subject:
        raise PageNotFound("case_not_found", "ไม่พบคำขอที่กำลังกรอก หรือหมดเวลาแล้ว กรุณาเริ่มใหม่",
                           "No such application in progress, or it expired; please start again.")
    return case


@_citizen_step
async def apply_save(request: web.Request, post: Any, citizen: _Citizen) -> web.StreamResponse:
    """Step 3: the posted form read like the counter's (prefilled values again from the printouts); a draft."""
    subject, token = citizen.subject, citizen.token
    case = _case(request, form_field(post, "case"), subject)
    form = request.app[FORMS][case.service_id]
    doc_lang = _doc_lang(request, post)
    values, entered, errors = read_posted(form, case, post, doc_lang, "citizen")
    if errors:  # nothing stored: the form again, as typed, each problem beside its field
        return await _form_page(request, case, form, token, doc_lang, entered, errors, status=400)
    store = ApplicationStore(request.app[STORE])
    existing = store.for_case(case.ref)
    if existing is not None and existing.status != DRAFT:
        return await _check_page(request, existing, token)
    now = dt.datetime.now(BANGKOK)
    app = store.save_draft(Application(
        id=existing.id if existing is not None else new_application_id(), number="", service_id=case.service_id,
        case_ref=case.ref, subject_id=subject, lang=doc_lang, status=DRAFT, channel=ONLINE,
        officer_id=_online_officer(request), created_at=now.isoformat(timespec="seconds"), values=values,
        printouts=source_printouts(case)), f"PHR-APP-{now.year + 543}-")
    return await _check_page(request, app, token)


def _application(request: web.Request, post: Any, subject: str) -> Application:
    app = ApplicationStore(request.app[STORE]).load(form_field(post, "application")[:64])
    if app is None or app.channel != ONLINE or app.subject_id != subject:
        raise PageNotFound("application_not_found", "ไม่พบคำขอนี้", "No such application.")
    return app


async def _check_page(request: web.Request, app: Application, token: str, status: int = 200,
                      unconfirmed: bool = False) -> web.Response:
    form = request.app[FORMS][app.service_id]
    rows, sources = await value_rows(request, app, form)
    return render(request, "me_apply.html", status=status, step="check", app=app, form=form, rows=rows,
                  sources=sources, citizen=token, unconfirmed=unconfirmed, submitted=app.status != DRAFT,
                  manual=request.app[STATE].manuals[app.service_id], fr=lambda th, en: th if app.lang == "th" else en)


@_citizen_step
async def apply_confirm(request: web.Request, post: Any, citizen: _Citizen) -> web.StreamResponse:
    """Step 4: the citizen confirms; the application is submitted and its tracking starts, for the officers."""
    subject, token = citizen.subject, citizen.token
    app = _application(request, post, subject)
    if app.status == DRAFT and form_field(post, "citizen_confirms") != "1":
        return await _check_page(request, app, token, 400, unconfirmed=True)
    state = request.app[STATE]
    confirmed = ApplicationStore(request.app[STORE]).confirm(app.id, dt.datetime.now(BANGKOK).isoformat(
        timespec="seconds"))
    assert confirmed is not None
    # Received by the office: in the officers' list of cases from now on (a second confirm changes nothing).
    request.app[TRACKER].received(app.case_ref, app.service_id, state.agency.name, subject, app.officer_id)
    return await _check_page(request, confirmed, token)


@_citizen_step
async def apply_pdf(request: web.Request, post: Any, citizen: _Citizen) -> web.StreamResponse:
    """The submitted application as its signed PDF, for the citizen."""
    app = _application(request, post, citizen.subject)
    return await print_application(request, app, "ระบบยื่นคำขอออนไลน์ / online applications", app.officer_id)
