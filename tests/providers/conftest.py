"""Fixtures of the registry tests: one seeded data set and one throwaway PKI per session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from linkage import pki
from linkage.v1 import provider_pb2_grpc
from providers import REGISTRIES
from providers.server import build_server
from providers.synth import SeedResult, generate

CITIZENS = 2000


@dataclass(frozen=True)
class Seeded:
    data_dir: Path
    result: SeedResult

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

    def stub(self, name: str) -> provider_pb2_grpc.ProviderServiceStub:
        return provider_pb2_grpc.ProviderServiceStub(self.channels[name])


@pytest.fixture
async def running(seeded: Seeded, test_pki: Pki) -> AsyncIterator[Running]:
    """Every registry on port 0 over mTLS, with a channel holding the hub's client certificate."""
    servers = {}
    ports = {}
    for name in REGISTRIES:
        server, port = await build_server(name, seeded.data_dir / f"{name}.sqlite", test_pki.ca.cert,
                                          test_pki.servers[name])
        servers[name], ports[name] = server, port
    creds = pki.channel_credentials(test_pki.ca.cert, test_pki.client)
    channels = {name: grpc.aio.secure_channel(f"localhost:{port}", creds) for name, port in ports.items()}
    try:
        yield Running(ports, channels)
    finally:
        for channel in channels.values():
            await channel.close()
        for server in servers.values():
            await server.stop(None)
