"""The citizen's manuals: the list of services, and one service's documents (which the hub can fetch)."""

from __future__ import annotations

from aiohttp import web

from consumers.counter.english import ENGLISH
from consumers.counter.pages import language, manual_or_404, render
from consumers.counter.state import STATE, hub_doc_types

__all__ = ["manual_list", "manual_page"]


async def manual_list(request: web.Request) -> web.StreamResponse:
    manuals = list(request.app[STATE].manuals.values())
    if language(request) == "en":
        manuals = [request.app[ENGLISH].get(m.id, m) for m in manuals]
    return render(request, "manuals.html", manuals=manuals)


async def manual_page(request: web.Request) -> web.StreamResponse:
    manual = manual_or_404(request)
    if language(request) == "en":  # the whole manual in English, where its English text exists
        manual = request.app[ENGLISH].get(manual.id, manual)
    return render(request, "manual.html", m=manual, doc_types=await hub_doc_types(request.app))
