"""The middlewares, and the headers on every response.

    error_middleware     every failure becomes a Thai / English page, never exception text
    session_middleware   the officer's session; sign-in first for any route not in routes.PUBLIC
    csrf_middleware      every POST carries the session's (or the anonymous) CSRF token
    security_headers     CSP, no sniffing, no framing, no referrer; no-store for anything personal
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from consumers.counter.errors import CounterError, CsrfRejected
from consumers.counter.pages import ANON_COOKIE, SESSION_COOKIE, csrf_token, error_page, set_cookie
from consumers.counter.routes import PUBLIC, SCRIPTED
from consumers.counter.state import ANON, SESSION, SET_ANON, STATE
from consumers.counter.views.verify import UPLOAD_BYTES
from linkage.errors import LinkageError

__all__ = ["CSP", "CSP_SCRIPTED", "csrf_middleware", "error_middleware", "security_headers", "session_middleware"]

_log = logging.getLogger("consumers.counter")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_HTTP_TEXT = {
    404: ("ไม่พบหน้าที่ต้องการ", "Page not found."),
    405: ("ไม่รองรับวิธีเรียกหน้านี้", "Method not allowed."),
    413: ("ข้อมูลที่ส่งมามีขนาดใหญ่เกินไป", "The request is too large."),
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        th, en = _HTTP_TEXT.get(exc.status, ("คำขอไม่ถูกต้อง", "Bad request."))
        return error_page(request, exc.status, th, en)
    except CounterError as err:
        return error_page(request, err.status, err.message_th, err.message_en)
    except LinkageError as err:
        _log.warning("hub refused %s: %s %s", request.path, type(err).__name__, err.code)
        return error_page(request, 502, "ระบบเชื่อมโยงข้อมูลไม่สามารถให้บริการได้ในขณะนี้ กรุณาลองใหม่",
                          "The linkage hub could not serve this request; please try again.")
    except Exception:
        _log.exception("unexpected error on %s %s", request.method, request.path)
        return error_page(request, 500, "เกิดข้อผิดพลาดภายในระบบ เจ้าหน้าที่ดูรายละเอียดได้ในบันทึกของระบบ",
                          "Internal error; the server log has the details.")


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    cookie = request.cookies.get(SESSION_COOKIE)
    session = state.sessions.get(cookie)
    if session is not None:
        request[SESSION] = session
    anon = request.cookies.get(ANON_COOKIE, "")
    request[SET_ANON] = not anon
    request[ANON] = anon or secrets.token_urlsafe(32)
    route = request.match_info.route.name
    if session is None and request.match_info.http_exception is None and route not in PUBLIC:
        target = f"/signin?next={quote(request.path_qs, safe='')}" + ("&expired=1" if cookie else "")
        raise web.HTTPSeeOther(target)
    response = await handler(request)
    if request[SET_ANON]:
        set_cookie(request, response, ANON_COOKIE, request[ANON])
    return response


# Routes that take a file, and how large (every other body is held to the app's 64 KiB).
_UPLOADS = {"verify_post": UPLOAD_BYTES}
# Routes no browser posts to: a machine's call, authenticated by its own signature (the payment switch's notice).
_SIGNED = frozenset({"payment_callback"})


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "POST" and request.match_info.route.name not in _SIGNED:
        limit = _UPLOADS.get(request.match_info.route.name or "")
        if limit is not None:
            request = request.clone(client_max_size=limit)
        form = await request.post()
        try:
            sent = form.get("csrf")
            expected = csrf_token(request)
            if not isinstance(sent, str) or not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
                raise CsrfRejected()
            return await handler(request)
        finally:
            # An uploaded file waits in a temporary file: gone once the request is answered, whatever happened.
            for value in form.values():
                if isinstance(value, web.FileField):
                    value.file.close()
    return await handler(request)


# The pages run no script at all, so everything starts from 'none' (stricter than default-src 'self') and only
# the stylesheet, the font and images from this site are allowed; no 'unsafe-inline': no style or script is
# written into a page (templates/ has none, a test keeps it so). Objects, <base>, framing by any site and forms
# posting elsewhere are refused outright.
CSP = ("default-src 'none'; script-src 'none'; style-src 'self'; font-src 'self'; img-src 'self';"
       " connect-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# The passkey pages (routes.SCRIPTED) run this site's one script, static/passkey.js, which calls this site: only
# script-src and connect-src differ, to 'self' (still no inline script, no other host).
CSP_SCRIPTED = CSP.replace("script-src 'none'", "script-src 'self'").replace("connect-src 'none'",
                                                                             "connect-src 'self'")
# Only these carry nothing personal and may be kept by the browser.
_CACHEABLE = ("/static/", "/fonts/")


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response the app makes: pages, redirects, error pages, the PDF, the CSV, static files, the font.
    (aiohttp's own 400 for a request it cannot parse is made before the app is reached and goes without.)"""
    h = response.headers
    route = request.match_info.route.name if request.match_info is not None else None
    h["Content-Security-Policy"] = CSP_SCRIPTED if route in SCRIPTED else CSP
    h["X-Content-Type-Options"] = "nosniff"
    h["Referrer-Policy"] = "no-referrer"
    h["X-Frame-Options"] = "DENY"
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    h["Cross-Origin-Resource-Policy"] = "same-origin"
    h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if not request.path.startswith(_CACHEABLE):
        # Pages, the certified PDF and the CSV may hold personal data: never on disk, never in the back button.
        h["Cache-Control"] = "no-store"
