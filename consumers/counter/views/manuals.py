"""The citizen's manuals: the list of services, and one service's documents (which the hub can fetch)."""

from __future__ import annotations

from aiohttp import web

from consumers.counter.pages import manual_or_404, render
from consumers.counter.state import STATE, hub_doc_types

__all__ = ["manual_list", "manual_page"]


async def manual_list(request: web.Request) -> web.StreamResponse:
    return render(request, "manuals.html", manuals=list(request.app[STATE].manuals.values()))


async def manual_page(request: web.Request) -> web.StreamResponse:
    manual = manual_or_404(request)
    return render(request, "manual.html", m=manual, doc_types=await hub_doc_types(request.app))
