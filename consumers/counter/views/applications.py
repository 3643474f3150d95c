"""Applications at the counter: the service's form prefilled from the case's printouts, completed by the officer
with what the citizen says, confirmed by the citizen, numbered, stored with the printouts it came from, and
printed as a signed PDF in the language chosen for it.

A prefilled value is never read back from the browser: it is taken again from the case's sealed printout when
the form is posted, so what is stored is what the registry sent. Only a field whose document could not be
fetched is typed by the officer, and it is stored as such.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from consumers.counter.applications.fees import Bill, BillStore
from consumers.counter.applications.forms import FORMS, AppForm, FormField
from consumers.counter.applications.pdf import ApplicationPaper, sign_application_async
from consumers.counter.applications.store import (
    COUNTER,
    DRAFT,
    ONLINE,
    PAID,
    Application,
    ApplicationStore,
    SourcePrintout,
    new_application_id,
)
from consumers.counter.applications.values import FieldProblem, Filled, parse, prefill, shown, typed
from consumers.counter.display import BANGKOK, issued_text
from consumers.counter.errors import Forbidden, PageNotFound, ServiceUnavailable
from consumers.counter.pages import case_or_404, current_session, form_field, language, render
from consumers.counter.printout import PrintoutError
from consumers.counter.state import STATE, STORE, hub_doc_types
from consumers.counter.store import Case
from linkage.seal import unverified_payload

__all__ = ["application_confirm", "application_form", "application_page", "application_pdf", "application_post",
           "form_rows", "print_application", "read_posted", "source_printouts", "value_rows"]

_log = logging.getLogger("consumers.counter")
_LANGS = ("th", "en")


def _form_or_404(request: web.Request, service_id: str) -> AppForm:
    form = request.app[FORMS].get(service_id)
    if form is None:
        raise PageNotFound("form_not_found", "บริการนี้ยังไม่มีแบบคำขอ", "This service has no application form yet.")
    return form


def _doc_lang(request: web.Request, chosen: str = "") -> str:
    """The language of the application itself (chosen per document), by default the page's."""
    wanted = chosen or request.query.get("doc_lang", "")
    return wanted if wanted in _LANGS else language(request)


def _applications(request: web.Request) -> ApplicationStore:
    return ApplicationStore(request.app[STORE])


async def application_form(request: web.Request) -> web.StreamResponse:
    case = case_or_404(request)
    form = _form_or_404(request, case.service_id)
    existing = _applications(request).for_case(case.ref)
    if existing is not None and existing.status != DRAFT:
        raise web.HTTPSeeOther(f"/applications/{existing.id}")
    doc_lang = _doc_lang(request, "" if existing is None or "doc_lang" in request.query else existing.lang)
    typed_values = {name: typed(_field(form, name), v.value, doc_lang)
                    for name, v in (existing.values.items() if existing is not None else ())
                    if v.source != "printout"}
    return await _render_form(request, case, form, doc_lang, typed_values, {})


def _field(form: AppForm, name: str) -> FormField:
    return next(f for f in form.fields if f.name == name)


async def _render_form(request: web.Request, case: Case, form: AppForm, doc_lang: str, entered: Mapping[str, str],
                       errors: Mapping[str, str], status: int = 200) -> web.Response:
    rows = await form_rows(request, case, form, doc_lang, entered, errors)
    return render(request, "application_form.html", status=status, case=case, form=form, rows=rows,
                  doc_lang=doc_lang, errors=errors, manual=request.app[STATE].manuals[case.service_id],
                  fr=lambda th, en: th if doc_lang == "th" else en, action=f"/cases/{case.id}/application",
                  hidden={}, online=False)


