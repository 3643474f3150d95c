"""Every route of the counter, in one place; ``PUBLIC`` names the routes that need no sign-in."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from consumers.counter.views import cases, complaints, fonts, manuals, me, reports, signin, verify

__all__ = ["PUBLIC", "add_routes"]

_STATIC = Path(__file__).resolve().parent / "static"

PUBLIC = frozenset({"metrics", "index", "signin", "signin_post", "lang", "manuals", "manual", "complaint_form",
                    "complaint_post", "me", "me_post", "me_consent", "verify", "verify_post", "font", "static"})


def add_routes(app: web.Application) -> None:
    """Every route of the counter. Names in PUBLIC need no sign-in."""
    r = app.router
    r.add_get("/", signin.index, name="index")
    r.add_get("/signin", signin.signin_form, name="signin")
    r.add_post("/signin", signin.signin, name="signin_post")
    r.add_post("/signout", signin.signout, name="signout")
    r.add_get("/lang/{code}", signin.switch_lang, name="lang")
    r.add_get("/manuals", manuals.manual_list, name="manuals")
    r.add_get("/manuals/{service}", manuals.manual_page, name="manual")
    r.add_get("/cases/new/{service}", cases.case_form, name="case_form")
    r.add_post("/cases/new/{service}", cases.case_open, name="case_open")
    r.add_get("/cases/{case_id}", cases.case_page, name="case")
    r.add_post("/cases/{case_id}/retry/{doc_type}", cases.case_retry, name="case_retry")
    r.add_post("/cases/{case_id}/certify", cases.case_certify, name="case_certify")
    r.add_get("/reports", reports.reports, name="reports")
    r.add_get("/reports.csv", reports.reports_csv, name="reports_csv")
    r.add_get("/reports/{service}", reports.report_service, name="report_service")
    r.add_get("/complaints/new", complaints.complaint_form, name="complaint_form")
    r.add_post("/complaints/new", complaints.complaint_post, name="complaint_post")
    r.add_get("/complaints", complaints.complaints, name="complaints")
    r.add_get("/me", me.me_form, name="me")
    r.add_post("/me", me.me, name="me_post")
    r.add_post("/me/consents", me.consent_decide, name="me_consent")
    r.add_get("/verify", verify.verify_form, name="verify")
    r.add_post("/verify", verify.verify, name="verify_post")
    r.add_get("/fonts/{name}", fonts.font, name="font")
    r.add_static("/static", _STATIC, name="static")
