"""The hub under provider faults injected through ProviderAdmin, and `linkage faults`.

Real registries and hub on port 0 with real mTLS; faults are set with the sandbox's
administrator certificate, and what reached a registry is counted there (GetFaults
stats), never timed. The deadline, retry, budget and breaker rules are those of
linkage/hub/routing.py's docstring.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from linkage import pki
from linkage.cli.faults import parse_duration
from linkage.cli.main import main
from linkage.config import ConfigError, Home
from linkage.errors import LinkageError, from_rpc_error
from linkage.hub.routing import Circuit, CircuitBreaker, RetryBudget
from linkage.hub.server import build_server
from linkage.serverconfig import HubConfig
from linkage.v1 import hub_pb2, hub_pb2_grpc, provider_pb2, provider_pb2_grpc
from providers.faults import ADMIN_CLIENT
from tests.conftest import RunningStack, start_stack
from tests.hub.test_fetch import MUNI, fetch, request, subject
from tests.officers import signed_in

Start = Callable[..., Awaitable[RunningStack]]


@pytest.fixture
async def start(sandbox_home: Home) -> AsyncIterator[Start]:
    """Start a stack whose hub has these [hub] settings; stopped after the test."""
    started: list[RunningStack] = []

    async def run(**hub: Any) -> RunningStack:
        running = await start_stack(sandbox_home)
        started.append(running)
        if hub:
            await running.hub.stop(0)
            running.settings = dataclasses.replace(running.settings,
                                                   hub=dataclasses.replace(running.settings.hub, **hub))
            running.hub = await build_server(running.settings, 0)
        return running

    try:
        yield run
    finally:
        for running in started:
            await running.hub.stop(0)
            for server in running.providers.values():
                await server.stop(0)


class Admin:
    """ProviderAdmin of one registry of the stack, with a certificate (the administrator's by default)."""

    def __init__(self, stack: RunningStack, provider: str = "dopa", cert: str = ADMIN_CLIENT) -> None:
        home = stack.home
        self.channel = grpc.aio.secure_channel(stack.settings.providers[provider].address,
                                               pki.channel_credentials(home.ca.cert, home.client_cert(cert)))
        self.stub = provider_pb2_grpc.ProviderAdminStub(self.channel)

    async def set(self, **settings: Any) -> provider_pb2.FaultState:
        state: provider_pb2.FaultState = await self.stub.SetFaults(
            provider_pb2.SetFaultsRequest(faults=provider_pb2.FaultSettings(**settings)), timeout=10)
        return state

    async def clear(self) -> None:
        await self.stub.ClearFaults(provider_pb2.ClearFaultsRequest(), timeout=10)

    async def state(self) -> provider_pb2.FaultState:
        state: provider_pb2.FaultState = await self.stub.GetFaults(provider_pb2.GetFaultsRequest(), timeout=10)
        return state

    async def stats(self) -> provider_pb2.FaultStats:
        return (await self.state()).stats


@pytest.fixture
async def admins() -> AsyncIterator[Callable[..., Admin]]:
    made: list[Admin] = []

    def make(stack: RunningStack, provider: str = "dopa", cert: str = ADMIN_CLIENT) -> Admin:
        made.append(Admin(stack, provider, cert))
        return made[-1]

    try:
        yield make
    finally:
        for admin in made:
            await admin.channel.close()


async def refused(stack: RunningStack, req: hub_pb2.FetchDocumentRequest, timeout: float = 10) -> LinkageError:
    """The hub's refusal of req (under its officer's session), read back from its ErrorInfo."""
    await signed_in(stack, MUNI, req)
    async with stack.channel(MUNI) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await hub_pb2_grpc.LinkageHubStub(channel).FetchDocument(req, timeout=timeout)
    return from_rpc_error(info.value)


def person(stack: RunningStack, personas: list[dict[str, Any]]) -> hub_pb2.FetchDocumentRequest:
    return request(stack, MUNI, "dopa.person", subject(personas, "dopa.person"))


async def warm(stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    """One printout first, so the hub has dopa's Describe and every later call to dopa is a GetRecord."""
    assert (await fetch(stack, MUNI, person(stack, personas))).jws


# --- deadlines ------------------------------------------------------------------------------------------------


async def test_latency_past_the_provider_timeout_is_deadline_exceeded_naming_it(
        start: Start, admins: Callable[..., Admin], personas: list[dict[str, Any]]) -> None:
    stack = await start(provider_timeout_ms=300)
    dopa = admins(stack)
    await warm(stack, personas)
    await dopa.set(latency_ms=30_000)
    before, logged = await dopa.stats(), stack.hub.hub.log.size
    err = await refused(stack, person(stack, personas))
    assert err.status == grpc.StatusCode.DEADLINE_EXCEEDED and err.code == "provider_timeout"
    assert err.side == "provider" and err.provider == "dopa" and err.retryable
    assert "provider dopa did not answer in time" in err.message
    after = await dopa.stats()
    assert after.calls == before.calls + 1 and after.delayed == before.delayed + 1  # a timeout is not retried
    assert stack.hub.hub.log.size == logged  # nothing issued, nothing logged


async def test_the_callers_deadline_bounds_the_call_to_the_provider(
        start: Start, admins: Callable[..., Admin], personas: list[dict[str, Any]]) -> None:
    # The hub would wait 3 s for dopa, but the caller gives 1.5 s: the hub answers first, naming dopa,
    # instead of the caller's own deadline firing with no word on who failed.
    stack = await start(provider_timeout_ms=60_000)
    dopa = admins(stack)
    await warm(stack, personas)
    await dopa.set(latency_ms=60_000)
    err = await refused(stack, person(stack, personas), timeout=1.5)
    assert err.status == grpc.StatusCode.DEADLINE_EXCEEDED
    assert err.code == "provider_timeout" and err.provider == "dopa"  # not transport_deadline_exceeded


# --- errors, retries and the retry budget ----------------------------------------------------------------------


async def test_error_rate_one_is_unavailable_with_retryable_details(
        start: Start, admins: Callable[..., Admin], personas: list[dict[str, Any]]) -> None:
    stack = await start()
    dopa = admins(stack)
    await warm(stack, personas)
    await dopa.set(error_rate=1.0, error="UNAVAILABLE")
    before, logged = await dopa.stats(), stack.hub.hub.log.size
    err = await refused(stack, person(stack, personas))
    assert err.status == grpc.StatusCode.UNAVAILABLE and err.code == "provider_unavailable"
    assert err.side == "provider" and err.provider == "dopa" and err.retryable
    after = await dopa.stats()
    retries = stack.settings.hub.provider_retries
    assert after.calls - before.calls == 1 + retries == after.errors_injected - before.errors_injected
    assert stack.hub.hub.log.size == logged


@pytest.mark.parametrize(("code", "reason", "retryable"), [
    ("INTERNAL", "provider_error", False),
    ("RESOURCE_EXHAUSTED", "provider_overloaded", True),
])
async def test_errors_that_are_not_retried(start: Start, admins: Callable[..., Admin], personas: list[dict[str, Any]],
                                           code: str, reason: str, retryable: bool) -> None:
    stack = await start()
    dopa = admins(stack)
    await warm(stack, personas)
    await dopa.set(error_rate=1.0, error=code)
    before = await dopa.stats()
    err = await refused(stack, person(stack, personas))
    assert err.code == reason and err.provider == "dopa" and err.retryable is retryable
    assert (await dopa.stats()).calls == before.calls + 1


async def test_intermittent_errors_are_absorbed_by_retries_within_budget(
        start: Start, admins: Callable[..., Admin], personas: list[dict[str, Any]]) -> None:
    stack = await start()
    dopa = admins(stack)
    await warm(stack, personas)
    await dopa.set(error_rate=0.1, seed=7)  # seeded: the same calls fail on every run
    before, logged = await dopa.stats(), stack.hub.hub.log.size
    calls = 30
    for _ in range(calls):
        assert (await fetch(stack, MUNI, person(stack, personas))).jws
    after = await dopa.stats()
    failed = after.errors_injected - before.errors_injected
    assert failed > 0  # faults happened, and every one was retried: one extra call each
    assert after.calls - before.calls == calls + failed
    assert failed <= calls * stack.settings.hub.retry_budget_percent / 100 + 10
    assert stack.hub.hub.log.size == logged + calls


async def test_retries_cannot_amplify_an_outage(start: Start, admins: Callable[..., Admin],
                                                personas: list[dict[str, Any]]) -> None:
    # Breaker out of the way: only the budget limits the retries.
    stack = await start(breaker_failures=1_000_000)
    dopa = admins(stack)
    await warm(stack, personas)
    await dopa.set(error_rate=1.0)
    before = await dopa.stats()
    calls = 40
    for _ in range(calls):
        assert (await refused(stack, person(stack, personas))).code == "provider_unavailable"
    sent = (await dopa.stats()).calls - before.calls
    assert calls < sent <= calls + calls * stack.settings.hub.retry_budget_percent / 100 + 10


# --- the circuit breaker -----------------------------------------------------------------------------------------


async def test_breaker_opens_fails_fast_and_closes_when_the_provider_recovers(
        start: Start, admins: Callable[..., Admin], personas: list[dict[str, Any]]) -> None:
    stack = await start(provider_retries=1, breaker_failures=4, breaker_cooldown_ms=1500)
    dopa = admins(stack)
    router = stack.hub.hub.router
    await warm(stack, personas)
    await dopa.set(error_rate=1.0)
    before = await dopa.stats()
    for _ in range(2):  # two attempts each: four failures in a row
        assert (await refused(stack, person(stack, personas))).code == "provider_unavailable"
    assert router.circuits()["dopa"] is Circuit.OPEN
    opened = await dopa.stats()
    assert opened.calls == before.calls + 4
    # Open: the hub fails fast without reaching dopa, says who and when to come back.
    err = await refused(stack, person(stack, personas))
    assert err.status == grpc.StatusCode.UNAVAILABLE and err.code == "provider_circuit_open"
    assert err.provider == "dopa" and err.retryable and 0 < err.retry_after_ms <= 1500
    assert "provider dopa failed repeatedly" in err.message
    assert (await dopa.stats()).calls == opened.calls
    # Other providers are not affected.
    company = subject(personas, "dbd.juristic", kind="juristic")
    assert (await fetch(stack, MUNI, request(stack, MUNI, "dbd.juristic", company))).jws
    # dopa recovers; after the cool-down one probe goes through and closes the circuit.
    await dopa.clear()
    refusals = 0
    for _ in range(200):
        try:
            await fetch(stack, MUNI, person(stack, personas))
            break
        except grpc.aio.AioRpcError as exc:
            assert from_rpc_error(exc).code == "provider_circuit_open"
            refusals += 1
            await asyncio.sleep(0.05)
    assert router.circuits()["dopa"] is Circuit.CLOSED
    assert (await dopa.stats()).calls == opened.calls + 1  # the probe was the only call that reached dopa
    assert (await fetch(stack, MUNI, person(stack, personas))).jws


def test_breaker_states() -> None:
    now = [0.0]
    breaker = CircuitBreaker("dopa", failures=3, cooldown=10.0, probe_timeout=2.0, clock=lambda: now[0])

    def state() -> Circuit:
        return breaker.state  # read afresh: mypy would carry a narrowed breaker.state past the calls that change it

    for _ in range(2):
        assert breaker.admit() is None
        breaker.record(ok=False)
    breaker.record(ok=True)  # an answer resets the count: failures must be in a row
    for _ in range(3):
        assert breaker.admit() is None
        breaker.record(ok=False)
    assert state() is Circuit.OPEN and breaker.admit() == 10.0
    breaker.record(ok=True)  # a late answer of a call sent before it opened changes nothing
    now[0] = 9.5
    assert state() is Circuit.OPEN and breaker.admit() == pytest.approx(0.5)
    now[0] = 10.0
    assert breaker.admit() is None and state() is Circuit.HALF_OPEN  # the probe
    assert breaker.admit() == 2.0  # one probe at a time
    breaker.record(ok=False)  # the probe failed: open for another cool-down
    assert state() is Circuit.OPEN and breaker.admit() == 10.0
    now[0] = 20.0
    assert breaker.admit() is None
    now[0] = 22.0  # that probe never reported back: it frees its place after probe_timeout
    assert breaker.admit() is None
    breaker.record(ok=True)
    assert state() is Circuit.CLOSED and breaker.admit() is None


def test_retry_budget() -> None:
    budget = RetryBudget(0.1, reserve=10)
    assert all(budget.spend() for _ in range(10)) and not budget.spend()
    for _ in range(9):
        budget.earn()
    assert not budget.spend()
    budget.earn()
    assert budget.spend() and not budget.spend()
    for _ in range(1000):
        budget.earn()  # a quiet spell saves up at most the reserve
    assert sum(budget.spend() for _ in range(50)) == 10
    none = RetryBudget(0.0)
    none.earn()
    assert not none.spend()


@pytest.mark.parametrize(("key", "value"), [("provider_retries", -1), ("retry_budget_percent", 101),
                                            ("breaker_failures", 0), ("breaker_cooldown_ms", 0),
                                            ("provider_timeout_ms", 0)])
def test_resilience_settings_out_of_range_are_refused(key: str, value: int) -> None:
    settings: dict[str, Any] = {key: value}
    with pytest.raises(ConfigError, match=f"\\[hub\\] {key} must be between"):
        HubConfig(**settings)


# --- outages and the admin service ---------------------------------------------------------------------------


async def test_an_outage_ends_by_itself(start: Start, admins: Callable[..., Admin],
                                        personas: list[dict[str, Any]]) -> None:
    stack = await start()
    dopa = admins(stack)
    await warm(stack, personas)
    before, logged = await dopa.stats(), stack.hub.hub.log.size
    await dopa.set(outage_ms=1500)
    err = await refused(stack, person(stack, personas))
    assert err.code == "provider_unavailable" and err.provider == "dopa" and err.retryable
    during = await dopa.stats()
    assert during.refused_in_outage - before.refused_in_outage == during.calls - before.calls == 3
    for _ in range(200):
        if (await dopa.state()).outage_remaining_ms == 0:
            break
        await asyncio.sleep(0.05)
    assert (await fetch(stack, MUNI, person(stack, personas))).jws
    assert (await dopa.stats()).refused_in_outage == during.refused_in_outage
    assert stack.hub.hub.log.size == logged + 1


@pytest.mark.parametrize("cert", [MUNI, "linkage-hub"])
async def test_admin_service_refuses_every_other_certificate(stack: RunningStack, admins: Callable[..., Admin],
                                                             cert: str) -> None:
    other = admins(stack, cert=cert)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await other.set(error_rate=1.0)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert from_rpc_error(info.value).code == "not_admin"
    assert (await admins(stack).state()).faults.error_rate == 0


# --- linkage faults (the CLI) -------------------------------------------------------------------------------------


def cli_home(stack: RunningStack, tmp_path: Path) -> Path:
    """A home whose endpoints.json names the stack's registries (the shared sandbox is never written to)."""
    (tmp_path / "pki").symlink_to(stack.home.pki)
    (tmp_path / "endpoints.json").write_text(json.dumps(
        {"providers": {name: p.address for name, p in stack.settings.providers.items()}}), encoding="utf-8")
    return tmp_path


async def run_cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "linkage.cli", *args,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_cli_sets_shows_and_clears(stack: RunningStack, admins: Callable[..., Admin], tmp_path: Path) -> None:
    home = str(cli_home(stack, tmp_path))
    code, out, err = await run_cli("faults", "set", "dopa", "--latency", "200ms", "--jitter", "50ms",
                                   "--error-rate", "0.1", "--error", "unavailable", "--outage", "30s",
                                   "--seed", "5", "--home", home)
    assert code == 0, err
    assert out.startswith("dopa: latency 200 ms ± 50 ms, error rate 0.1 (UNAVAILABLE), outage (UNAVAILABLE)")
    state = await admins(stack).state()
    assert state.faults == provider_pb2.FaultSettings(latency_ms=200, jitter_ms=50, error_rate=0.1,
                                                      error="UNAVAILABLE", outage_ms=30_000, seed=5)
    assert 0 < state.outage_remaining_ms <= 30_000
    code, out, err = await run_cli("faults", "show", "--home", home)
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines] == list(stack.settings.providers)
    assert lines[0].startswith("dopa: latency 200 ms") and lines[1].startswith("dbd: no faults | calls")
    code, out, err = await run_cli("faults", "clear", "--home", home)
    assert code == 0, err
    assert all(": no faults |" in line for line in out.splitlines())
    assert (await admins(stack).state()).faults == provider_pb2.FaultSettings(error="UNAVAILABLE")


@pytest.mark.parametrize(("args", "says"), [
    (["--latency", "-5ms"], "latency must be between 0 and 600 s, got -5 ms (a negative duration)"),
    (["--latency=-5ms"], "a negative duration"),
    (["--outage", "-1s"], "outage must be between 0 and 86400 s, got -1000 ms"),
    (["--latency", "11m"], "latency must be between 0 and 600 s, got 660000 ms"),
    (["--error-rate", "1.5"], "error_rate is a share of calls, from 0 (none) to 1 (every call); got 1.5"),
    (["--error-rate", "-0.1"], "got -0.1"),
    (["--error-rate", "lots"], "'lots' is not a number: the error rate is a share of calls from 0 to 1"),
    (["--error-rate", "0.1", "--error", "NOT_FOUND"], "'NOT_FOUND' is not a fault code; use one of: UNAVAILABLE"),
    (["--latency", "200"], "'200' is not a duration: write a number and a unit (ms, s or m), e.g. 200ms"),
    (["--outage", "2h"], "'2h' is not a duration"),
    (["--jitter", "0.5ms"], "'0.5ms' is finer than a millisecond"),
    (["--seed", "-1", "--latency", "1ms"], "--seed must be between 0 and 2**64-1"),
    ([], "give at least one of --latency, --jitter, --error-rate, --outage"),
])
async def test_cli_refuses_settings_out_of_range_and_changes_nothing(
        stack: RunningStack, admins: Callable[..., Admin], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        args: list[str], says: str) -> None:
    dopa = admins(stack)
    before = await dopa.set(latency_ms=1, seed=3)
    try:
        code: int | str | None = main(["faults", "set", "dopa", *args, "--home", str(cli_home(stack, tmp_path))])
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code
    assert code == 2
    assert says in capsys.readouterr().err
    after = await dopa.state()
    assert after.faults == before.faults and after.stats.calls == before.stats.calls


async def test_cli_names_what_is_missing(stack: RunningStack, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "running").mkdir()
    home = cli_home(stack, tmp_path / "running")
    assert main(["faults", "show", "nosuch", "--home", str(home)]) == 2
    assert "no registry named 'nosuch' in the running sandbox; known: dopa, dbd, edu" in capsys.readouterr().err
    (tmp_path / "stopped").mkdir()
    assert main(["faults", "clear", "--home", str(tmp_path / "stopped")]) == 2
    assert "is not running" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "ms"), [("200ms", 200), ("1.5s", 1500), ("30s", 30_000), ("2m", 120_000),
                                          (".5s", 500), ("0ms", 0)])
def test_durations(text: str, ms: int) -> None:
    assert parse_duration(text) == ms
