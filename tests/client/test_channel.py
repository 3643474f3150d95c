"""Retries (only where safe), deadlines and round-robin over several hub servers, against real servers."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
from typing import Any

import pytest

from consumers.client import NO_RETRY, ClientSetupError, HubClient, RetryPolicy
from linkage.config import Home
from linkage.errors import HubUnavailable, ProviderUnavailable
from linkage.hub.server import build_server
from tests.client.conftest import HOSPITAL, MUNI, PURPOSE, subject
from tests.conftest import RunningStack, start_stack
from tests.officers import session

FAST = RetryPolicy(attempts=8, initial_backoff=0.05, max_backoff=0.5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _retries(caplog: pytest.LogCaptureFixture, method: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "consumers.client" and f"retrying {method} " in
            r.getMessage()]


async def test_a_read_is_retried_until_the_hub_comes_up(stack: RunningStack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="consumers.client")
    port = _free_port()
    address = f"127.0.0.1:{port}"
    own = stack.home.client_cert(MUNI)
    # Nothing listens yet: without retries the read fails at once, as UNAVAILABLE from the transport.
    async with HubClient.connect(address, stack.home.ca.cert, own, retry=NO_RETRY) as hub:
        with pytest.raises(HubUnavailable) as down:
            await hub.list_services()
    assert down.value.code == "transport_unavailable"
    assert not _retries(caplog, "ListServices")

    async with HubClient.connect(address, stack.home.ca.cert, own, retry=FAST, timeout=30) as hub:
        call = asyncio.ensure_future(hub.list_services())
        while not _retries(caplog, "ListServices"):  # the first attempt has failed and a retry is planned
            assert not call.done(), call
            await asyncio.sleep(0.02)
        late = await build_server(stack.settings, port)
        try:
            answer = await call
        finally:
            await late.stop(0)
    assert answer.agency == MUNI and answer.services
    assert "HubUnavailable (transport_unavailable)" in _retries(caplog, "ListServices")[0]


async def test_a_fetch_is_not_resent_when_the_answer_may_be_lost(stack: RunningStack,
                                                                 personas: list[dict[str, Any]],
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="consumers.client")
    address = f"127.0.0.1:{_free_port()}"
    async with HubClient.connect(address, stack.home.ca.cert, stack.home.client_cert(MUNI), retry=FAST) as hub:
        with pytest.raises(HubUnavailable) as lost:
            await hub.fetch_document("dopa.person", subject(personas, "dopa.person"), purpose=PURPOSE,
                                     officer_session=await session(stack, MUNI))
    # No word from the hub: it may have issued the printout, so the client does not ask again.
    assert lost.value.code == "transport_unavailable"
    assert not _retries(caplog, "FetchDocument")


async def test_a_fetch_is_resent_when_the_hub_says_it_issued_nothing(sandbox_home: Home,
                                                                     personas: list[dict[str, Any]],
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="consumers.client")
    stack = await start_stack(sandbox_home, skip=("dopa",))
    try:
        before = stack.hub.hub.log.size
        policy = RetryPolicy(attempts=3, initial_backoff=0.01, max_backoff=0.05)
        async with HubClient.connect(stack.hub_address, stack.home.ca.cert, stack.home.client_cert(MUNI),
                                     retry=policy) as hub:
            with pytest.raises(ProviderUnavailable) as down:
                await hub.fetch_document("dopa.person", subject(personas, "dopa.person"), purpose=PURPOSE,
                                         officer_session=await session(stack, MUNI))
        # (the hub's circuit breaker may open on the way: its refusal says so, and is retryable too)
        assert down.value.code in ("provider_unavailable", "provider_circuit_open"), down.value
        assert down.value.provider == "dopa" and down.value.side == "provider"
        # The hub said the provider failed (nothing was issued): sent three times in all, nothing logged.
        assert len(_retries(caplog, "FetchDocument")) == policy.attempts - 1
        assert stack.hub.hub.log.size == before
    finally:
        await stack.hub.stop(0)
        for server in stack.providers.values():
            await server.stop(0)


async def test_calls_are_spread_over_every_hub_address(stack: RunningStack) -> None:
    # A second hub server on the same home, which grants the hospital one more document type: an answer
    # shows which server gave it.
    hospital = stack.settings.agencies[HOSPITAL]
    assert "edu.degree" not in hospital.grants
    wider = dataclasses.replace(hospital, grants={**hospital.grants, "edu.degree": ("*",)})
    other = await build_server(dataclasses.replace(stack.settings,
                                                   agencies={**stack.settings.agencies, HOSPITAL: wider}), 0)
    try:
        addresses = [stack.hub_address, f"127.0.0.1:{other.port}"]
        seen: list[bool] = []
        async with HubClient.connect(addresses, stack.home.ca.cert, stack.home.client_cert(HOSPITAL)) as hub:
            for _ in range(40):
                answer = await hub.list_services()
                seen.append(any(s.doc_type.code == "edu.degree" for s in answer.services))
                if len(set(seen)) == 2 and len(seen) >= 6:
                    break
    finally:
        await other.stop(0)
    assert set(seen) == {True, False}, f"every call went to one server: {seen}"


def test_bad_addresses_and_policies_are_named() -> None:
    from consumers.client.client import _target

    assert _target(["127.0.0.1:7443", "127.0.0.1:7444"]) == "ipv4:127.0.0.1:7443,127.0.0.1:7444"
    assert _target(["[::1]:7443", "[::1]:7444"]) == "ipv6:[::1]:7443,[::1]:7444"
    assert _target(["hub.example:443"]) == "hub.example:443"
    with pytest.raises(ClientSetupError, match="must be an IP address"):
        _target(["hub.example:443", "127.0.0.1:7444"])
    with pytest.raises(ClientSetupError, match="all IPv4 or all IPv6"):
        _target(["127.0.0.1:7443", "[::1]:7444"])
    with pytest.raises(ClientSetupError, match="not \"host:port\""):
        _target(["127.0.0.1"])
    with pytest.raises(ClientSetupError, match="no hub address"):
        _target([])
    with pytest.raises(ValueError, match="attempts must be an integer >= 1"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match=r"max_backoff .* must be >= initial_backoff"):
        RetryPolicy(initial_backoff=2, max_backoff=1)
