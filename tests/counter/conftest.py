"""The counter app on the test's hub: in the test's loop, on a free port, with its own SQLite file."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from consumers.counter.app import CounterSettings, create_app
from providers.payswitch.server import create_app as create_switch
from tests.conftest import RunningStack
from tests.counter.passkeys import http_sign_in

MUNI = "phrae-municipality"


@dataclass
class Counter:
    client: TestClient[web.Request, web.Application]
    settings: CounterSettings
    stack: RunningStack

    @property
    def officers(self) -> list[str]:
        return sorted(self.stack.settings.agencies[MUNI].officers)

    async def csrf(self, path: str) -> str:
        resp = await self.client.get(path)
        assert resp.status == 200, (path, resp.status)
        return csrf_of(await resp.text())

    async def sign_in(self, officer_id: str | None = None) -> None:
        """Sign the officer (the office's first by default) in with their passkey, through the counter's pages
        (tests/counter/passkeys.py)."""
        await http_sign_in(self.client, self.stack.home, self.settings.agency, officer_id or self.officers[0],
                           self.stack.counter_origin)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def counter_settings(stack: RunningStack, tmp_path: Path, **kw: Any) -> CounterSettings:
    return CounterSettings(home=stack.home, hub_address=stack.hub_address, database=tmp_path / "counter.sqlite",
                           **kw)


@pytest.fixture
async def switch(counter: Counter) -> AsyncIterator[str]:
    """The mock payment switch on a free port, notifying the test's counter."""
    server = TestServer(create_switch(counter.stack.home, str(counter.client.make_url("/payments/callback"))))
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@pytest.fixture
async def counter(stack: RunningStack, tmp_path: Path) -> AsyncIterator[Counter]:
    settings = counter_settings(stack, tmp_path)
    async with TestClient(TestServer(create_app(settings))) as client:
        yield Counter(client, settings, stack)


def persona(personas: list[dict[str, Any]], doc_type: str, kind: str = "citizen") -> str:
    for p in personas:
        if p["kind"] == kind and doc_type in p["doc_types"]:
            return str(p["id"])
    raise AssertionError(f"no {kind} persona with {doc_type}")
