"""The follow-up's figures on the reports page: citizens' ratings per service, the queue's waits and no-shows
over the last 30 days, and complaints counted against the offices that still demand copies."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from consumers.counter.state import COMPLAINTS, FEEDBACK, QUEUE, STATE

__all__ = ["followup_figures"]


def followup_figures(app: web.Application, lang: str) -> dict[str, Any]:
    """What reports_followup.html shows (no personal data, no officer named)."""
    state, queue = app[STATE], app[QUEUE]
    today = queue.now().date()
    names = {m.id: (m.name_th if lang == "th" else m.name_en) for m in state.manuals.values()}
    return {"ratings": sorted(app[FEEDBACK].by_service().values(), key=lambda r: r.service_id),
            "queue_stats": queue.stats((today - dt.timedelta(days=30)).isoformat(), today.isoformat()),
            "service_names": names, "against": app[COMPLAINTS].against_offices()}
