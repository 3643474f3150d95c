"""What every view shares: rendering a page (or an error page) in the request's language, the officer's
session and the CSRF token, cookies, safe redirect targets, form fields, and the 404s for an unknown
service or case."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from consumers.counter.errors import PageNotFound
from consumers.counter.manuals import Manual
from consumers.counter.sessions import Session
from consumers.counter.state import ANON, SESSION, STATE, STORE
from consumers.counter.store import Case
from linkage.errors import InvalidRequest

__all__ = [
    "ANON_COOKIE",
    "LANG_COOKIE",
    "SESSION_COOKIE",
    "case_or_404",
    "csrf_token",
    "current_session",
    "error_page",
    "form_field",
    "id_message",
    "language",
    "local_target",
    "manual_or_404",
    "render",
    "set_cookie",
]

SESSION_COOKIE = "counter_session"
ANON_COOKIE = "counter_csrf"
LANG_COOKIE = "counter_lang"
_MAX_FIELD = 2000


def current_session(request: web.Request) -> Session:
    session: Session | None = request.get(SESSION)
    if session is None:  # the middleware redirects first; this guards against a route left out of it
        raise web.HTTPSeeOther("/signin")
    return session


def csrf_token(request: web.Request) -> str:
    session: Session | None = request.get(SESSION)
    return session.csrf if session is not None else request[ANON]


def language(request: web.Request) -> str:
    return "en" if request.cookies.get(LANG_COOKIE) == "en" else "th"


def set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str,
               max_age: int | None = None) -> None:
    response.set_cookie(name, value, httponly=True, samesite="Strict", path="/", max_age=max_age,
                        secure=request.app[STATE].settings.secure_cookies)


def local_target(target: str | None, default: str = "/") -> str:
    """target if it is a path on this site, else default (no open redirects). Browsers drop tabs and newlines
    from URLs and read a backslash as a slash, so "/<tab>/evil.example" would be "//evil.example": refused too."""
    if (not target or not target.startswith("/") or target.startswith("//") or "\\" in target
            or any(ch.isspace() or not ch.isprintable() for ch in target)):
        return default
    return target


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    lang = language(request)
    state = request.app[STATE]

    def tr(th: str, en: str) -> str:
        return th if lang == "th" else en

    html = state.templates.get_template(template).render(
        lang=lang, tr=tr, session=request.get(SESSION), csrf=csrf_token(request), here=request.path_qs,
        agency_title=state.agency.title or state.agency.name, **context)
    return web.Response(text=html, content_type="text/html", charset="utf-8", status=status)


def error_page(request: web.Request, status: int, th: str, en: str) -> web.Response:
    if ANON not in request:
        request[ANON] = request.cookies.get(ANON_COOKIE, "") or secrets.token_urlsafe(32)
    return render(request, "error.html", status=status, status_code=status, message_th=th, message_en=en)


def manual_or_404(request: web.Request) -> Manual:
    service = request.match_info["service"]
    manual = request.app[STATE].manuals.get(service)
    if manual is None:
        raise PageNotFound("service_not_found", f"ไม่พบบริการ “{service}” ในคู่มือสำหรับประชาชนของหน่วยงานนี้",
                           f"There is no service “{service}” in this office's citizen's manuals.")
    return manual


def case_or_404(request: web.Request) -> Case:
    case = request.app[STORE].case(request.match_info["case_id"], current_session(request).officer_id)
    if case is None:
        raise PageNotFound("case_not_found", "ไม่พบเรื่องนี้ หรือเรื่องนี้ไม่ได้เปิดโดยท่าน",
                           "No such case, or it was not opened by you.")
    return case


def form_field(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    return value[:_MAX_FIELD] if isinstance(value, str) else ""


def id_message(err: InvalidRequest) -> tuple[str, str]:
    """parse_id's message as (Thai, English), without the field it is about."""
    return err.message_th, err.message_en
