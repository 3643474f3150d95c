"""Reports: per service, how many documents the counter fetches instead of asking for copies, against
the cabinet's target; cases per day; the same as CSV. No personal data."""

from __future__ import annotations

import csv
import io
from typing import Any

from aiohttp import web

from consumers.counter.pages import language, manual_or_404, render
from consumers.counter.state import STATE, STORE
from consumers.counter.store import CaseRow
from consumers.counter.views.figures import followup_figures

__all__ = ["TARGET_HIGH", "TARGET_LOW", "report_service", "reports", "reports_csv"]

# The cabinet's target (26 Sep 2017): cut documents, steps and time by 30-50 %.
TARGET_LOW, TARGET_HIGH = 30.0, 50.0


def _report_rows(app: web.Application) -> tuple[list[dict[str, Any]], dict[str, Any], list[tuple[str, int]]]:
    """Per-service rows, the office-wide row and cases per day."""
    state = app[STATE]
    cases = app[STORE].cases()
    rows = []
    for m in state.manuals.values():
        mine = [c for c in cases if c.service_id == m.id]
        required = len(m.documents)
        linked = sum(1 for d in m.documents if d.linked)
        rows.append(_figures(m.id, m.name_th, m.name_en, required, linked, mine))
    office = _figures("", "ทั้งสำนักงาน", "Whole office", sum(r["required"] for r in rows),
                      sum(r["linked"] for r in rows), cases)
    days: dict[str, int] = {}
    for c in cases:
        days[c.day] = days.get(c.day, 0) + 1
    return rows, office, sorted(days.items())


def _figures(service: str, name_th: str, name_en: str, required: int, linked: int,
             cases: list[CaseRow]) -> dict[str, Any]:
    reduction = 100.0 * linked / required if required else 0.0
    days = {c.day for c in cases}
    return {
        "service": service, "name_th": name_th, "name_en": name_en, "required": required, "linked": linked,
        "brought": required - linked, "reduction": reduction,
        "target": "above" if reduction >= TARGET_HIGH else "met" if reduction >= TARGET_LOW else "below",
        "cases": len(cases), "fetched": sum(c.fetched for c in cases),
        "copies_avoided": sum(c.fetched for c in cases),
        "per_day": len(cases) / len(days) if days else 0.0,
    }


async def reports(request: web.Request) -> web.StreamResponse:
    rows, office, days = _report_rows(request.app)
    return render(request, "reports.html", rows=rows, office=office, days=days, low=TARGET_LOW, high=TARGET_HIGH,
                  **followup_figures(request.app, language(request)))


async def report_service(request: web.Request) -> web.StreamResponse:
    manual = manual_or_404(request)
    rows, _, _ = _report_rows(request.app)
    row = next(r for r in rows if r["service"] == manual.id)
    days: dict[str, int] = {}
    for c in request.app[STORE].cases():
        if c.service_id == manual.id:
            days[c.day] = days.get(c.day, 0) + 1
    return render(request, "report_service.html", m=manual, row=row, days=sorted(days.items()),
                  low=TARGET_LOW, high=TARGET_HIGH)


async def reports_csv(request: web.Request) -> web.StreamResponse:
    rows, office, days = _report_rows(request.app)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["service", "name_th", "name_en", "documents_required", "fetched_through_linkage",
                "still_brought", "reduction_percent", "cabinet_target_30_50", "cases", "documents_fetched_in_cases",
                "cases_per_day"])
    for r in [*rows, office]:
        w.writerow([r["service"] or "*", r["name_th"], r["name_en"], r["required"], r["linked"], r["brought"],
                    f"{r['reduction']:.1f}", r["target"], r["cases"], r["fetched"], f"{r['per_day']:.2f}"])
    w.writerow([])
    w.writerow(["day", "cases"])
    for day, count in days:
        w.writerow([day, count])
    # A BOM so that spreadsheet programs read the Thai as UTF-8.
    return web.Response(body=("\ufeff" + out.getvalue()).encode("utf-8"), content_type="text/csv",
                        charset="utf-8", headers={"Content-Disposition": 'attachment; filename="counter-report.csv"'})
