"""The witness server on port 0, spoken to over HTTP as the spec has it: what it cosigns, what it refuses and with
which status, and that it remembers across a restart what it cosigned."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkage import merkle
from linkage.checkpoint import Checkpoint, KeyWindow, NoteSigner, sign_checkpoint
from linkage.cosignature import Cosigner, open_witnessed
from linkage.witness import BadWitnessState, KnownLog, Witness, WitnessState, create_app
from linkage.witness_protocol import SIZE_CONTENT_TYPE, checkpoint_path, encode_request

ORIGIN = "log.test/witnessed"


@dataclass
class Log:
    """A log made of real pieces: leaves in a list, RFC 9162 proofs, signed checkpoints."""

    signer: NoteSigner = field(default_factory=lambda: NoteSigner(ORIGIN, Ed25519PrivateKey.generate()))
    leaves: list[bytes] = field(default_factory=list)

    def grow(self, n: int, tag: str = "") -> Log:
        self.leaves += [f"{tag}entry {len(self.leaves) + i}".encode() for i in range(n)]
        return self

    def fork(self, at: int) -> Log:
        """Another history under the same key: the first ``at`` entries, then different ones."""
        return Log(self.signer, list(self.leaves[:at])).grow(len(self.leaves) - at, tag="forked ")

    def note(self, size: int | None = None, signer: NoteSigner | None = None) -> str:
        size = len(self.leaves) if size is None else size
        cp = Checkpoint(ORIGIN, size, merkle.root([merkle.leaf_hash(x) for x in self.leaves[:size]]))
        return sign_checkpoint(cp, signer or self.signer)

    def proof(self, old: int, new: int | None = None) -> list[bytes]:
        new = len(self.leaves) if new is None else new
        if old in (0, new):
            return []
        return merkle.consistency_proof([merkle.leaf_hash(x) for x in self.leaves], old, new)

    def body(self, old: int, new: int | None = None) -> bytes:
        return encode_request(old, self.proof(old, new), self.note(new))


@dataclass
class Running:
    url: str
    witness: Witness
    session: aiohttp.ClientSession

    async def post(self, body: bytes) -> tuple[int, str, str]:
        async with self.session.post(self.url + "/add-checkpoint", data=body) as response:
            return response.status, await response.text(), response.content_type


Start = Callable[[Witness], Awaitable[Running]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    runners: list[web.AppRunner] = []
    session = aiohttp.ClientSession()

    async def run(witness: Witness) -> Running:
        runner = web.AppRunner(create_app(witness), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return Running(f"http://127.0.0.1:{runner.addresses[0][1]}", witness, session)

    yield run
    await session.close()
    for runner in runners:
        await runner.cleanup()


def _witness(tmp_path: Path, log: Log, key: Ed25519PrivateKey | None = None) -> Witness:
    cosigner = Cosigner("witness.test/w1", key or Ed25519PrivateKey.generate())
    return Witness(cosigner, WitnessState.load(tmp_path / "witness.json"),
                   [KnownLog(ORIGIN, lambda: [log.signer.verifier()])])


async def test_it_cosigns_a_growing_log_and_its_cosignatures_verify(start: Start, tmp_path: Path) -> None:
    log = Log().grow(5)
    w = await start(_witness(tmp_path, log))
    status, line, _ = await w.post(log.body(0))
    assert status == 200 and line.startswith("— witness.test/w1 ") and line.endswith("\n")
    log.grow(7)
    status, line, _ = await w.post(log.body(5))
    assert status == 200
    found = open_witnessed(log.note() + line, [log.signer.verifier()], ORIGIN, [w.witness.key], 1)
    assert found.checkpoint.size == 12
    assert abs(found.cosignatures[0].timestamp - dt.datetime.now(dt.UTC).timestamp()) < 60
    # The same checkpoint again (the hub after a restart): cosigned again.
    assert (await w.post(log.body(12)))[0] == 200
    saved = json.loads((tmp_path / "witness.json").read_text())
    assert saved["logs"][ORIGIN]["size"] == 12


async def test_a_fork_is_refused_at_the_same_size_and_beyond(start: Start, tmp_path: Path) -> None:
    log = Log().grow(8)
    w = await start(_witness(tmp_path, log))
    assert (await w.post(log.body(0)))[0] == 200
    fork = log.fork(4)
    status, text, _ = await w.post(fork.body(8))  # same size, another root
    assert status == 422 and "bad_proof" in text and "a fork" in text
    fork.grow(3)
    # A proof from the fork's own history does not lead from the root the witness cosigned.
    status, text, _ = await w.post(encode_request(8, fork.proof(8), fork.note()))
    assert status == 422 and "not proved one history" in text
    # Nor does the honest log's proof with the fork's checkpoint.
    log.grow(3)
    status, _, _ = await w.post(encode_request(8, log.proof(8), fork.note()))
    assert status == 422
    assert (await w.post(log.body(8)))[0] == 200


async def test_a_stale_old_size_is_409_with_the_witness_size(start: Start, tmp_path: Path) -> None:
    log = Log().grow(6)
    w = await start(_witness(tmp_path, log))
    assert (await w.post(log.body(0, 4)))[0] == 200
    status, text, kind = await w.post(log.body(0))
    assert (status, text, kind) == (409, "4\n", SIZE_CONTENT_TYPE)
    # A rollback: the smaller tree is refused the same way, whatever proof comes with it.
    status, text, _ = await w.post(log.body(0, 3))
    assert (status, text) == (409, "4\n")
    status, text, _ = await w.post(encode_request(4, [], log.note(3)))
    assert status == 400 and "larger than the checkpoint's size" in text


@pytest.mark.parametrize(("body", "why"), [
    (b"", "no blank line"),
    (b"old 01\n\nx\n\n", "old <size>"),
    (b"old 1\nnot-base64\n\nx\n\n", "base64"),
    (b"new 1\n\nx\n\n", "old <size>"),
    (b"old 0\n\nno signatures\n", "not an add-checkpoint request"),
    (("old 0\n" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n" * 64 + "\nx\n\n").encode(), "more than 63"),
])
async def test_malformed_requests_are_400(start: Start, tmp_path: Path, body: bytes, why: str) -> None:
    w = await start(_witness(tmp_path, Log()))
    status, text, _ = await w.post(body)
    assert status == 400 and why in text


async def test_unknown_logs_and_untrusted_signatures(start: Start, tmp_path: Path) -> None:
    log = Log().grow(3)
    w = await start(_witness(tmp_path, log))
    other = NoteSigner("log.test/other", Ed25519PrivateKey.generate())
    cp = Checkpoint("log.test/other", 0, merkle.EMPTY_ROOT)
    status, text, _ = await w.post(encode_request(0, [], sign_checkpoint(cp, other)))
    assert status == 404 and "unknown_log" in text
    impostor = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())  # the same origin, another key
    status, text, _ = await w.post(encode_request(0, [], log.note(signer=impostor)))
    assert status == 403 and "no_valid_signature" in text
    head, _, sig = log.note().rpartition(" ")
    tampered = head + " " + sig[:20] + ("A" if sig[20] != "A" else "B") + sig[21:]  # the key ID kept
    status, text, _ = await w.post(encode_request(0, [], tampered))
    assert status == 403 and "invalid_signature" in text
    assert WitnessState.load(tmp_path / "witness.json").get(ORIGIN) is None


async def test_bad_proofs_are_422(start: Start, tmp_path: Path) -> None:
    log = Log().grow(4)
    w = await start(_witness(tmp_path, log))
    # From size 0 no proof is needed, and none may be sent.
    status, text, _ = await w.post(encode_request(0, [b"\x00" * 32], log.note()))
    assert status == 422 and "no proof is needed" in text
    # A size-0 checkpoint must have the empty tree's root.
    bad_empty = sign_checkpoint(Checkpoint(ORIGIN, 0, b"\x01" * 32), log.signer)
    assert (await w.post(encode_request(0, [], bad_empty)))[0] == 422
    assert (await w.post(encode_request(0, [], log.note(0))))[0] == 200
    assert (await w.post(log.body(0)))[0] == 200
    log.grow(4)
    status, _, _ = await w.post(encode_request(4, [b"\x00" * 32] * len(log.proof(4)), log.note()))
    assert status == 422
    status, _, _ = await w.post(encode_request(4, log.proof(4)[:-1], log.note()))
    assert status == 422


async def test_it_remembers_across_a_restart_and_refuses_a_rollback(start: Start, tmp_path: Path) -> None:
    log = Log().grow(10)
    key = Ed25519PrivateKey.generate()
    first = await start(_witness(tmp_path, log, key))
    assert (await first.post(log.body(0)))[0] == 200
    # A new process over the same state file: it knows size 10 and its root.
    again = await start(_witness(tmp_path, log, key))
    assert again.witness.state.get(ORIGIN) == first.witness.state.get(ORIGIN)
    assert (await again.post(log.body(0, 6)))[:2] == (409, "10\n")
    assert (await again.post(log.fork(5).body(10)))[0] == 422
    log.grow(1)
    assert (await again.post(log.body(10)))[0] == 200


async def test_it_serves_the_newest_checkpoint_it_cosigned(start: Start, tmp_path: Path) -> None:
    log = Log().grow(3)
    w = await start(_witness(tmp_path, log))
    path = checkpoint_path(ORIGIN)
    assert path == f"/{hashlib.sha256(ORIGIN.encode()).hexdigest()}/checkpoint"
    async with w.session.get(w.url + path) as response:
        assert response.status == 404
    _, line, _ = await w.post(log.body(0))
    async with w.session.get(w.url + path) as response:
        assert response.status == 200 and await response.text() == log.note() + line


async def test_a_retired_log_key_is_untrusted_and_a_rotation_is_followed(start: Start, tmp_path: Path) -> None:
    log = Log().grow(2)
    new = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    cutover = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    keys = [KeyWindow(log.signer.verifier())]

    witness = Witness(Cosigner("witness.test/w1", Ed25519PrivateKey.generate()),
                      WitnessState.load(tmp_path / "w.json"), [KnownLog(ORIGIN, lambda: keys)])
    w = await start(witness)
    assert (await w.post(encode_request(0, [], log.note(signer=new))))[0] == 403
    keys[:] = [KeyWindow(log.signer.verifier(), retired_at=cutover), KeyWindow(new.verifier(), not_before=cutover)]
    assert (await w.post(encode_request(0, [], log.note(signer=new))))[0] == 200


async def test_a_state_file_that_cannot_be_written_cosigns_nothing(start: Start, tmp_path: Path) -> None:
    log = Log().grow(2)
    witness = Witness(Cosigner("witness.test/w1", Ed25519PrivateKey.generate()), WitnessState.load(tmp_path / "w"),
                      [KnownLog(ORIGIN, lambda: [log.signer.verifier()])])
    w = await start(witness)
    (tmp_path / "w").mkdir()  # a folder where the file should be: nothing can be renamed over it
    status, text, _ = await w.post(log.body(0))
    assert status == 503 and "nothing was cosigned" in text and witness.state.get(ORIGIN) is None


def test_a_state_file_that_is_not_a_witnesss_stops_it(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text('{"version": 1, "logs": {"x": {"size": -1}}}')
    with pytest.raises(BadWitnessState, match="will not start"):
        WitnessState.load(path)
