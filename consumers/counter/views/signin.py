"""The start page, sign-in (officers of this agency only, named from the civil registry), sign-out and the
language switch."""

from __future__ import annotations

import logging

from aiohttp import web

from consumers.client import OfficerSession
from consumers.counter.pages import (
    LANG_COOKIE,
    SESSION_COOKIE,
    current_session,
    form_field,
    id_message,
    local_target,
    render,
    set_cookie,
)
from consumers.counter.sessions import Session
from consumers.counter.state import HUB, SESSION, STATE, STORE
from linkage.errors import InvalidRequest, LinkageError
from linkage.ids import parse_officer_id

__all__ = ["KEY_REQUIRED", "SIGNIN_PURPOSE", "index", "key_held", "open_session", "signin", "signin_form", "signout",
           "switch_lang"]

_log = logging.getLogger("consumers.counter")

SIGNIN_PURPOSE = "ลงชื่อเข้าใช้งานเคาน์เตอร์"


async def index(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    session: Session | None = request.get(SESSION)
    mine = request.app[STORE].open_cases(session.officer_id) if session is not None else []
    open_cases = [{"case": c, "manual": state.manuals.get(c.service_id),
                   "fetched": sum(1 for s in c.slots.values() if s.fetched)} for c in mine]
    return render(request, "index.html", manuals=list(state.manuals.values()), open_cases=open_cases)


# Why the ID form signs no one in while the hub requires officer sessions ([hub] officer_sessions = "required").
KEY_REQUIRED = ("ระบบเชื่อมโยงข้อมูลกำหนดให้เจ้าหน้าที่ลงชื่อเข้าใช้ด้วยกุญแจ (passkey) ของตนเองเท่านั้น กรุณาลงชื่อเข้าใช้ด้วยกุญแจ"
                " หรือลงทะเบียนกุญแจด้วยรหัสจากผู้ดูแลระบบ",
                "The linkage hub requires officers to sign in with their own key: sign in with your passkey, or"
                " register one with the administrator's one-time code.")


async def signin_form(request: web.Request) -> web.StreamResponse:
    if request.get(SESSION) is not None:
        raise web.HTTPSeeOther("/")
    if request.app[STATE].sessions_required:  # the passkey is the only way in: go straight to it
        query = request.rel_url.raw_query_string  # as it came, still percent-encoded
        raise web.HTTPSeeOther("/signin/passkey" + (f"?{query}" if query else ""))
    return render(request, "signin.html", next=local_target(request.query.get("next")), error=None, value="",
                  expired=request.query.get("expired") == "1")


async def signin(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    form = await request.post()
    address = request.remote or "unknown"
    raw = form_field(form, "officer_id")
    target = local_target(form_field(form, "next"))
    if state.sessions_required:
        return render(request, "signin.html", status=403, next=target, value=raw, expired=False, error=KEY_REQUIRED)
    held = state.throttle.held(raw, address)
    if held is not None:
        return render(request, "signin.html", status=429, next=target, value=raw, expired=False, error=held.message)
    try:
        officer_id = parse_officer_id(raw)
    except InvalidRequest as err:
        state.throttle.fail(raw, address)
        return render(request, "signin.html", status=400, next=target, value=raw, expired=False,
                      error=id_message(err))
    if officer_id not in state.agency.officers:
        state.throttle.fail(raw, address)
        return render(request, "signin.html", status=403, next=target, value=raw, expired=False,
                      error=(f"เลขประจำตัวนี้ไม่อยู่ในรายชื่อเจ้าหน้าที่ของ{state.agency.title or state.agency.name}",
                             "This ID is not on the office's list of officers."))
    if await key_held(request.app, officer_id):
        # An officer who holds their own key is named to the hub only by a session they sign: the ID is not enough.
        return render(request, "signin.html", status=403, next=target, value=raw, expired=False,
                      error=("ท่านมีกุญแจของเจ้าหน้าที่แล้ว กรุณาลงชื่อเข้าใช้ด้วยกุญแจ (passkey)",
                             "You hold an officer key: sign in with your passkey."))
    state.throttle.succeed(raw)
    raise await open_session(request, officer_id, None, target)


async def key_held(app: web.Application, officer_id: str) -> bool:
    """Whether the officer holds a key of their own in force (the hub then begins a sign-in for them)."""
    try:
        await app[HUB].begin_officer_sign_in(officer_id)
    except LinkageError:
        return False
    return True


async def open_session(request: web.Request, officer_id: str, officer_session: OfficerSession | None,
                       target: str) -> web.HTTPSeeOther:
    """Open the officer's counter session (under their hub session, when they signed in with a key): the
    redirect to ``target`` that sets its cookie."""
    state = request.app[STATE]
    name = await _officer_name(request.app, officer_id, officer_session)
    head = state.settings.office_head or min(state.agency.officers)
    is_head = officer_id == head
    session = state.sessions.open(officer_id, name, "หัวหน้าสำนักงาน" if is_head else "เจ้าหน้าที่เคาน์เตอร์บริการ",
                                  "Office head" if is_head else "Counter officer", is_head, officer_session)
    response = web.HTTPSeeOther(target)
    set_cookie(request, response, SESSION_COOKIE, session.id)
    return response


async def _officer_name(app: web.Application, officer_id: str, officer_session: OfficerSession | None) -> str:
    """The officer's name from the civil registry, through the hub (the fetch is logged like any other).

    Empty when it cannot be had: sign-in does not depend on the registry being up.
    """
    try:
        doc = await app[HUB].fetch_document("dopa.person", officer_id, purpose=SIGNIN_PURPOSE,
                                            officer_id=officer_id, officer_session=officer_session)
    except LinkageError as err:
        _log.warning("officer name lookup failed: %s", err.code)
        return ""
    data = doc.data
    return f"{data.get('title', '')}{data.get('first_name_th', '')} {data.get('last_name_th', '')}".strip()


async def signout(request: web.Request) -> web.StreamResponse:
    request.app[STATE].sessions.close(current_session(request).id)
    response = web.HTTPSeeOther("/signin")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


async def switch_lang(request: web.Request) -> web.StreamResponse:
    code = request.match_info["code"]
    if code not in ("th", "en"):
        raise web.HTTPNotFound()
    response = web.HTTPSeeOther(local_target(request.query.get("next")))
    set_cookie(request, response, LANG_COOKIE, code, max_age=365 * 86400)
    raise response
