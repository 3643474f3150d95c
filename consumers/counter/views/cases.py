"""Cases: open one (every linked document fetched in one call, the case on disk first), show it, retry one
document, and certify the fetched printouts as one signed PDF."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping

from aiohttp import web

from consumers.auditor.bundle import proof_json
from consumers.auditor.verify import verify_printout
from consumers.client import OfficerSession, Printout
from consumers.counter.cardreader import NO_CARD, read_card
from consumers.counter.display import BANGKOK, field_rows, issued_text
from consumers.counter.errors import BadForm, PageNotFound, ServiceUnavailable
from consumers.counter.manuals import Manual
from consumers.counter.pages import (
    case_or_404,
    current_session,
    form_field,
    id_message,
    language,
    manual_or_404,
    render,
)
from consumers.counter.printout import PrintCase, PrintoutError, certify_async
from consumers.counter.reasons import INTERRUPTED, REVOKED, explain, provider_name
from consumers.counter.sessions import Session
from consumers.counter.state import HUB, STATE, STORE, TRACKER, CounterState, hub_doc_types
from consumers.counter.store import Case, CaseRow, DocSlot, Report, new_case_id
from linkage.cards import CitizenCard
from linkage.errors import InvalidRequest, LinkageError
from linkage.ids import IdKind, id_kind, parse_id
from linkage.v1 import common_pb2

__all__ = ["case_certify", "case_form", "case_open", "case_page", "case_retry", "case_revoke", "make_certified_pdf",
           "open_and_fetch"]

_log = logging.getLogger("consumers.counter")


async def case_form(request: web.Request) -> web.StreamResponse:
    return await _form(request, manual_or_404(request))


async def _form(request: web.Request, manual: Manual, status: int = 200, value: str = "", present: bool = False,
                error: tuple[str, str] | None = None) -> web.Response:
    """The form that opens a case, naming the documents it will fetch by their titles."""
    types, lang = await hub_doc_types(request.app), language(request)
    linked = [_title(types, manual, t, lang) for t in manual.linked_doc_types]
    return render(request, "case_form.html", status=status, m=manual, linked=linked, value=value, present=present,
                  error=error)


def _title(types: Mapping[str, common_pb2.DocumentType], manual: Manual, doc_type: str, lang: str) -> str:
    """A document type's title as the hub describes it, or else the manual's name for what it replaces."""
    spec = types.get(doc_type)
    if spec is not None:
        return spec.title_th if lang == "th" else spec.title_en
    return ", ".join(d.name for d in manual.documents if d.doc_type == doc_type) or doc_type


async def case_open(request: web.Request) -> web.StreamResponse:
    manual = manual_or_404(request)
    session = current_session(request)
    state = request.app[STATE]
    form = await request.post()
    raw = form_field(form, "subject_id")
    present = form.get("citizen_present") == "1"
    # A malformed ID is answered here, next to the field, before anything is sent to the hub.
    if not raw.strip():
        return await _form(request, manual, 400, raw, present, ("กรุณากรอกเลขประจำตัว 13 หลัก",
                                                                "Please enter the 13-digit ID."))
    try:
        subject = parse_id(raw, manual.subject)
    except InvalidRequest as err:
        return await _form(request, manual, 400, raw, present, id_message(err))
    # A person's own card proves they are here; a company's representative has no card of the company to show.
    card = read_card(state.settings, subject) if present and id_kind(subject) is IdKind.CITIZEN else None
    if present and id_kind(subject) is IdKind.CITIZEN and card is None:
        return await _form(request, manual, 400, raw, present, NO_CARD)
    case, refused = await open_and_fetch(
        request, manual, subject, officer_id=session.officer_id, officer_session=session.officer_session, card=card,
        present=present,
        # Its tracking timeline starts in the same transaction: no case without one, even after a crash.
        also=lambda db, c: request.app[TRACKER].received_in(db, c.ref, manual.id, state.agency.name, subject,
                                                            session.officer_id))
    _sign_in_again_if_gone(request, refused, case.id)
    raise web.HTTPSeeOther(f"/cases/{case.id}")


async def open_and_fetch(request: web.Request, manual: Manual, subject: str, *, officer_id: str,
                         officer_session: OfficerSession | None = None, card: CitizenCard | None = None,
                         present: bool = False, consent_id: str = "",
                         also: Callable[[sqlite3.Connection, Case], None] | None = None,
                         ) -> tuple[Case, LinkageError | None]:
    """Open a case of manual for subject and fetch its linked documents in one FetchDocuments call (with the
    citizen's card, or their consent); the case as stored, each document a printout or the problem that kept it,
    and the hub's refusal of the whole call if there was one."""
    state = request.app[STATE]
    store = request.app[STORE]
    now = dt.datetime.now(BANGKOK)
    doc_types = list(manual.linked_doc_types)
    report = _report_row(manual)
    # On disk before anything is asked of the hub: a counter killed during the fetch comes back with the case
    # and every document marked "interrupted, retry".
    case = store.open_case(Case(
        id=new_case_id(), ref="", service_id=manual.id, subject_id=subject, citizen_present=present,
        officer_id=officer_id, created=time.time(), opened_at=now.isoformat(timespec="seconds"),
        slots={t: _interrupted(t) for t in doc_types}), f"PHR-{now.year + 543}-", report, also=also)
    started = time.perf_counter()
    refused: LinkageError | None = None
    try:
        answer = await request.app[HUB].fetch_documents(
            doc_types, subject, purpose=manual.purpose, officer_id=officer_id, officer_session=officer_session,
            case_ref=case.ref, citizen_card=card, consent_id=consent_id)
        slots = [_slot(state, doc_type, outcome) for doc_type, outcome in answer.items()]
    except LinkageError as err:
        # The whole call failed (e.g. the hub is down): keep the case, every document can be retried.
        _log.warning("FetchDocuments failed for case %s: %s", case.ref, err.code)
        slots, refused = [_problem_slot(t, err) for t in doc_types], err
    case = store.update_case(case.id, slots, report, fetch_ms=(time.perf_counter() - started) * 1000) or case
    return case, refused


def _sign_in_again_if_gone(request: web.Request, err: LinkageError | None, case_id: str) -> None:
    """When the hub no longer takes the officer's session (it ended, the hub forgot it, their key was revoked), the
    counter session ends too and the officer is sent to sign in again, then back to the case (kept, retry)."""
    if err is not None and err.code in ("officer_session_unknown", "officer_session_expired", "officer_key_revoked"):
        request.app[STATE].sessions.close(current_session(request).id)
        raise web.HTTPSeeOther(f"/signin?next=/cases/{case_id}&expired=1")


def _interrupted(doc_type: str) -> DocSlot:
    """What a document shows when the counter stopped between asking the hub and storing its answer."""
    return DocSlot(doc_type=doc_type, problem_reason=INTERRUPTED,
                   problem_message_th="ระบบเคาน์เตอร์หยุดทำงานก่อนได้รับเอกสารฉบับนี้ กรุณากดลองดึงอีกครั้ง",
                   problem_message_en="The counter stopped before this document arrived; press retry.",
                   problem_retryable=True)


def _slot(state: CounterState, doc_type: str, outcome: Printout | LinkageError) -> DocSlot:
    if isinstance(outcome, Printout):
        return _document_slot(state, doc_type, outcome)
    return _problem_slot(doc_type, outcome)


def _document_slot(state: CounterState, doc_type: str, doc: Printout) -> DocSlot:
    # The client verified it on receipt; a printout that failed arrives as a PrintoutRejected problem instead.
    report = doc.report if doc.report is not None else verify_printout(doc.jws, state.ca_root)
    failed = ", ".join(f"[{c.number}] {c.name}" for c in report.failed)
    return DocSlot(doc_type=doc_type, printout_id=doc.printout_id, jws=doc.jws,
                   payload=doc.payload, issued_at=doc.issued_at, log_index=doc.log_index,
                   seal_valid=report.valid, log_proof=proof_json(doc.bundle()),
                   seal_detail=", ".join(f"[{c.number}] {c.name}" for c in report.checks if c.ok) if report.valid
                   else f"failed: {failed}")


def _problem_slot(doc_type: str, err: LinkageError) -> DocSlot:
    return DocSlot(doc_type=doc_type, problem_reason=err.code, problem_message_th=err.message_th,
                   problem_message_en=err.message_en, problem_retryable=err.retryable, problem_provider=err.provider)


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


async def case_page(request: web.Request) -> web.StreamResponse:
    case = case_or_404(request)
    state = request.app[STATE]
    manual = state.manuals[case.service_id]
    lang = language(request)
    types = await hub_doc_types(request.app)
    cards, unfetchable = [], []
    for doc_type, slot in case.slots.items():
        spec = types.get(doc_type)
        names = [d.name for d in manual.documents if d.doc_type == doc_type]
        problem = explain(slot.problem_reason, retryable=slot.problem_retryable, provider=slot.problem_provider,
                          title_th=spec.title_th if spec is not None else "เอกสารนี้",
                          title_en=spec.title_en if spec is not None else "document")
        if not slot.fetched and not problem.retry:
            # What a retry cannot bring (no right to the type, no such record) the applicant brings on paper.
            unfetchable.extend(names)
        cards.append({
            "slot": slot, "names": names, "title": _title(types, manual, doc_type, lang),
            "rows": field_rows(spec, slot.payload.get("data", {}), lang) if slot.fetched else [],
            "issued": issued_text(slot.issued_at, lang) if slot.fetched else "",
            "problem": problem, "provider": provider_name(slot.problem_provider),
        })
    return render(request, "case.html", case=case, m=manual, cards=cards, applicant=_subject_name(case),
                  unfetchable=unfetchable, fetched=sum(1 for s in case.slots.values() if s.fetched))


async def case_retry(request: web.Request) -> web.StreamResponse:
    case = case_or_404(request)
    session = current_session(request)
    state = request.app[STATE]
    manual = state.manuals[case.service_id]
    doc_type = request.match_info["doc_type"]
    form = await request.post()
    present = case.citizen_present or form.get("citizen_present") == "1"
    if doc_type not in case.slots:
        raise PageNotFound("document_not_in_case", "เรื่องนี้ไม่มีเอกสารประเภทนี้",
                           "This case has no document of that type.")
    # The card is read again for each retry: the reader holds it only while the citizen is at the desk.
    reads = present and id_kind(parse_id(case.subject_id)) is IdKind.CITIZEN
    card = read_card(state.settings, case.subject_id) if reads else None
    refused: LinkageError | None = None
    try:
        if reads and card is None:
            raise InvalidRequest("citizen_card_missing", *NO_CARD)
        doc = await request.app[HUB].fetch_document(
            doc_type, case.subject_id, purpose=manual.purpose, officer_id=session.officer_id,
            officer_session=session.officer_session, case_ref=case.ref, citizen_card=card)
        slot = _document_slot(state, doc_type, doc)
    except LinkageError as err:
        slot, refused = _problem_slot(doc_type, err), err
    # Only this slot is written: a retry of another document of the same case running alongside keeps its own.
    request.app[STORE].update_case(case.id, [slot], _report_row(manual), citizen_present=present)
    _sign_in_again_if_gone(request, refused, case.id)
    raise web.HTTPSeeOther(f"/cases/{case.id}#doc-{doc_type.replace('.', '-')}")


async def case_certify(request: web.Request) -> web.StreamResponse:
    case = case_or_404(request)
    session = current_session(request)
    state = request.app[STATE]
    if not any(s.fetched for s in case.slots.values()):
        raise ServiceUnavailable("nothing_to_certify", "ยังไม่มีเอกสารที่ดึงได้ในเรื่องนี้ จึงยังรับรองสำเนาไม่ได้",
                                 "No document of this case has been fetched yet; there is nothing to certify.")
    await hub_doc_types(request.app)  # titles of the document types, from the hub
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


def _still_to_bring(manual: Manual, case: Case) -> list[str]:
    """What the paper lists as still to bring: what the manual says the applicant brings, and every linked
    document this certified copy does not carry."""
    missing = [d.name for d in manual.documents if d.doc_type in case.slots and not case.slots[d.doc_type].fetched]
    return [*(d.name for d in manual.brought), *missing]


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
        still_to_bring=_still_to_bring(manual, case), doc_types=state.doc_types,
        log_proofs={slot.printout_id: slot.log_proof for slot in fetched if slot.log_proof})
    try:
        return await certify_async(print_case, state.signer)
    except PrintoutError as err:
        _log.warning("certified printout refused for case %s: %s", case.ref, err.code)
        raise ServiceUnavailable(err.code, err.message_th, err.message) from err


