"""The officer's page of allowance payments: run a month (consumers/counter/allowances/run.py, under the officer's
own session), see each month's batches, what the switch settled, and who could not be paid and why."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter

from aiohttp import web

from consumers.counter.allowances.decide import REASONS
from consumers.counter.allowances.ledger import batches, latest_run, unpaid_of
from consumers.counter.allowances.rules import BadMonth, Month, Rules, parse_month
from consumers.counter.allowances.run import run_month, send_batches
from consumers.counter.display import BANGKOK, masked_id
from consumers.counter.errors import PageNotFound, ServiceUnavailable
from consumers.counter.pages import current_session, form_field, render
from consumers.counter.state import HUB, RULES, STATE, STORE
from linkage.payments import switch_public_key

__all__ = ["disbursement_month", "disbursement_run", "disbursements"]

_log = logging.getLogger("consumers.counter")


def _rules(request: web.Request) -> Rules:
    rules = request.app.get(RULES)
    if rules is None:
        raise ServiceUnavailable("no_allowance_rates", "เคาน์เตอร์นี้ไม่มีไฟล์อัตราเบี้ยยังชีพ จึงจ่ายเงินไม่ได้",
                                 "This counter has no allowance rates file (manuals/allowances/rates.toml), so it"
                                 " pays nothing.")
    return rules


def _next_month() -> Month:
    today = dt.datetime.now(BANGKOK).date()
    return Month(today.year + 543 + today.month // 12, today.month % 12 + 1)


async def disbursements(request: web.Request, status: int = 200, value: str = "",
                        error: tuple[str, str] | None = None) -> web.Response:
    current_session(request)
    rules = _rules(request)
    return render(request, "disbursements.html", status=status, batches=batches(request.app[STORE]), error=error,
                  value=value or _next_month().text, services=list(rules.allowances.values()),
                  area=(rules.area_th, rules.area_en))


async def disbursement_run(request: web.Request) -> web.StreamResponse:
    session = current_session(request)
    rules = _rules(request)
    post = await request.post()
    raw = form_field(post, "month")
    try:
        month = parse_month(raw)
    except BadMonth as err:  # answered next to the field, before anything is asked of the hub
        return await disbursements(request, 400, raw, (err.message_th, err.message_en))
    state = request.app[STATE]
    store = request.app[STORE]
    await run_month(store, request.app[HUB], rules, month, agency=state.agency.name, officer_id=session.officer_id,
                    officer_session=session.officer_session)
    if state.settings.payments_url:
        home = state.settings.home
        for sent in await send_batches(store, month, state.signer, state.settings.payments_url,
                                       lambda: switch_public_key(home)):
            if sent.status != "settled":
                _log.warning("batch %s not settled: %s", sent.batch_no, sent.status)
    raise web.HTTPSeeOther(f"/disbursements/{month.text}")


async def disbursement_month(request: web.Request) -> web.StreamResponse:
    current_session(request)
    rules = _rules(request)
    try:
        month = parse_month(request.match_info["month"])
    except BadMonth as err:
        raise PageNotFound("month_not_found", err.message_th, err.message_en) from err
    store = request.app[STORE]
    run = latest_run(store, month.text)
    if run is None:
        raise PageNotFound("no_run", f"ยังไม่มีการจ่ายเงินเดือน{month.label('th')}",
                           f"No payment run for {month.label('en')} yet.")
    unpaid = unpaid_of(store, run.id)
    counts = Counter(u.reason for u in unpaid)
    return render(request, "disbursement_month.html", month=month, run=run, batches=batches(store, month.text),
                  unpaid=[{"u": u, "id": masked_id(u.subject_id),
                           "service": rules.allowances[u.service_id] if u.service_id in rules.allowances else None}
                          for u in unpaid],
                  reasons=[(REASONS[r], n) for r, n in sorted(counts.items())])