async def form_rows(request: web.Request, case: Case, form: AppForm, doc_lang: str, entered: Mapping[str, str],
                    errors: Mapping[str, str]) -> list[dict[str, Any]]:
    """The form's rows as application_form.html shows them: each prefilled value with its printout, or what was
    typed and its problem."""
    filled = prefill(form, case.slots)
    titles = await hub_doc_types(request.app)
    rows = []
    for f in form.fields:
        source = filled.get(f.name)
        spec = titles.get(f.doc_type or "")
        doc_title = (spec.title_th if doc_lang == "th" else spec.title_en) if spec is not None else (f.doc_type or "")
        rows.append({"f": f, "label": f.label(doc_lang), "help": f.help(doc_lang), "filled": source,
                     "shown": shown(f, source.value, doc_lang) if source is not None else "",
                     "value": entered.get(f.name, ""), "error": errors.get(f.name, ""), "doc_title": doc_title,
                     "choices": [(c.value, c.th if doc_lang == "th" else c.en) for c in f.choices]})
    return rows


def read_posted(form: AppForm, case: Case, post: Mapping[str, Any], doc_lang: str, typist: str,
                ) -> tuple[dict[str, Filled], dict[str, str], dict[str, str]]:
    """The values of a posted form: every prefilled one again from the case's sealed printout (never from the
    browser), the others parsed, typed by ``typist`` ("officer" or "citizen") where a document could not be fetched.
    Returns (values, what was typed, each field's problem in the form's language)."""
    filled = prefill(form, case.slots)
    values: dict[str, Filled] = {}
    entered: dict[str, str] = {}
    errors: dict[str, str] = {}
    for f in form.fields:
        if f.name in filled:
            values[f.name] = filled[f.name]
            continue
        raw = form_field(post, f.name)
        entered[f.name] = raw
        try:
            value = parse(f, raw, doc_lang)
        except FieldProblem as problem:
            errors[f.name] = problem.message(doc_lang)
            continue
        values[f.name] = Filled(value, "citizen" if not f.prefilled else typist)
    return values, entered, errors


def source_printouts(case: Case) -> list[SourcePrintout]:
    """The case's sealed printouts, as an application keeps them."""
    return [SourcePrintout(s.printout_id, s.doc_type, s.log_index, s.jws, s.log_proof)
            for s in case.slots.values() if s.fetched]


async def application_post(request: web.Request) -> web.StreamResponse:
    case = case_or_404(request)
    session = current_session(request)
    form = _form_or_404(request, case.service_id)
    post = await request.post()
    doc_lang = _doc_lang(request, form_field(post, "doc_lang"))
    store = _applications(request)
    existing = store.for_case(case.ref)
    if existing is not None and existing.status != DRAFT:
        raise web.HTTPSeeOther(f"/applications/{existing.id}")
    values, entered, errors = read_posted(form, case, post, doc_lang, "officer")
    if errors:
        # Nothing is stored: the form comes back with every value as typed and each problem beside its field.
        return await _render_form(request, case, form, doc_lang, entered, errors, status=400)
    now = dt.datetime.now(BANGKOK)
    printouts = source_printouts(case)
    app = store.save_draft(Application(
        id=existing.id if existing is not None else new_application_id(), number="", service_id=case.service_id,
        case_ref=case.ref, subject_id=case.subject_id, lang=doc_lang, status=DRAFT, channel=COUNTER,
        officer_id=session.officer_id, created_at=now.isoformat(timespec="seconds"), values=values,
        printouts=printouts), f"PHR-APP-{now.year + 543}-")
    raise web.HTTPSeeOther(f"/applications/{app.id}")


def _application_or_404(request: web.Request) -> Application:
    app = _applications(request).get(request.match_info["app_id"], current_session(request).officer_id)
    if app is None:
        raise PageNotFound("application_not_found", "ไม่พบคำขอนี้ หรือคำขอนี้ไม่ได้รับโดยท่าน",
                           "No such application, or it was not taken by you.")
    return app


