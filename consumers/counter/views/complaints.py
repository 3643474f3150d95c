"""Complaints: a citizen reports an office that still demanded copies (guarded against floods and bots); the
office's list, each with a status, an owner and replies; the mock OPDC inbox of those left unanswered."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from consumers.counter.complaint_desk import STATUS
from consumers.counter.display import BANGKOK
from consumers.counter.errors import CounterError, TooManyAttempts
from consumers.counter.pages import current_session, form_field, language, render
from consumers.counter.state import COMPLAINTS, STATE, STORE
from consumers.counter.views.tracking import moment

__all__ = ["complaint_act", "complaint_form", "complaint_page", "complaint_post", "complaints", "opdc"]


async def complaint_form(request: web.Request) -> web.StreamResponse:
    return render(request, "complaint_form.html", manuals=list(request.app[STATE].manuals.values()),
                  values={}, errors={}, done=None)


async def complaint_post(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    desk = request.app[COMPLAINTS]
    form = await request.post()
    values = {k: form_field(form, k) for k in ("office", "service", "demanded", "details", "contact")}
    errors: dict[str, tuple[str, str]] = {}
    if not values["details"].strip():
        errors["details"] = ("กรุณาเล่าเหตุการณ์ที่เกิดขึ้น", "Please say what happened.")
    if not values["office"].strip():
        errors["office"] = ("กรุณาระบุหน่วยงานหรือจุดบริการ", "Please name the office or counter.")
    if values["service"] and values["service"] not in state.manuals and values["service"] != "other":
        errors["service"] = ("กรุณาเลือกบริการจากรายการ", "Please choose a service from the list.")
    address = request.remote or "unknown"
    if not errors:
        try:
            desk.guard.check(address, form_field(form, "website"), values["details"], desk.recent_texts())
        except TooManyAttempts:
            raise
        except CounterError as err:
            errors["form"] = (err.message_th, err.message_en)
    if errors:
        return render(request, "complaint_form.html", status=400, manuals=list(state.manuals.values()),
                      values=values, errors=errors, done=None)
    number = request.app[STORE].add_complaint(dt.datetime.now(BANGKOK).isoformat(timespec="seconds"),
                                              values["office"], values["service"], values["demanded"],
                                              values["details"], values["contact"])
    desk.guard.accepted(address)
    return render(request, "complaint_form.html", manuals=list(state.manuals.values()), values={}, errors={},
                  done=number)


def _names(request: web.Request) -> dict[str, str]:
    lang = language(request)
    return {m.id: (m.name_th if lang == "th" else m.name_en) for m in request.app[STATE].manuals.values()}


async def complaints(request: web.Request) -> web.StreamResponse:
    return render(request, "complaints.html", complaints=request.app[COMPLAINTS].all(), names=_names(request),
                  status_text=STATUS, escalate_days=request.app[STATE].settings.complaint_escalate_days)


async def complaint_page(request: web.Request, status: int = 200,
                         error: tuple[str, str] | None = None) -> web.Response:
    current_session(request)
    found = request.app[COMPLAINTS].one(int(request.match_info["id"]))
    lang = language(request)
    replies = [{"r": r, "when": moment(r.at, lang)} for r in found.replies]
    return render(request, "complaint.html", status=status, c=found, replies=replies, names=_names(request),
                  status_text=STATUS, error=error)


async def complaint_act(request: web.Request) -> web.StreamResponse:
    session = current_session(request)
    desk = request.app[COMPLAINTS]
    complaint_id, action = int(request.match_info["id"]), request.match_info["action"]
    form = await request.post()
    try:
        if action == "take":
            desk.take(complaint_id, session.officer_id)
        elif action == "reply":
            desk.reply(complaint_id, session.officer_id, form_field(form, "text"))
        elif action == "close":
            desk.close(complaint_id, session.officer_id)
        else:
            raise web.HTTPNotFound()
    except CounterError as err:
        return await complaint_page(request, err.status, (err.message_th, err.message_en))
    raise web.HTTPSeeOther(f"/complaints/{complaint_id}")


async def opdc(request: web.Request) -> web.StreamResponse:
    lang = language(request)
    rows = [{"id": r[0], "when": moment(r[1], lang), "office": r[2], "service": r[3], "demanded": r[4],
             "details": r[5], "filed": r[6][:10]} for r in request.app[COMPLAINTS].inbox()]
    return render(request, "opdc.html", rows=rows, names=_names(request))