async def case_revoke(request: web.Request) -> web.StreamResponse:
    """Revoke the printout fetched for one document of the case (a mis-printed copy), with the officer's reason.
    The hub logs the revocation naming this agency and the signed-in officer; the document then shows as revoked,
    and a retry fetches a new printout."""
    case = case_or_404(request)
    session = current_session(request)
    doc_type = request.match_info["doc_type"]
    slot = case.slots.get(doc_type)
    if slot is None or not slot.fetched:
        raise PageNotFound("document_not_in_case", "เรื่องนี้ไม่มีเอกสารฉบับนี้ที่ดึงไว้",
                           "This case holds no fetched document of that type.")
    reason = " ".join(form_field(await request.post(), "reason").split())
    if not reason:
        raise BadForm("reason_missing", "กรุณาระบุเหตุผลที่เพิกถอนสำเนา", "Say why the copy is revoked.")
    try:
        answer = await request.app[HUB].revoke(slot.printout_id, reason, session.officer_id,
                                               officer_session=session.officer_session)
    except LinkageError as err:
        _log.warning("revocation refused for case %s: %s", case.ref, err.code)
        raise (ServiceUnavailable if err.retryable else BadForm)(err.code, err.message_th, err.message_en) from err
    revoked = DocSlot(doc_type=doc_type, problem_reason=REVOKED, problem_retryable=True,
                      problem_message_th=f"เลขที่ {slot.printout_id} ถูกเพิกถอนเมื่อ {answer.revoked_at} "
                                         f"(ลำดับในบันทึก {answer.log_index}) เหตุผล: {reason}",
                      problem_message_en=f"printout {slot.printout_id} revoked at {answer.revoked_at} "
                                         f"(log index {answer.log_index}): {reason}")
    manual = request.app[STATE].manuals[case.service_id]
    request.app[STORE].update_case(case.id, [revoked], _report_row(manual))
    raise web.HTTPSeeOther(f"/cases/{case.id}#doc-{doc_type.replace('.', '-')}")
