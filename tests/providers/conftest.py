"""Fixtures of the registry tests: one seeded data set and one throwaway PKI per session.

The data set is seeded twice, into SQLite files and into a real PostgreSQL (tests/backends.py),
from the same seed; ``running`` serves it from each backend in turn.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from linkage import pki
from linkage.storage import Database
from linkage.v1 import provider_pb2_grpc
from providers import REGISTRIES
from providers.server import ProviderServer, start_server
from providers.synth import SeedResult, generate
from tests.backends import backend, fresh_database, postgres

__all__ = ["CITIZENS", "Pki", "Running", "Seeded", "backend", "postgres"]

CITIZENS = 2000


@dataclass(frozen=True)
class Seeded:
    data_dir: Path
    result: SeedResult
    database: Database | None = None  # set when the stores are on PostgreSQL

    def where(self, name: str) -> Path | Database:
        """Where registry name's store is."""
        return self.database or self.data_dir / f"{name}.sqlite"

    def persona(self, label_en: str) -> dict[str, Any]:
        found = [p for p in self.result.personas if label_en in p["label"]]
        assert found, f"no persona labelled {label_en!r}"
        return found[0]


@dataclass(frozen=True)
class Pki:
    ca: pki.CertPaths
    servers: dict[str, pki.CertPaths]
    client: pki.CertPaths


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    data_dir = tmp_path_factory.mktemp("registries")
    return Seeded(data_dir, generate(data_dir, citizens=CITIZENS, seed=7))


@pytest.fixture(scope="session")
def seeded_pg(postgres: Database, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """The same data set (same seed) in PostgreSQL schemas."""
    database = fresh_database(postgres)
    return Seeded(tmp_path_factory.mktemp("unused"), generate(tmp_path_factory.mktemp("unused"), citizens=CITIZENS,
                                                                seed=7, database=database), database)


@pytest.fixture
def stores(backend: str, seeded: Seeded, request: pytest.FixtureRequest) -> Seeded:
    """The seeded data set on the backend of this run of the test."""
    if backend == "sqlite":
        return seeded
    found: Seeded = request.getfixturevalue("seeded_pg")
    return found


@pytest.fixture(scope="session")
def test_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    ca = pki.create_ca(root / "ca")
    servers = {name: pki.issue(ca, name, pki.Role.SERVER, root / "servers") for name in REGISTRIES}
    client = pki.issue(ca, "linkage-hub", pki.Role.CLIENT, root / "clients")
    return Pki(ca, servers, client)


Connect = Callable[[str], provider_pb2_grpc.ProviderServiceStub]


@dataclass
class Running:
    ports: dict[str, int]
    channels: dict[str, grpc.aio.Channel]
    servers: dict[str, ProviderServer]

    def stub(self, name: str) -> provider_pb2_grpc.ProviderServiceStub:
        return provider_pb2_grpc.ProviderServiceStub(self.channels[name])


@pytest.fixture
async def running(stores: Seeded, test_pki: Pki) -> AsyncIterator[Running]:
    """Every registry on port 0 over mTLS, with a channel holding the hub's client certificate."""
    servers = {}
    ports = {}
    for name in REGISTRIES:
        servers[name] = await start_server(name, stores.where(name), test_pki.ca.cert, test_pki.servers[name])
        ports[name] = servers[name].port
    creds = pki.channel_credentials(test_pki.ca.cert, test_pki.client)
    channels = {name: grpc.aio.secure_channel(f"localhost:{port}", creds) for name, port in ports.items()}
    try:
        yield Running(ports, channels, servers)
    finally:
        for channel in channels.values():
            await channel.close()
        for server in servers.values():
            await server.stop(None)
