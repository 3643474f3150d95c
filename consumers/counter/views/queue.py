"""The queue's pages: a citizen books, finds, cancels or moves a slot (no sign-in); the officer sees today's
queue, gives walk-ins a number, calls the next and marks them served or not come."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from consumers.counter.display import THAI_MONTHS, masked_id
from consumers.counter.errors import CounterError
from consumers.counter.pages import current_session, form_field, id_message, language, render
from consumers.counter.queue import DAYS_TH, Queue, QueueRefused, Ticket
from consumers.counter.state import QUEUE, STATE
from linkage.errors import InvalidRequest
from linkage.ids import IdKind, parse_id

__all__ = ["book", "book_form", "day_text", "desk", "desk_call", "desk_finish", "desk_walk_in", "mine",
           "mine_cancel", "mine_form", "mine_rebook"]

_EN_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
              "November", "December")
_SHOW_DAYS = 14


def day_text(iso: str, lang: str) -> str:
    """"วันพฤหัสบดีที่ 3 ธันวาคม 2569" (Buddhist era) or "Thursday 3 December 2569 BE (2026)"."""
    d = dt.date.fromisoformat(iso)
    if lang == "th":
        return f"วัน{DAYS_TH[d.weekday()]}ที่ {d.day} {THAI_MONTHS[d.month - 1]} {d.year + 543}"
    return f"{_EN_DAYS[d.weekday()]} {d.day} {_EN_MONTHS[d.month - 1]} {d.year + 543} BE ({d.year})"


def _days(queue: Queue, service_id: str, lang: str) -> list[dict[str, Any]]:
    """The next days with their free slots, closed days with the reason."""
    today = queue.now().date()
    out = []
    for i in range(_SHOW_DAYS):
        day = today + dt.timedelta(days=i)
        closed = queue.closed_reason(service_id, day)
        out.append({"iso": day.isoformat(), "text": day_text(day.isoformat(), lang),
                    "closed": (closed[0] if lang == "th" else closed[1]) if closed else "",
                    "slots": [] if closed else sorted(queue.free_seats(service_id, day).items())})
    return out


def _ticket_view(t: Ticket, lang: str) -> dict[str, Any]:
    return {"t": t, "day": day_text(t.day, lang)}


async def book_form(request: web.Request, status: int = 200, error: tuple[str, str] | None = None,
                    values: dict[str, str] | None = None, done: Ticket | None = None) -> web.Response:
    state, queue, lang = request.app[STATE], request.app[QUEUE], language(request)
    values = values or {"service": request.query.get("service", "")}
    service = values.get("service", "")
    manual = state.manuals.get(service)
    return render(request, "queue_book.html", status=status, manuals=list(state.manuals.values()), m=manual,
                  days=_days(queue, service, lang) if manual else [], error=error, values=values,
                  done=_ticket_view(done, lang) if done else None,
                  hours=queue.hours.get(service))


async def book(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values = {k: form_field(form, k).strip() for k in ("service", "choice", "subject_id")}
    day, _, slot = values["choice"].partition("T")
    try:
        subject = parse_id(values["subject_id"], IdKind.CITIZEN)
    except InvalidRequest as err:
        return await book_form(request, 400, id_message(err), values)
    if not values["choice"]:
        return await book_form(request, 400, ("กรุณาเลือกวันและเวลา", "Please choose a day and a time."), values)
    try:
        ticket = request.app[QUEUE].book(values["service"], day, slot, subject)
    except QueueRefused as err:
        return await book_form(request, err.status, (err.message_th, err.message_en), values)
    return await book_form(request, 200, None, {"service": values["service"]}, ticket)


async def mine_form(request: web.Request) -> web.StreamResponse:
    return render(request, "queue_mine.html", values={}, error=None, found=None, days=[], notice=None)


async def _mine(request: web.Request, action: str) -> web.StreamResponse:
    form = await request.post()
    values = {k: form_field(form, k).strip() for k in ("code", "subject_id", "choice")}
    queue, lang = request.app[QUEUE], language(request)
    shown = {"code": values["code"], "subject_id": values["subject_id"]}
    notice: tuple[str, str] | None = None
    try:
        subject = parse_id(values["subject_id"], IdKind.CITIZEN)
        if action == "cancel":
            found = queue.cancel(values["code"], subject)
            notice = ("ยกเลิกการจองแล้ว", "The booking is cancelled.")
        elif action == "rebook":
            day, _, slot = values["choice"].partition("T")
            found = queue.rebook(values["code"], subject, day, slot)
            notice = (f"เลื่อนการจองแล้ว รหัสการจองใหม่ {found.code}", f"Booking moved; new booking code {found.code}.")
            shown["code"] = found.code
        else:
            found = queue.find(values["code"], subject)
    except InvalidRequest as err:
        return render(request, "queue_mine.html", status=400, values=shown, error=id_message(err), found=None,
                      days=[], notice=None)
    except CounterError as err:
        return render(request, "queue_mine.html", status=err.status, values=shown,
                      error=(err.message_th, err.message_en), found=None, days=[], notice=None)
    days = _days(queue, found.service_id, lang) if found.state == "booked" else []
    return render(request, "queue_mine.html", values=shown, error=None, found=_ticket_view(found, lang),
                  days=days, notice=notice, m=request.app[STATE].manuals.get(found.service_id))


async def mine(request: web.Request) -> web.StreamResponse:
    return await _mine(request, "find")


async def mine_cancel(request: web.Request) -> web.StreamResponse:
    return await _mine(request, "cancel")


async def mine_rebook(request: web.Request) -> web.StreamResponse:
    return await _mine(request, "rebook")


# --- the desk (officers) --------------------------------------------------------------------------------------

async def desk(request: web.Request, issued: Ticket | None = None, status: int = 200,
               error: tuple[str, str] | None = None) -> web.Response:
    session = current_session(request)
    queue, lang, state = request.app[QUEUE], language(request), request.app[STATE]
    tickets = queue.today()
    today = queue.now().date().isoformat()
    names = {m.id: (m.name_th if lang == "th" else m.name_en) for m in state.manuals.values()}
    mine_now = [t for t in tickets if t.state == "called" and t.officer_id == session.officer_id]
    return render(request, "queue_desk.html", status=status, today=day_text(today, lang), names=names,
                  waiting=[t for t in tickets if t.state in ("booked", "waiting")],
                  done=[t for t in tickets if t.state not in ("booked", "waiting")], mine=mine_now,
                  issued=issued, error=error, stats=queue.stats(today, today), manuals=list(state.manuals.values()),
                  clock=queue.now().strftime("%H:%M"), masked=masked_id)


async def desk_walk_in(request: web.Request) -> web.StreamResponse:
    current_session(request)
    form = await request.post()
    try:
        ticket = request.app[QUEUE].walk_in(form_field(form, "service"))
    except QueueRefused as err:
        return await desk(request, status=err.status, error=(err.message_th, err.message_en))
    return await desk(request, issued=ticket)


async def desk_call(request: web.Request) -> web.StreamResponse:
    session = current_session(request)
    ticket = request.app[QUEUE].call_next(session.officer_id)
    if ticket is None:
        return await desk(request, error=("ไม่มีผู้รอคิวที่ถึงเวลาเรียก", "Nobody is waiting whose turn has come."))
    raise web.HTTPSeeOther("/queue")


async def desk_finish(request: web.Request) -> web.StreamResponse:
    session = current_session(request)
    form = await request.post()
    try:
        ticket_id = int(request.match_info["ticket"])
    except ValueError:
        raise web.HTTPNotFound() from None
    try:
        request.app[QUEUE].finish(ticket_id, form_field(form, "outcome"), session.officer_id)
    except QueueRefused as err:
        return await desk(request, status=err.status, error=(err.message_th, err.message_en))
    raise web.HTTPSeeOther("/queue")
