"""The Sarabun font files the pages and their stylesheet use, served from the fontpkg-sarabun package."""

from __future__ import annotations

from pathlib import Path

import fontpkg_sarabun
from aiohttp import web

__all__ = ["font"]

_FONTS = Path(fontpkg_sarabun.ROOT) / "files"
_FONT_FILES = frozenset({"Sarabun-Regular.ttf", "Sarabun-Bold.ttf", "Sarabun-SemiBold.ttf"})


async def font(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in _FONT_FILES:
        raise web.HTTPNotFound()
    return web.FileResponse(_FONTS / name, headers={"Cache-Control": "public, max-age=86400",
                                                    "Content-Type": "font/ttf"})
