"""The hub's relay to real witnesses on port 0: a forked hub cannot gather a quorum, an honest one does, a witness
that is down delays cosignatures but no entry, and one restarted from its state picks up where it was."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkage.checkpoint import NoteSigner
from linkage.cosignature import Cosigner, NoQuorum, WitnessKey, majority, open_witnessed
from linkage.hub.log import ExchangeLog
from linkage.hub.witnesses import WitnessEndpoint, WitnessRelay
from linkage.witness import KnownLog, Witness, WitnessState, create_app

ORIGIN = "relay.test/exchange-log"
LOG_KEY = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())


@dataclass(frozen=True)
class _Entry:
    """A log record of the test's own: the log takes anything with a kind, an id, a subject hash and a leaf."""

    printout_id: str
    kind: str = "printout"
    subject_hash: str = ""

    def leaf(self) -> bytes:
        return f'{{"kind":"printout","printout_id":"{self.printout_id}"}}'.encode()


@dataclass
class _Server:
    name: str
    cosigner: Cosigner
    state: Path
    runner: web.AppRunner | None = None
    port: int = 0

    async def start(self) -> None:
        known = KnownLog(ORIGIN, lambda: [LOG_KEY.verifier()])
        witness = Witness(self.cosigner, WitnessState.load(self.state), [known])
        self.runner = web.AppRunner(create_app(witness), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port)  # the same port again after a restart
        await site.start()
        self.port = int(self.runner.addresses[0][1])

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    @property
    def endpoint(self) -> WitnessEndpoint:
        return WitnessEndpoint(self.name, f"http://127.0.0.1:{self.port}", self.cosigner.witness_key())


Witnesses = Callable[[int], Awaitable[list[_Server]]]


@pytest.fixture
async def witnesses(tmp_path: Path) -> AsyncIterator[Witnesses]:
    started: list[_Server] = []

    async def make(n: int) -> list[_Server]:
        for i in range(n):
            server = _Server(f"w{i + 1}", Cosigner(f"witness.test/w{i + 1}", Ed25519PrivateKey.generate()),
                             tmp_path / f"w{i + 1}.json")
            await server.start()
            started.append(server)
        return started[-n:]

    yield make
    for server in started:
        await server.stop()


@contextlib.asynccontextmanager
async def _hub(path: Path, servers: list[_Server], prefix: str, n: int) -> AsyncIterator[tuple[ExchangeLog,
                                                                                                WitnessRelay]]:
    """A log of ``n`` entries named ``prefix``, with a relay to ``servers`` (fast retries, short timeouts)."""
    log = ExchangeLog(path, b"k" * 32, LOG_KEY, ORIGIN)
    relay = WitnessRelay(log, [s.endpoint for s in servers], timeout_s=1.0, retry_s=0.05)
    relay.start()
    try:
        await asyncio.gather(*(log.append(_Entry(f"{prefix}-{i}")) for i in range(n)))
        yield log, relay
    finally:
        await relay.close()
        await log.close()


def _keys(servers: list[_Server]) -> list[WitnessKey]:
    return [s.cosigner.witness_key() for s in servers]


