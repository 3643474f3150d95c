"""The hub with the sandbox's two witnesses, all on port 0 in the test's loop: the hub serves its checkpoints with
their cosignatures, and `linkage verify` and `audit watch` ask for the quorum (check 8), online and offline."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import consumers.auditor.witnesses
from consumers.auditor import TrustInputs, run_verify, run_watch
from linkage.cli.main import _parser
from linkage.cli.printouts import _auditor_inputs
from linkage.cli.sandbox import WITNESSES
from linkage.config import Home
from linkage.cosignature import open_witnessed, parse_witness_key
from linkage.keyset import log_key_set
from linkage.v1 import audit_pb2, audit_pb2_grpc
from linkage.witness import KnownLog, Witness, WitnessState, create_app
from linkage.witness.server import FollowedLogKeys, load_cosigner
from tests.auditor.test_online import hub_inputs, write_bundle
from tests.conftest import RunningStack, start_stack
from tests.hub.test_fetch import MUNI, fetch, request, subject


@dataclass
class Witnessed:
    stack: RunningStack
    runners: dict[str, web.AppRunner]

    @property
    def home(self) -> Home:
        return self.stack.home

    def vkeys(self) -> tuple[str, ...]:
        return tuple(str(self.home.witness_vkey(name)) for name in WITNESSES)

    async def stop_witness(self, name: str) -> None:
        await self.runners.pop(name).cleanup()


@pytest.fixture
async def witnessed(sandbox_home: Home, tmp_path: Path) -> AsyncIterator[Witnessed]:
    """The sandbox's witnesses (their own keys, fresh state files here), then the registries and the hub."""
    runners: dict[str, web.AppRunner] = {}
    ports = {}
    for name in WITNESSES:
        witness = Witness(load_cosigner(sandbox_home, name), WitnessState.load(tmp_path / f"{name}.json"),
                          [KnownLog(_origin(sandbox_home), FollowedLogKeys(sandbox_home))])
        runners[name] = web.AppRunner(create_app(witness), access_log=None)
        await runners[name].setup()
        await web.TCPSite(runners[name], "127.0.0.1", 0).start()
        ports[name] = int(runners[name].addresses[0][1])
    stack = await start_stack(sandbox_home, witnesses=ports)
    try:
        yield Witnessed(stack, runners)
    finally:
        await stack.hub.stop(0)
        for server in stack.providers.values():
            await server.stop(0)
        for runner in runners.values():
            await runner.cleanup()


def _origin(home: Home) -> str:
    from linkage.config import load_settings

    return load_settings(home).hub.log_origin


async def _cosigned_note(w: Witnessed, size: int, cosigners: int) -> str:
    async with w.stack.channel("auditor") as channel:
        stub = audit_pb2_grpc.AuditLogStub(channel)
        for _ in range(500):
            answer = await stub.GetCheckpoint(audit_pb2.GetCheckpointRequest(witnessed=True))
            if answer.size >= size and answer.note.count("\n— ") == 1 + cosigners:
                return str(answer.note)
            await asyncio.sleep(0.02)
    raise AssertionError(f"no checkpoint of size {size} or more with {cosigners} cosignatures")


async def _verify(w: Witnessed, path: Path, *extra: str, offline: bool = False) -> tuple[int, dict[str, Any]]:
    args = _parser().parse_args(["verify", str(path), "--home", str(w.home.root), *extra])
    trust, _ = _auditor_inputs(args)
    out = io.StringIO()
    code = await asyncio.to_thread(run_verify, path, trust, hub=None if offline else hub_inputs(w.stack),
                                   state=None, as_json=True, out=out, err=io.StringIO())
    return code, json.loads(out.getvalue())


def _check(report: dict[str, Any], number: int) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in report["checks"] if c["number"] == number)
    return found


async def _printout(w: Witnessed, personas: list[dict[str, Any]], path: Path) -> Any:
    doc = await fetch(w.stack, MUNI, request(w.stack, MUNI, "dopa.person", subject(personas, "dopa.person")))
    write_bundle(doc, path)
    return doc


async def test_the_hub_serves_its_checkpoints_with_both_cosignatures(witnessed: Witnessed,
                                                                     personas: list[dict[str, Any]],
                                                                     tmp_path: Path) -> None:
    doc = await _printout(witnessed, personas, tmp_path / "p.json")
    note = await _cosigned_note(witnessed, doc.checkpoint.size, 2)
    keys = [parse_witness_key(Path(v).read_text()) for v in witnessed.vkeys()]
    found = open_witnessed(note, log_key_set(witnessed.home), _origin(witnessed.home), keys, 2)
    assert found.checkpoint.size >= doc.checkpoint.size
    assert {c.witness.name.rsplit("/", 1)[1] for c in found.cosignatures} == set(WITNESSES)


