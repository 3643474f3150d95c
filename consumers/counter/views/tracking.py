"""Tracking's pages: the citizen follows a case by its number and ID and rates it once completed (no sign-in);
officers list their agency's open cases (overdue first) and move a case on; the notification outbox."""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any

from aiohttp import web

from consumers.counter.applications.store import ApplicationStore
from consumers.counter.display import BANGKOK, THAI_MONTHS
from consumers.counter.errors import CounterError, TooManyAttempts
from consumers.counter.pages import current_session, form_field, id_message, language, render
from consumers.counter.state import FEEDBACK, STATE, STORE, TRACKER
from consumers.counter.tracking import LABELS, NEXT, NotYours, Track, TrackRefused
from linkage.errors import InvalidRequest
from linkage.ids import IdKind, parse_id

__all__ = ["feedback_post", "follow", "follow_form", "moment", "move", "my_cases", "officer_case", "officer_list",
           "outbox", "outbox_json"]

_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def moment(at: float | None, lang: str) -> str:
    """"3 ธ.ค. 2569 14:05 น." style, Buddhist era, Bangkok time; "—" for none."""
    if at is None:
        return "—"
    t = dt.datetime.fromtimestamp(at, BANGKOK)
    if lang == "th":
        return f"{t.day} {THAI_MONTHS[t.month - 1]} {t.year + 543} {t:%H:%M} น."
    return f"{t.day} {_EN_MONTHS[t.month - 1]} {t.year + 543} BE {t:%H:%M}"


def _view(request: web.Request, track: Track) -> dict[str, Any]:
    lang = language(request)
    manual = request.app[STATE].manuals.get(track.service_id)
    return {"t": track, "m": manual, "labels": LABELS, "next": sorted(NEXT[track.status]),
            "opened": moment(track.opened, lang), "due": moment(track.due, lang),
            "events": [{"e": e, "when": moment(e.at, lang)} for e in track.events],
            "steps": [{"s": s, "deadline": moment(s.deadline, lang), "done": moment(s.done, lang)}
                      for s in track.steps]}


# --- the citizen ------------------------------------------------------------------------------------------------

async def follow_form(request: web.Request) -> web.StreamResponse:
    return render(request, "track.html", values={}, error=None, found=None, notice=None, rated=False)


async def _follow(request: web.Request, values: dict[str, str], notice: tuple[str, str] | None = None,
                  status: int = 200, error: tuple[str, str] | None = None) -> web.Response:
    state = request.app[STATE]
    key = f"track:{request.remote or 'unknown'}"
    shown = {"case_ref": values.get("case_ref", ""), "subject_id": values.get("subject_id", "")}
    if state.limiter.blocked(key):
        raise TooManyAttempts("track_limited", "ค้นหาไม่พบหลายครั้งเกินไป กรุณารอ 10 นาทีแล้วลองใหม่",
                              "Too many look-ups found nothing; wait 10 minutes and try again.")
    try:
        subject = parse_id(shown["subject_id"], IdKind.CITIZEN)
        track = request.app[TRACKER].follow(shown["case_ref"], subject)
    except InvalidRequest as err:
        return render(request, "track.html", status=400, values=shown, error=id_message(err), found=None,
                      notice=None, rated=False)
    except CounterError as err:
        state.limiter.fail(key)
        return render(request, "track.html", status=404, values=shown, error=(err.message_th, err.message_en),
                      found=None, notice=None, rated=False)
    return render(request, "track.html", status=status, values=shown, error=error, found=_view(request, track),
                  notice=notice, rated=request.app[FEEDBACK].given(track.case_ref))


async def follow(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    return await _follow(request, {k: form_field(form, k).strip() for k in ("case_ref", "subject_id")})


async def feedback_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values = {k: form_field(form, k).strip() for k in ("case_ref", "subject_id", "rating", "comment")}
    try:
        subject = parse_id(values["subject_id"], IdKind.CITIZEN)
        request.app[FEEDBACK].give(values["case_ref"], subject, values["rating"], values["comment"])
    except InvalidRequest as err:
        return await _follow(request, values, status=400, error=id_message(err))
    except CounterError as err:
        return await _follow(request, values, status=err.status, error=(err.message_th, err.message_en))
    return await _follow(request, values, notice=("ขอบคุณสำหรับความคิดเห็น", "Thank you for your rating."))


def my_cases(request: web.Request, subject: str) -> list[dict[str, Any]]:
    """The citizen's tracked cases for /me (after the card check), newest first."""
    return [_view(request, t) for t in request.app[TRACKER].cases_of(subject)]


# --- officers ---------------------------------------------------------------------------------------------------

async def officer_list(request: web.Request) -> web.StreamResponse:
    session = current_session(request)
    state = request.app[STATE]
    tracks = request.app[TRACKER].open_tracks(state.agency.name)
    views = [_view(request, t) for t in sorted(tracks, key=lambda t: (not t.overdue, t.opened))]
    return render(request, "tracking.html", tracks=views, overdue=sum(1 for t in tracks if t.overdue),
                  is_head=session.is_head)


async def officer_case(request: web.Request, status: int = 200,
                       error: tuple[str, str] | None = None) -> web.Response:
    current_session(request)
    try:
        track = request.app[TRACKER].track(request.match_info["ref"])
        if track.agency != request.app[STATE].agency.name:  # another agency's case (a file shared by counters)
            raise TrackRefused("track_not_found", "ไม่พบเรื่องนี้ในหน่วยงานของท่าน", "No such case at your agency.")
    except CounterError as err:
        return render(request, "error.html", status=404, status_code=404, message_th=err.message_th,
                      message_en=err.message_en, back=("/tracking", "กลับไปที่รายการเรื่อง", "Back to the cases"))
    application = ApplicationStore(request.app[STORE]).for_case(track.case_ref)
    return render(request, "tracking_case.html", status=status, v=_view(request, track), error=error,
                  application=application)


async def move(request: web.Request) -> web.StreamResponse:
    session = current_session(request)
    state = request.app[STATE]
    form = await request.post()
    ref = request.match_info["ref"]
    try:
        request.app[TRACKER].move(ref, form_field(form, "status"), session.officer_id, state.agency.name,
                                  state.agency.officers, form_field(form, "reason"))
    except NotYours as err:
        return render(request, "error.html", status=err.status, status_code=err.status, message_th=err.message_th,
                      message_en=err.message_en, back=("/tracking", "กลับไปที่รายการเรื่อง", "Back to the cases"))
    except CounterError as err:
        return await officer_case(request, err.status, (err.message_th, err.message_en))
    raise web.HTTPSeeOther(f"/tracking/{ref}")


# --- the outbox (the sandbox's SMS / LINE) ----------------------------------------------------------------------

async def outbox(request: web.Request) -> web.StreamResponse:
    lang = language(request)
    messages = [{"m": m, "when": moment(m.at, lang)} for m in request.app[TRACKER].outbox()]
    return render(request, "outbox.html", messages=messages)


async def outbox_json(request: web.Request) -> web.StreamResponse:
    return web.json_response([{"id": m.id, "at": dt.datetime.fromtimestamp(m.at, BANGKOK).isoformat(),
                               "to": m.recipient, "case_ref": m.case_ref, "text_th": m.text_th,
                               "text_en": m.text_en} for m in request.app[TRACKER].outbox()],
                             dumps=functools.partial(json.dumps, ensure_ascii=False))
