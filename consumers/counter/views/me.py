"""The citizen's own history: who read my data, after the hub has checked my ID card with the civil registry; and
from there, applying online (views/online.py)."""

from __future__ import annotations

from aiohttp import web

from consumers.counter.citizens import proved_against_log, shown_consent
from consumers.counter.display import issued_text
from consumers.counter.errors import TooManyAttempts
from consumers.counter.pages import form_field, id_message, language, render
from consumers.counter.state import HUB, STATE, hub_doc_types
from consumers.counter.views.online import online_services
from consumers.counter.views.tracking import my_cases
from linkage.errors import InvalidRequest, LinkageError
from linkage.ids import IdKind, parse_id
from linkage.v1 import audit_pb2, common_pb2, provider_pb2

__all__ = ["consent_decide", "me", "me_form"]


_CARD_FIELDS = ("first_name_th", "last_name_th", "birth_date", "laser_code")


async def me_form(request: web.Request) -> web.StreamResponse:
    return render(request, "me.html", values={}, errors={}, accesses=None, subject="")


async def me(request: web.Request) -> web.StreamResponse:
    """Who read my data: the citizen types what is printed on their card; the hub checks it with the civil
    registry (the sandbox's stand-in for a ThaiD login) and lists the accesses. Answered on this page, never by
    redirect, so the ID stays out of URLs; the laser code is never echoed back."""
    state = request.app[STATE]
    form = await request.post()
    values = {name: form_field(form, name).strip() for name in ("subject_id", *_CARD_FIELDS)}
    shown = {k: v for k, v in values.items() if k != "laser_code"}
    errors: dict[str, tuple[str, str]] = {}
    subject = ""
    try:
        subject = parse_id(values["subject_id"], IdKind.CITIZEN)
    except InvalidRequest as err:
        errors["subject_id"] = id_message(err)
    for name in ("first_name_th", "last_name_th", "laser_code"):
        if not values[name]:
            errors[name] = ("กรุณากรอกช่องนี้ตามที่พิมพ์บนบัตร", "Please fill this in as printed on the card.")
    birth = values["birth_date"]
    if not (len(birth) == 8 and birth.isdigit()):
        errors["birth_date"] = ("วันเกิดต้องเป็นตัวเลข 8 หลัก คือ ปี พ.ศ. เดือน วัน เช่น 25300115",
                                "The date of birth must be 8 digits: BE year, month, day, e.g. 25300115.")
    if errors:
        return render(request, "me.html", status=400, values=shown, errors=errors, accesses=None, subject="")
    # Guessing a laser code is limited per address and per ID, whichever runs out first.
    keys = (f"me:{request.remote or 'unknown'}", f"me-id:{subject}")
    if any(state.limiter.blocked(k) for k in keys):
        raise TooManyAttempts("card_check_limited", "ตรวจข้อมูลบัตรไม่ผ่านหลายครั้งเกินไป กรุณารอ 10 นาทีแล้วลองใหม่",
                              "Too many card checks failed; wait 10 minutes and try again.")
    card = provider_pb2.CheckCardRequest(subject_id=subject, **{k: values[k] for k in _CARD_FIELDS})
    try:
        found = await request.app[HUB].list_accesses(subject, citizen_card=card)
    except LinkageError as err:
        if err.code != "citizen_not_verified":
            raise
        for k in keys:
            state.limiter.fail(k)
        return render(request, "me.html", status=403, values=shown, accesses=None, subject="", errors={"form": (
            "ข้อมูลบนบัตรไม่ตรงกับทะเบียนราษฎร หรือบัตรถูกยกเลิกแล้ว กรุณาตรวจสอบแล้วลองใหม่",
            "The card details do not match the civil registry, or the card was voided; check them and try again.")})
    return await _history(request, subject, card, found)


async def _history(request: web.Request, subject: str, card: provider_pb2.CheckCardRequest,
                   found: list[audit_pb2.Access], notice: tuple[str, str] | None = None) -> web.StreamResponse:
    """The citizen's page once their card was checked: who read their data (card reads and consents marked), the
    consents asked of them with what each would send, and a short-lived token to decide them without typing the
    card again (kept in the counter's memory, consumers/counter/citizens.py)."""
    state = request.app[STATE]
    lang = language(request)
    titles = state.agency_titles
    doc_types = await hub_doc_types(request.app)
    accesses = [{
        "when": issued_text(a.issued_at, lang), "agency": titles.get(a.agency, a.agency),
        "doc_type": _doc_title(doc_types.get(a.doc_type), a.doc_type, lang), "purpose": a.purpose,
        "case_ref": a.case_ref, "printout_id": a.printout_id, "revoked": a.revoked,
        "how": "card" if a.citizen_present else "consent" if a.consent_id else "",
    } for a in sorted(found, key=lambda a: a.log_index, reverse=True)]
    consents = [shown_consent(c, titles, doc_types, lang) for c in await request.app[HUB].list_consents(subject, card)]
    token = state.citizens.open(subject, card)
    return render(request, "me.html", values={}, errors={}, accesses=accesses, subject=subject, consents=consents,
                  citizen=token, notice=notice, my_cases=my_cases(request, subject),
                  proved=await proved_against_log(request.app, found), services=online_services(request))


async def consent_decide(request: web.Request) -> web.StreamResponse:
    """The citizen approves or refuses one consent, from their page, with the token their card check gave."""
    state = request.app[STATE]
    form = await request.post()
    held = state.citizens.get(form_field(form, "citizen"))
    if held is None:
        return render(request, "me.html", status=403, values={}, accesses=None, subject="", errors={"form": (
            "หมดเวลาแล้ว กรุณากรอกข้อมูลบัตรอีกครั้ง", "This page has expired; type your card details again.")})
    subject, card = held
    approve = form_field(form, "decision") == "approve"
    try:
        await request.app[HUB].decide_consent(form_field(form, "consent_id")[:64], subject, card, approve)
        notice = (("ท่านให้ความยินยอมแล้ว หน่วยงานดึงข้อมูลได้หนึ่งครั้งตามที่แสดง", "You approved: the office may"
                   " fetch what was shown, once.") if approve else
                  ("ท่านปฏิเสธแล้ว หน่วยงานจะไม่ได้รับข้อมูลนี้", "You refused: the office will not receive it."))
    except LinkageError as err:
        notice = (err.message_th, err.message_en)
    found = await request.app[HUB].list_accesses(subject, citizen_card=card)
    return await _history(request, subject, card, found, notice)


def _doc_title(doc_type: common_pb2.DocumentType | None, code: str, lang: str) -> str:
    if doc_type is None:
        return code
    return (doc_type.title_th if lang == "th" else doc_type.title_en) or code