async def value_rows(request: web.Request, app: Application, form: AppForm) -> tuple[list[dict[str, Any]],
                                                                                      list[dict[str, Any]]]:
    """An application's values as its page shows them, each with its source; and the printouts they came from."""
    titles = await hub_doc_types(request.app)
    lang = app.lang
    rows = []
    for f in form.fields:
        v = app.values.get(f.name)
        spec = titles.get(v.doc_type) if v is not None and v.doc_type else None
        rows.append({"name": f.name, "label": f.label(lang), "value": shown(f, v.value if v else "", lang),
                     "source": v.source if v else "", "printout_id": v.printout_id if v else "",
                     "doc_title": (spec.title_th if lang == "th" else spec.title_en) if spec is not None
                     else (v.doc_type if v else "")})
    return rows, [{"p": p, "issued": issued_text(_issued_at(p.jws), lang)} for p in app.printouts]


async def application_page(request: web.Request) -> web.StreamResponse:
    app = _application_or_404(request)
    form = _form_or_404(request, app.service_id)
    lang = app.lang
    rows, sources = await value_rows(request, app, form)
    case = next((c for c in request.app[STORE].open_cases(app.officer_id) if c.ref == app.case_ref), None)
    return render(request, "application.html", app=app, form=form, rows=rows, sources=sources,
                  edit=f"/cases/{case.id}/application" if case is not None and app.status == DRAFT else "",
                  unconfirmed=request.query.get("unconfirmed") == "1",
                  manual=request.app[STATE].manuals[app.service_id], submitted=app.status != DRAFT,
                  fee=form.fee, bill=_bill(request, app, form), paid=app.status == PAID,
                  fr=lambda th, en: th if lang == "th" else en)


def _bill(request: web.Request, app: Application, form: AppForm) -> Bill | None:
    """The fee's bill of a submitted application (made the first time), None for a draft or a service without fee."""
    if form.fee is None:
        return None
    return BillStore(request.app[STORE]).open_bill(app, form.fee, dt.datetime.now(dt.UTC))


def _issued_at(jws: str) -> str:
    try:
        return str(unverified_payload(jws).get("issued_at", ""))
    except ValueError:
        return ""


async def application_confirm(request: web.Request) -> web.StreamResponse:
    app = _application_or_404(request)
    post = await request.post()
    if app.channel == ONLINE:
        raise Forbidden("application_online", "คำขอที่ยื่นออนไลน์ ผู้ยื่นต้องยืนยันเองจากหน้าของตน",
                        "An application made online is confirmed by the applicant, from their own page.")
    if post.get("citizen_confirms") != "1":
        raise web.HTTPSeeOther(f"/applications/{app.id}?unconfirmed=1#confirm")
    _applications(request).confirm(app.id, dt.datetime.now(BANGKOK).isoformat(timespec="seconds"))
    raise web.HTTPSeeOther(f"/applications/{app.id}")


async def application_pdf(request: web.Request) -> web.StreamResponse:
    app = _application_or_404(request)
    session = current_session(request)
    return await print_application(request, app, session.name or session.officer_id, session.officer_id)


async def print_application(request: web.Request, app: Application, officer_name: str,
                            officer_id: str) -> web.Response:
    """The submitted application as its signed PDF (a download); a draft is refused (503)."""
    state = request.app[STATE]
    if app.status == DRAFT:
        raise ServiceUnavailable("application_not_confirmed", "ผู้ยื่นยังไม่ได้ยืนยันคำขอนี้ จึงยังพิมพ์ไม่ได้",
                                 "The applicant has not confirmed this application yet; it cannot be printed.")
    paper = ApplicationPaper(
        application=app, form=_form_or_404(request, app.service_id), manual=state.manuals[app.service_id],
        agency_title=state.agency.title, officer_name=officer_name, officer_id=officer_id,
        doc_types=dict(await hub_doc_types(request.app)))
    try:
        pdf = await sign_application_async(paper, state.signer)
    except PrintoutError as err:
        _log.warning("application %s not printed: %s", app.number, err.code)
        raise ServiceUnavailable(err.code, err.message_th, err.message) from err
    return web.Response(body=pdf, content_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{app.number}.pdf"'})
