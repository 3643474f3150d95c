"""Shared fixtures: one seeded sandbox per session, real servers on port 0 per test."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import grpc
import pytest

from consumers.client import OfficerSession
from linkage import pki
from linkage.cli.sandbox import init
from linkage.config import Home, Settings, load_settings
from linkage.hub.server import HubServer, build_server
from providers.server import ProviderServer, start_server
from tests.counter.passkeys import counter_origin


@pytest.fixture(scope="session")
def sandbox_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    return init(tmp_path_factory.mktemp("sandbox"), citizens=500, seed=1)


@pytest.fixture(scope="session")
def personas(sandbox_home: Home) -> list[dict[str, Any]]:
    data = json.loads(sandbox_home.personas.read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return data


@dataclasses.dataclass
class RunningStack:
    settings: Settings
    hub: HubServer
    providers: dict[str, grpc.aio.Server]
    # The same registries with their store and metrics (what reached each is counted there).
    registries: dict[str, ProviderServer] = dataclasses.field(default_factory=dict)
    # Officers signed in: (agency, officer) -> (the hub that issued it, session) (tests/officers.py).
    sessions: dict[tuple[str, str], tuple[HubServer, OfficerSession]] = dataclasses.field(default_factory=dict)

    @property
    def home(self) -> Home:
        return self.settings.home

    @property
    def hub_address(self) -> str:
        return f"127.0.0.1:{self.hub.port}"

    @property
    def counter_origin(self) -> str:
        """The counter origin whose passkey assertions this hub accepts (a port free when the stack started, for a
        test's counter to listen on)."""
        return counter_origin(self.settings)

    async def stop(self) -> None:
        """Stop the hub, then the registries, at once."""
        await self.hub.stop(0)
        for server in self.providers.values():
            await server.stop(0)

    def channel(self, agency: str | None, ca: Path | None = None) -> grpc.aio.Channel:
        """A channel to the hub with an agency's certificate (None: no client certificate)."""
        own = self.home.client_cert(agency) if agency else None
        return grpc.aio.secure_channel(self.hub_address, pki.channel_credentials(ca or self.home.ca.cert, own))


async def start_stack(home: Home, *, provider_timeout_ms: int | None = None,
                      skip: tuple[str, ...] = (), witnesses: Mapping[str, int] | None = None) -> RunningStack:
    """Every registry (except those in skip) and the hub, in this event loop, on free ports. The hub sends its
    checkpoints to the sandbox's witnesses only when given where they listen (name -> port; tests/witness/)."""
    settings = load_settings(home)
    registries: dict[str, ProviderServer] = {}
    providers = {}
    for name, cfg in settings.providers.items():
        if name in skip:
            providers[name] = dataclasses.replace(cfg, port=_free_port())
            continue
        registries[name] = await start_server(name, home.provider_db(name), home.ca.cert, home.server_cert(name))
        providers[name] = dataclasses.replace(cfg, port=registries[name].port)
    hub_cfg = settings.hub
    if provider_timeout_ms is not None:
        hub_cfg = dataclasses.replace(hub_cfg, provider_timeout_ms=provider_timeout_ms)
    # A counter port of its own (the hub trusts passkeys from http://localhost:PORT of [counter]): a browser test
    # serves its counter there.
    counter = dataclasses.replace(settings.counter, port=_free_port())
    settings = dataclasses.replace(settings, providers=providers, hub=hub_cfg, counter=counter, witnesses={
        name: dataclasses.replace(settings.witnesses[name], port=port) for name, port in (witnesses or {}).items()})
    hub = await build_server(settings, 0)
    return RunningStack(settings, hub, {name: r.server for name, r in registries.items()}, registries)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serving(home: Home, **options: Any) -> AsyncIterator[RunningStack]:
    """``start_stack(home, **options)``, stopped on the way out (the hub as it then is: a test may replace it)."""
    running = await start_stack(home, **options)
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def stack(sandbox_home: Home) -> AsyncIterator[RunningStack]:
    async with serving(sandbox_home) as running:
        yield running
