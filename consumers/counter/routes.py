"""Every route of the counter, in one place; ``PUBLIC`` names the routes that need no sign-in."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from consumers.counter.views import (
    applications,
    cases,
    complaints,
    disbursements,
    fonts,
    manuals,
    me,
    online,
    passkeys,
    payments,
    queue,
    reports,
    signin,
    tracking,
    verify,
)
from consumers.counter.views import cut as cut_views

__all__ = ["PUBLIC", "SCRIPTED", "add_routes"]

_STATIC = Path(__file__).resolve().parent / "static"

PUBLIC = frozenset({"metrics", "index", "signin", "signin_post", "lang", "manuals", "manual", "complaint_form",
                    "complaint_post", "me", "me_post", "me_consent", "me_apply", "me_apply_fetch", "me_apply_save",
                    "me_apply_confirm", "me_apply_pdf", "verify", "verify_post", "font", "static",
                    "signin_passkey", "signin_passkey_begin", "signin_passkey_finish", "enrol", "enrol_begin",
                    "enrol_finish", "payment_callback", "queue_book", "queue_book_post", "queue_mine",
                    "queue_mine_post", "queue_cancel", "queue_rebook", "track", "track_post", "track_feedback"})
# The pages that run a script (static/passkey.js: WebAuthn needs one); every other page runs none.
SCRIPTED = frozenset({"signin_passkey", "enrol"})


def add_routes(app: web.Application) -> None:
    """Every route of the counter. Names in PUBLIC need no sign-in."""
    r = app.router
    r.add_get("/", signin.index, name="index")
    r.add_get("/signin", signin.signin_form, name="signin")
    r.add_post("/signin", signin.signin, name="signin_post")
    r.add_post("/signout", signin.signout, name="signout")
    r.add_get("/signin/passkey", passkeys.passkey_form, name="signin_passkey")
    r.add_post("/signin/passkey/begin", passkeys.passkey_begin, name="signin_passkey_begin")
    r.add_post("/signin/passkey/finish", passkeys.passkey_finish, name="signin_passkey_finish")
    r.add_get("/enrol", passkeys.enrol_form, name="enrol")
    r.add_post("/enrol/begin", passkeys.enrol_begin, name="enrol_begin")
    r.add_post("/enrol/finish", passkeys.enrol_finish, name="enrol_finish")
    r.add_get("/lang/{code}", signin.switch_lang, name="lang")
    r.add_get("/manuals", manuals.manual_list, name="manuals")
    r.add_get("/manuals/{service}", manuals.manual_page, name="manual")
    r.add_get("/cases/new/{service}", cases.case_form, name="case_form")
    r.add_post("/cases/new/{service}", cases.case_open, name="case_open")
    r.add_get("/cases/{case_id}", cases.case_page, name="case")
    r.add_post("/cases/{case_id}/retry/{doc_type}", cases.case_retry, name="case_retry")
    r.add_post("/cases/{case_id}/certify", cases.case_certify, name="case_certify")
    r.add_get("/cases/{case_id}/application", applications.application_form, name="application_form")
    r.add_post("/cases/{case_id}/application", applications.application_post, name="application_post")
    r.add_get("/applications/{app_id}", applications.application_page, name="application")
    r.add_post("/applications/{app_id}/confirm", applications.application_confirm, name="application_confirm")
    r.add_post("/applications/{app_id}/pdf", applications.application_pdf, name="application_pdf")
    r.add_get("/applications/{app_id}/qr.png", payments.payment_qr, name="payment_qr")
    r.add_post("/applications/{app_id}/receipt", payments.receipt_pdf, name="receipt_pdf")
    r.add_post("/payments/callback", payments.payment_callback, name="payment_callback")
    r.add_post("/cases/{case_id}/revoke/{doc_type}", cases.case_revoke, name="case_revoke")
    r.add_get("/reports", reports.reports, name="reports")
    r.add_get("/reports.csv", reports.reports_csv, name="reports_csv")
    r.add_get("/reports/cut", cut_views.cut_page, name="report_cut")
    r.add_get("/reports/cut.svg", cut_views.cut_chart_svg, name="report_cut_svg")
    r.add_get("/reports/cut.csv", cut_views.cut_csv, name="report_cut_csv")
    r.add_get("/reports/{service}", reports.report_service, name="report_service")
    r.add_get("/complaints/new", complaints.complaint_form, name="complaint_form")
    r.add_post("/complaints/new", complaints.complaint_post, name="complaint_post")
    r.add_get("/complaints", complaints.complaints, name="complaints")
    r.add_get(r"/complaints/{id:\d{1,9}}", complaints.complaint_page, name="complaint")
    r.add_post(r"/complaints/{id:\d{1,9}}/{action:take|reply|close}", complaints.complaint_act, name="complaint_act")
    r.add_get("/opdc", complaints.opdc, name="opdc")
    r.add_get("/me", me.me_form, name="me")
    r.add_post("/me", me.me, name="me_post")
    r.add_post("/me/consents", me.consent_decide, name="me_consent")
    r.add_post("/me/apply", online.apply_start, name="me_apply")
    r.add_post("/me/apply/fetch", online.apply_fetch, name="me_apply_fetch")
    r.add_post("/me/apply/save", online.apply_save, name="me_apply_save")
    r.add_post("/me/apply/confirm", online.apply_confirm, name="me_apply_confirm")
    r.add_post("/me/apply/pdf", online.apply_pdf, name="me_apply_pdf")
    r.add_get("/verify", verify.verify_form, name="verify")
    r.add_post("/verify", verify.verify, name="verify_post")
    r.add_get("/fonts/{name}", fonts.font, name="font")
    r.add_get("/queue/book", queue.book_form, name="queue_book")
    r.add_post("/queue/book", queue.book, name="queue_book_post")
    r.add_get("/queue/mine", queue.mine_form, name="queue_mine")
    r.add_post("/queue/mine", queue.mine, name="queue_mine_post")
    r.add_post("/queue/mine/cancel", queue.mine_cancel, name="queue_cancel")
    r.add_post("/queue/mine/rebook", queue.mine_rebook, name="queue_rebook")
    r.add_get("/queue", queue.desk, name="queue_desk")
    r.add_post("/queue/walkin", queue.desk_walk_in, name="queue_walk_in")
    r.add_post("/queue/call", queue.desk_call, name="queue_call")
    r.add_post("/queue/{ticket}/finish", queue.desk_finish, name="queue_finish")
    r.add_get("/track", tracking.follow_form, name="track")
    r.add_post("/track", tracking.follow, name="track_post")
    r.add_post("/track/feedback", tracking.feedback_post, name="track_feedback")
    r.add_get("/tracking", tracking.officer_list, name="tracking")
    r.add_get("/tracking/{ref}", tracking.officer_case, name="tracking_case")
    r.add_post("/tracking/{ref}/move", tracking.move, name="tracking_move")
    r.add_get("/outbox", tracking.outbox, name="outbox")
    r.add_get("/outbox.json", tracking.outbox_json, name="outbox_json")
    r.add_get("/disbursements", disbursements.disbursements, name="disbursements")
    r.add_post("/disbursements", disbursements.disbursement_run, name="disbursement_run")
    r.add_get(r"/disbursements/{month:\d{4}-\d{2}}", disbursements.disbursement_month, name="disbursement_month")
    r.add_static("/static", _STATIC, name="static")