async def _witnessed(log: ExchangeLog, size: int, cosigners: int, timeout: float = 10.0) -> str:
    """The newest cosigned note once it is of ``size`` with ``cosigners`` cosignatures."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await log.witnessed()
        if found is not None and found.checkpoint.size == size and found.note.count("\n— ") == 1 + cosigners:
            return found.note
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no checkpoint of size {size} with {cosigners} cosignatures; newest: {found}")
        await asyncio.sleep(0.02)


async def test_an_honest_log_gathers_every_cosignature_and_serves_them(witnesses: Witnesses, tmp_path: Path) -> None:
    servers = await witnesses(2)
    async with _hub(tmp_path / "a.sqlite", servers, "a", 20) as (log, _):
        note = await _witnessed(log, 20, 2)
        found = open_witnessed(note, [LOG_KEY.verifier()], ORIGIN, _keys(servers), majority(2))
        assert [c.witness.name for c in found.cosignatures] == ["witness.test/w1", "witness.test/w2"]
        assert log.latest.note == note  # the newest checkpoint itself carries them once they came
        for i in range(20, 25):
            await log.append(_Entry(f"a-{i}"))
        open_witnessed(await _witnessed(log, 25, 2), [LOG_KEY.verifier()], ORIGIN, _keys(servers), 2)


async def test_a_forked_hub_cannot_gather_a_quorum(witnesses: Witnesses, tmp_path: Path) -> None:
    """The same log key and origin, another history: every witness that saw the honest one refuses it."""
    servers = await witnesses(2)
    async with _hub(tmp_path / "honest.sqlite", servers, "honest", 12) as (honest, _):
        await _witnessed(honest, 12, 2)
    async with _hub(tmp_path / "forked.sqlite", servers, "forked", 15) as (forked, relay):
        await asyncio.sleep(0.5)  # rounds enough to have asked both, several times
        assert await forked.witnessed() is None
        assert relay.acked == {"w1": 12, "w2": 12}  # each told its size (409), then refused the proof from it
        with pytest.raises(NoQuorum, match="cosigned by 0 of the 2"):
            open_witnessed(forked.latest.note, [LOG_KEY.verifier()], ORIGIN, _keys(servers), 1)
    # Nor by growing past the honest log, nor at the honest size with another root.
    async with _hub(tmp_path / "forked-12.sqlite", servers, "forked", 12) as (forked, _):
        await asyncio.sleep(0.3)
        assert await forked.witnessed() is None


async def test_with_one_of_two_a_split_view_passes_so_the_default_is_a_majority(witnesses: Witnesses,
                                                                                 tmp_path: Path) -> None:
    """Two histories, each shown to one witness only: each gets a 1-of-2 quorum, neither gets 2 of 2."""
    w1, w2 = await witnesses(2)
    async with _hub(tmp_path / "a.sqlite", [w1], "auditor-view", 5) as (a, _):
        view_a = await _witnessed(a, 5, 1)
    async with _hub(tmp_path / "b.sqlite", [w2], "citizen-view", 5) as (b, _):
        view_b = await _witnessed(b, 5, 1)
    keys = _keys([w1, w2])
    for view in (view_a, view_b):
        assert open_witnessed(view, [LOG_KEY.verifier()], ORIGIN, keys, 1)  # the split passes 1 of 2
        with pytest.raises(NoQuorum):
            open_witnessed(view, [LOG_KEY.verifier()], ORIGIN, keys, majority(2))


async def test_a_witness_down_delays_its_cosignature_not_the_log(witnesses: Witnesses, tmp_path: Path) -> None:
    w1, w2 = await witnesses(2)
    async with _hub(tmp_path / "a.sqlite", [w1, w2], "a", 4) as (log, relay):
        await _witnessed(log, 4, 2)
        await w2.stop()
        for i in range(4, 9):
            await log.append(_Entry(f"a-{i}"))  # appends go on, witness or not
        note = await _witnessed(log, 9, 1)
        with pytest.raises(NoQuorum, match=r"not cosigned by: witness\.test/w2"):
            open_witnessed(note, [LOG_KEY.verifier()], ORIGIN, _keys([w1, w2]), 2)
        # Back from its state file, on the same port: the relay sends it a proof from size 4 on its next retry.
        await w2.start()
        open_witnessed(await _witnessed(log, 9, 2), [LOG_KEY.verifier()], ORIGIN, _keys([w1, w2]), 2)
        assert relay.acked == {"w1": 9, "w2": 9}


async def test_a_restarted_hub_learns_each_witness_size_and_goes_on(witnesses: Witnesses, tmp_path: Path) -> None:
    servers = await witnesses(2)
    async with _hub(tmp_path / "a.sqlite", servers, "a", 6) as (log, _):
        await _witnessed(log, 6, 2)
    # The same log, reopened: the relay knows nothing of the witnesses; the first answers (409) tell it.
    async with _hub(tmp_path / "a.sqlite", servers, "b", 3) as (log, relay):
        note = await _witnessed(log, 9, 2)
        assert relay.acked == {"w1": 9, "w2": 9}
        open_witnessed(note, [LOG_KEY.verifier()], ORIGIN, _keys(servers), 2)


async def test_a_witness_that_answers_with_a_bad_cosignature_is_not_kept(witnesses: Witnesses,
                                                                         tmp_path: Path) -> None:
    """The relay checks what a witness returns: a key it was not configured with is no cosignature of it."""
    (w1,) = await witnesses(1)
    wrong = WitnessEndpoint("w1", f"http://127.0.0.1:{w1.port}",
                            Cosigner("witness.test/w1", Ed25519PrivateKey.generate()).witness_key())
    log = ExchangeLog(tmp_path / "a.sqlite", b"k" * 32, LOG_KEY, ORIGIN)
    relay = WitnessRelay(log, [wrong], timeout_s=1.0, retry_s=0.05)
    relay.start()
    try:
        await log.append(_Entry("x"))
        await asyncio.sleep(0.3)
        assert await log.witnessed() is None
    finally:
        await relay.close()
        await log.close()
