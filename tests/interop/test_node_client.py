"""A client in another language: Node (@grpc/grpc-js + the repo's .proto files) fetches a printout
with an agency certificate, and jose verifies it with the CA certificate alone.

Needs ``node`` (>= 20) on PATH and the pinned packages: ``cd tests/interop && npm ci``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from linkage import pki
from linkage.ids import with_check_digit
from linkage.officers import OFFICER_KEYS, load_officer_keys, proof_problem
from linkage.seal import Sealer, b64url_encode, canonical_json, unverified_payload
from linkage.v1 import hub_pb2, hub_pb2_grpc
from tests.conftest import RunningStack
from tests.officers import card_args, signed_in

HERE = Path(__file__).parent
SCRIPT = HERE / "fetch_printout.mjs"
PACKAGES = ("@grpc/grpc-js", "@grpc/proto-loader", "jose", "protobufjs")
MUNI = "phrae-municipality"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH: install Node.js >= 20, then run `cd tests/interop && npm ci`")
    missing = [p for p in PACKAGES if not (HERE / "node_modules" / p / "package.json").is_file()]
    if missing:
        pytest.skip(f"Node packages not installed ({', '.join(missing)}): run `cd tests/interop && npm ci`")
    return node


@pytest.fixture(autouse=True)
def _needs_node() -> None:
    """Skip before the stack starts when Node or its packages are missing."""
    _node()


def _subject(personas: list[dict[str, Any]]) -> str:
    return next(str(p["id"]) for p in personas if p["kind"] == "citizen" and "dopa.person" in p["doc_types"])


async def _run_node(stack: RunningStack, subject_id: str, *extra: str) -> tuple[int, str, str]:
    """Run the Node client as the municipality, its first officer signing in with the sandbox's card file."""
    own = stack.home.client_cert(MUNI)
    return await _node_script(
        "--hub", stack.hub_address, "--ca", str(stack.home.ca.cert),
        "--cert", str(own.cert), "--key", str(own.key), *card_args(stack.home, MUNI),
        "--subject", subject_id, "--doc-type", "dopa.person", "--purpose", "ขึ้นทะเบียนผู้สูงอายุ (Node)",
        *extra)


async def _node_script(*args: str) -> tuple[int, str, str]:
    """Run fetch_printout.mjs without blocking the event loop the hub and registries serve from."""
    proc = await asyncio.create_subprocess_exec(
        _node(), str(SCRIPT), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=HERE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_node_fetches_and_jose_verifies(stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    citizen = _subject(personas)
    before = stack.hub.hub.log.size
    code, out, err = await _run_node(stack, citizen)
    assert code == 0, f"node exited {code}: {err}"
    lines = out.splitlines()
    assert len(lines) == 1, out
    answer = json.loads(lines[0])
    assert answer["verified"] is True and answer["officer_session"]  # signed in with the card, in Node
    assert answer["subject_id"] == citizen
    assert isinstance(answer["log_index"], int) and answer["log_index"] >= 0
    assert answer["log_index"] == before
    assert stack.hub.hub.log.size == before + 1
    [(_, raw)] = await stack.hub.hub.log.entries(answer["log_index"], answer["log_index"] + 1)
    leaf = json.loads(raw)
    assert leaf["printout_id"] == answer["printout_id"]
    # The Node client's sign-in is in the log, and holds with the published officer key set (check 10).
    assert proof_problem(leaf, answer["officer_session"], load_officer_keys(stack.home.pki / OFFICER_KEYS)) is None


async def test_node_sees_invalid_argument_with_error_info(stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    citizen = _subject(personas)
    right = with_check_digit(citizen[:12])[-1]
    bad = citizen[:12] + str((int(right) + 1) % 10)
    before = stack.hub.hub.log.size
    code, out, err = await _run_node(stack, bad, "--mode", "refused")
    assert code == 0, f"node exited {code}: {err}"
    answer = json.loads(out)
    assert answer["code"] == 3 and answer["code_name"] == "INVALID_ARGUMENT"
    assert f"check digit should be {right}" in answer["details"]
    assert answer["reason"] == "check_digit_mismatch" and answer["domain"] == "linkage.go.th"
    assert answer["metadata"]["side"] == "caller"
    assert stack.hub.hub.log.size == before


def _sealed_by(key_path: Path, chain: list[Path], payload: dict[str, Any]) -> str:
    certs = [x509.load_pem_x509_certificate(p.read_bytes()) for p in chain]
    return Sealer(pki.load_private_key(key_path), certs).seal(payload)


async def test_jose_refuses_forgeries(stack: RunningStack, personas: list[dict[str, Any]], tmp_path: Path) -> None:
    home = stack.home
    req = await signed_in(stack, MUNI, hub_pb2.FetchDocumentRequest(doc_type="dopa.person",
                                                                    subject_id=_subject(personas),
                                                                    purpose="ขึ้นทะเบียนผู้สูงอายุ"))
    async with stack.channel(MUNI) as channel:
        genuine: str = (await hub_pb2_grpc.LinkageHubStub(channel).FetchDocument(req, timeout=10)).jws
    payload = unverified_payload(genuine)
    header_b64, _, signature_b64 = genuine.split(".")
    other = dict(payload, subject_id=with_check_digit("310060098765"))
    rogue_ca = pki.create_ca(tmp_path / "rogue")
    rogue_seal = pki.issue(rogue_ca, "hub-seal", pki.Role.SEAL, tmp_path / "rogue")
    agency = home.client_cert(MUNI)  # a real linkage certificate, but a TLS one: it may not seal
    cases = {
        "genuine": (genuine, None),
        "payload changed": (f"{header_b64}.{b64url_encode(canonical_json(other))}.{signature_b64}", "signature"),
        "another CA": (_sealed_by(rogue_seal.key, [rogue_seal.cert, rogue_ca.cert], payload), "x5c ends with"),
        "agency TLS key": (_sealed_by(agency.key, [agency.cert, home.ca.cert], payload), "TLS certificate"),
    }
    files = {}
    for name, (jws, _) in cases.items():
        files[name] = tmp_path / f"{name.replace(' ', '-')}.jws"
        files[name].write_text(jws, encoding="ascii")
    results = await asyncio.gather(*(_node_script("--mode", "verify", "--ca", str(home.ca.cert),
                                                  "--jws-file", str(files[name])) for name in cases))
    for (name, (_, expected)), (code, out, err) in zip(cases.items(), results, strict=True):
        if expected is None:
            assert code == 0, f"{name}: node exited {code}: {err}"
            assert json.loads(out) == {"printout_id": payload["printout_id"], "subject_id": payload["subject_id"],
                                       "verified": True}
        else:
            assert code == 1 and not out, f"{name}: accepted: {out}"
            assert expected in err, f"{name}: {err}"
