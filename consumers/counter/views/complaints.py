"""Complaints: a citizen reports an office that still demanded copies; the office's list of them."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from consumers.counter.display import BANGKOK
from consumers.counter.pages import form_field, render
from consumers.counter.state import STATE, STORE

__all__ = ["complaint_form", "complaint_post", "complaints"]


async def complaint_form(request: web.Request) -> web.StreamResponse:
    return render(request, "complaint_form.html", manuals=list(request.app[STATE].manuals.values()),
                  values={}, errors={}, done=None)


async def complaint_post(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    form = await request.post()
    values = {k: form_field(form, k) for k in ("office", "service", "demanded", "details", "contact")}
    errors: dict[str, tuple[str, str]] = {}
    if not values["details"].strip():
        errors["details"] = ("กรุณาเล่าเหตุการณ์ที่เกิดขึ้น", "Please say what happened.")
    if not values["office"].strip():
        errors["office"] = ("กรุณาระบุหน่วยงานหรือจุดบริการ", "Please name the office or counter.")
    if values["service"] and values["service"] not in state.manuals and values["service"] != "other":
        errors["service"] = ("กรุณาเลือกบริการจากรายการ", "Please choose a service from the list.")
    if errors:
        return render(request, "complaint_form.html", status=400, manuals=list(state.manuals.values()),
                      values=values, errors=errors, done=None)
    number = request.app[STORE].add_complaint(dt.datetime.now(BANGKOK).isoformat(timespec="seconds"),
                                              values["office"], values["service"], values["demanded"],
                                              values["details"], values["contact"])
    return render(request, "complaint_form.html", manuals=list(state.manuals.values()), values={}, errors={},
                  done=number)


async def complaints(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    names = {m.id: m.name_th for m in state.manuals.values()}
    return render(request, "complaints.html", complaints=request.app[STORE].complaints(), names=names)
