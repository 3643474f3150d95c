"""Passkeys at the counter: an officer enrols one (with the administrator's one-time code) and signs in with it.

The counter only relays between the browser and the hub (linkage/hub/passkeys.py checks everything): the
options the browser needs come from the hub, and the browser's answers go back to it as they are. These two
pages are the only ones that run a script (static/passkey.js: WebAuthn needs one), so they alone get a CSP
allowing this site's scripts and requests (``SCRIPTED`` in middlewares.py); there is still no inline script.

    GET  /signin/passkey          the form (officer ID)
    POST /signin/passkey/begin    -> {"statement", "options"}: the hub's statement, and the request options
    POST /signin/passkey/finish   statement + the browser's assertion -> {"next"}, the session cookie set
    GET  /enrol                   the form (officer ID, one-time code)
    POST /enrol/begin             -> {"options"}: the creation options
    POST /enrol/finish            the browser's registration -> {"kid"}

A failure answers ``{"error": [Thai, English]}`` with its status; failed sign-ins are counted per officer ID
(throttle.py), as the ID form's are.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from consumers.counter.pages import form_field, id_message, local_target, render
from consumers.counter.state import HUB, SESSION, STATE
from consumers.counter.views.signin import open_session
from linkage.errors import InvalidRequest, LinkageError, PermissionDenied
from linkage.ids import parse_officer_id

__all__ = ["enrol_begin", "enrol_finish", "enrol_form", "passkey_begin", "passkey_finish", "passkey_form"]

_log = logging.getLogger("consumers.counter")


_LONG_FIELD = 4096  # the browser's registration or assertion (the hub's limit too)


def _long(form: Mapping[str, Any], name: str) -> str | None:
    """A field that may be longer than form_field keeps (a browser's answer), or None when over the limit."""
    value = form.get(name, "")
    return value if isinstance(value, str) and len(value) <= _LONG_FIELD else None


def _error(status: int, th: str, en: str) -> web.Response:
    return web.json_response({"error": [th, en]}, status=status)


def _hub_error(err: LinkageError) -> web.Response:
    _log.info("passkey step refused by the hub: %s", err.code)
    status = 403 if isinstance(err, PermissionDenied) else 401 if err.status.name == "UNAUTHENTICATED" else 502
    return _error(status, err.message_th or "ระบบเชื่อมโยงข้อมูลไม่ตอบ", err.message_en or "the hub did not answer")


async def passkey_form(request: web.Request) -> web.StreamResponse:
    if request.get(SESSION) is not None:
        raise web.HTTPSeeOther("/")
    return render(request, "signin_passkey.html", next=local_target(request.query.get("next")),
                  expired=request.query.get("expired") == "1")


def _officer(request: web.Request, raw: str) -> str | web.Response:
    """The officer ID of this office, or the refusal (counted against the ID typed)."""
    state = request.app[STATE]
    try:
        officer_id = parse_officer_id(raw)
    except InvalidRequest as err:
        state.throttle.fail(raw, request.remote or "unknown")
        return _error(400, *id_message(err))
    if officer_id not in state.agency.officers:
        state.throttle.fail(raw, request.remote or "unknown")
        return _error(403, f"เลขประจำตัวนี้ไม่อยู่ในรายชื่อเจ้าหน้าที่ของ{state.agency.title or state.agency.name}",
                      "This ID is not on the office's list of officers.")
    return officer_id


def _signing_in(request: web.Request, raw: str) -> str | web.Response:
    """The officer signing in, or the answer that refuses them: held back after too many failures (429), or not
    an officer of this office (403)."""
    held = request.app[STATE].throttle.held(raw, request.remote or "unknown")
    if held is not None:
        return _error(429, *held.message)
    return _officer(request, raw)


async def passkey_begin(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    officer = _signing_in(request, form_field(form, "officer_id"))
    if isinstance(officer, web.Response):
        return officer
    try:
        statement, options = await request.app[HUB].begin_officer_sign_in(officer)
    except LinkageError as err:
        return _hub_error(err)
    if not options:
        return _error(409, "ท่านยังไม่ได้ลงทะเบียนกุญแจ (passkey) ที่เคาน์เตอร์นี้ ขอรหัสลงทะเบียนจากผู้ดูแลระบบ",
                      "You have no passkey registered; ask the administrator for an enrolment code (/enrol).")
    return web.json_response({"statement": base64.b64encode(statement).decode("ascii"),
                              "options": json.loads(options)})


async def passkey_finish(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    form = await request.post()
    raw = form_field(form, "officer_id")
    officer = _signing_in(request, raw)
    if isinstance(officer, web.Response):
        return officer
    assertion = _long(form, "assertion")
    if assertion is None:
        return _error(413, "ข้อมูลที่ส่งมามีขนาดใหญ่เกินไป", "The passkey's answer is too long.")
    try:
        statement = base64.b64decode(form_field(form, "statement"), validate=True)
        session = await request.app[HUB].finish_officer_sign_in(statement, webauthn_assertion=assertion)
    except binascii.Error:
        state.throttle.fail(raw, request.remote or "unknown")
        return _error(400, "คำขอไม่ถูกต้อง", "The sign-in statement is not base64.")
    except LinkageError as err:
        state.throttle.fail(raw, request.remote or "unknown")
        return _hub_error(err)
    if session.officer_id != officer:
        state.throttle.fail(raw, request.remote or "unknown")
        return _error(403, "กุญแจนี้เป็นของเจ้าหน้าที่อีกคน", "This passkey signed in another officer.")
    state.throttle.succeed(raw)
    target = local_target(form_field(form, "next"))
    redirect = await open_session(request, officer, session, target)
    response = web.json_response({"next": target})
    for cookie in redirect.cookies.values():
        response.cookies[cookie.key] = cookie
    return response


async def enrol_form(request: web.Request) -> web.StreamResponse:
    return render(request, "enrol.html")


async def enrol_begin(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    officer = _officer(request, form_field(form, "officer_id"))
    if isinstance(officer, web.Response):
        return officer
    try:
        options = await request.app[HUB].begin_passkey_enrolment(officer, form_field(form, "code"))
    except LinkageError as err:
        return _hub_error(err)
    return web.json_response({"options": json.loads(options)})


async def enrol_finish(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    officer = _officer(request, form_field(form, "officer_id"))
    if isinstance(officer, web.Response):
        return officer
    credential = _long(form, "credential")
    if credential is None:
        return _error(413, "ข้อมูลที่ส่งมามีขนาดใหญ่เกินไป", "The passkey's registration is too long.")
    try:
        kid = await request.app[HUB].finish_passkey_enrolment(officer, form_field(form, "code"), credential)
    except LinkageError as err:
        return _hub_error(err)
    return web.json_response({"kid": kid})
