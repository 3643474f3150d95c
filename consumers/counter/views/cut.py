"""The cut, measured, for the office head: per service and for the office, documents, steps and time before
and after the measure over a chosen period, against the cabinet's target; as a page, an SVG chart and CSV."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from typing import Any

from aiohttp import web

from consumers.counter.charts import cut_chart
from consumers.counter.cut import METRICS, TARGET_HIGH, TARGET_LOW, Cut, measure, office_cut, verdict
from consumers.counter.errors import CounterError
from consumers.counter.pages import language, render
from consumers.counter.state import STATE, STORE
from consumers.counter.views.queue import day_text

__all__ = ["cut_chart_svg", "cut_csv", "cut_page"]


class BadPeriod(CounterError):
    status = 400


def _period(request: web.Request) -> tuple[str, str]:
    """The period asked for (ISO dates, inclusive); by default the last 30 days."""
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=7))).date()
    raw_since = request.query.get("since") or (today - dt.timedelta(days=30)).isoformat()
    raw_until = request.query.get("until") or today.isoformat()
    try:
        since, until = dt.date.fromisoformat(raw_since), dt.date.fromisoformat(raw_until)
    except ValueError:
        raise BadPeriod("period_invalid", "วันที่ของช่วงเวลาไม่ถูกต้อง (ใช้รูปแบบ ปปปป-ดด-วว ของปีคริสต์ศักราชจากปฏิทิน)",
                        "The period's dates are not valid (YYYY-MM-DD, as the date picker gives).") from None
    if since > until:
        raise BadPeriod("period_reversed", "วันเริ่มต้นต้องไม่อยู่หลังวันสิ้นสุด", "The start must not be after the end.")
    return since.isoformat(), until.isoformat()


def _cuts(request: web.Request) -> tuple[str, str, list[Cut], Cut | None]:
    since, until = _period(request)
    cuts = measure(request.app[STORE], request.app[STATE].manuals, since, until)
    return since, until, cuts, office_cut(cuts)


def _names(request: web.Request) -> dict[str, str]:
    lang = language(request)
    names = {m.id: (m.name_th if lang == "th" else m.name_en) for m in request.app[STATE].manuals.values()}
    names[""] = "ทั้งสำนักงาน" if lang == "th" else "Whole office"
    return names


def _row(c: Cut) -> dict[str, Any]:
    return {"c": c, "metrics": [{"metric": m, "before": c.before[m], "after": c.after[m], "cut": c.cut(m),
                                 "verdict": verdict(c.cut(m))} for m in METRICS]}


async def cut_page(request: web.Request) -> web.StreamResponse:
    since, until, cuts, office = _cuts(request)
    lang = language(request)
    return render(request, "report_cut.html", since=since, until=until, since_text=day_text(since, lang),
                  until_text=day_text(until, lang), rows=[_row(c) for c in cuts],
                  office=_row(office) if office else None, names=_names(request), low=TARGET_LOW, high=TARGET_HIGH,
                  query=request.query_string)


async def cut_chart_svg(request: web.Request) -> web.StreamResponse:
    _, _, cuts, _ = _cuts(request)
    # Drawn in a worker thread (half a second on a loaded VM; seconds for the first, which imports matplotlib):
    # the counter keeps serving meanwhile.
    svg = await asyncio.to_thread(cut_chart, cuts, _names(request), language(request))
    return web.Response(body=svg, content_type="image/svg+xml")


async def cut_csv(request: web.Request) -> web.StreamResponse:
    since, until, cuts, office = _cuts(request)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["period_from", "period_to", "service", "name", "cases", "completed",
                *(f"{m}_{k}" for m in METRICS for k in ("before", "after", "cut_percent", "target_30_50"))])
    names = _names(request)
    for c in [*cuts, *([office] if office else [])]:
        cells: list[str] = []
        for m in METRICS:
            after, cut = c.after[m], c.cut(m)
            cells += [f"{c.before[m]:.2f}", "" if after is None else f"{after:.2f}",
                      "" if cut is None else f"{cut:.1f}", verdict(cut)]
        w.writerow([since, until, c.service_id or "*", names.get(c.service_id, c.service_id), c.cases, c.completed,
                    *cells])
    return web.Response(body=("\ufeff" + out.getvalue()).encode("utf-8"), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="cut-{since}-{until}.csv"'})