async def test_verify_and_watch_ask_for_the_quorum(witnessed: Witnessed, personas: list[dict[str, Any]],
                                                   tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    await _printout(witnessed, personas, path)
    flags = [arg for v in witnessed.vkeys() for arg in ("--witness", v)]
    code, report = await _verify(witnessed, path, *flags)
    assert code == 0 and report["failed"] == [], report
    assert _check(report, 8)["ok"] is True and "2 known witnesses" in _check(report, 8)["detail"]
    trust = TrustInputs(home=witnessed.home.root, witnesses=witnessed.vkeys())
    out = io.StringIO()
    code = await asyncio.to_thread(run_watch, trust, hub_inputs(witnessed.stack), state=tmp_path / "s.json",
                                   once=True, out=out, err=io.StringIO())
    assert code == 0 and "cosigned by" in out.getvalue() and "witness2" in out.getvalue()


async def test_with_a_witness_down_the_hub_issues_but_two_of_two_is_not_met(
        witnessed: Witnessed, personas: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumers.auditor.witnesses, "WAIT_S", 1.0)
    await witnessed.stop_witness("witness2")
    path = tmp_path / "p.json"
    doc = await _printout(witnessed, personas, path)  # printouts go on
    await _cosigned_note(witnessed, doc.checkpoint.size, 1)
    flags = [arg for v in witnessed.vkeys() for arg in ("--witness", v)]
    code, report = await _verify(witnessed, path, *flags)
    assert code == 1 and report["failed"] == [8]
    assert "1 of the 2 known witnesses" in _check(report, 8)["detail"]
    assert "witness2" in _check(report, 8)["detail"]
    # A quorum of 1 passes, and says what it gives up.
    code, report = await _verify(witnessed, path, *flags, "--witness-quorum", "1")
    assert code == 0 and "does not stop a split view" in _check(report, 8)["detail"]
    # The watch does not accept it, and says why.
    trust = TrustInputs(home=witnessed.home.root, witnesses=witnessed.vkeys())
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(run_watch, trust, hub_inputs(witnessed.stack), state=tmp_path / "s.json",
                                   once=True, out=out, err=err)
    assert code == 1 and "ALARM unwitnessed" in out.getvalue()


async def test_offline_the_bundles_own_cosignatures_count_and_a_bad_one_is_rejected(
        witnessed: Witnessed, personas: list[dict[str, Any]], tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    doc = await _printout(witnessed, personas, path)
    flags = [arg for v in witnessed.vkeys() for arg in ("--witness", v)]
    # As issued, the bundle's checkpoint is not cosigned yet: offline, check 8 is skipped and says so.
    code, report = await _verify(witnessed, path, *flags, offline=True)
    assert code == 0 and 8 in report["skipped"] and "offline" in _check(report, 8)["detail"]
    # The same printout proved against a cosigned checkpoint: offline, check 8 passes.
    note = await _cosigned_note(witnessed, doc.checkpoint.size, 2)
    async with witnessed.stack.channel("auditor") as channel:
        stub = audit_pb2_grpc.AuditLogStub(channel)
        size = int(note.split("\n")[1])
        proof = await stub.GetInclusionProof(audit_pb2.GetInclusionProofRequest(index=doc.log_index, tree_size=size))
    bundle = json.loads(path.read_text())
    bundle["checkpoint"] = note
    bundle["inclusion_proof"] = {"leaf_index": doc.log_index, "tree_size": size,
                                 "hashes": [base64.b64encode(h).decode() for h in proof.hashes]}
    path.write_text(json.dumps(bundle))
    code, report = await _verify(witnessed, path, *flags, offline=True)
    assert code == 0 and _check(report, 8)["ok"] is True, report
    # One bit of witness1's cosignature flipped: the note is rejected, and the printout with it.
    head, _, rest = note.partition("\n\n")
    lines = rest.splitlines(keepends=True)
    i = next(n for n, line in enumerate(lines) if "/witness1 " in line)
    name, _, blob = lines[i].rstrip("\n").rpartition(" ")
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1
    lines[i] = f"{name} {base64.b64encode(bytes(raw)).decode()}\n"
    bundle["checkpoint"] = head + "\n\n" + "".join(lines)
    path.write_text(json.dumps(bundle))
    code, report = await _verify(witnessed, path, *flags, offline=True)
    assert code == 1 and report["failed"] == [8] and "does not verify" in _check(report, 8)["detail"]


def test_the_flags_and_variables_reach_the_trust_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = _parser().parse_args(["verify", "x.json", "--home", str(tmp_path), "--witness", "a", "--witness", "b",
                                 "--witness-quorum", "2"])
    trust, _ = _auditor_inputs(args)
    assert trust.witnesses == ("a", "b") and trust.witness_quorum == 2
    monkeypatch.setenv("LINKAGE_WITNESS_KEYS", "c, d")
    monkeypatch.setenv("LINKAGE_WITNESS_QUORUM", "1")
    args = _parser().parse_args(["audit", "watch", "--home", str(tmp_path)])
    trust, _ = _auditor_inputs(args)
    assert trust.witnesses == ("c", "d") and trust.witness_quorum == 1
