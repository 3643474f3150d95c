"""The auditor's commands against the real hub: fetch, watch, verify online, revoke, verify again, accesses."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from pathlib import Path
from typing import Any

from consumers.auditor import HubInputs, TrustInputs, run_accesses, run_revoke, run_verify, run_watch
from linkage.v1 import hub_pb2
from tests.conftest import RunningStack
from tests.hub.test_fetch import MUNI, fetch, officer, request, subject
from tests.officers import card


def write_bundle(doc: hub_pb2.FetchDocumentResponse, path: Path) -> Path:
    """What ``linkage fetch --out`` writes."""
    path.write_text(json.dumps({
        "printout_id": doc.printout_id, "doc_type": doc.doc_type, "log_index": doc.log_index,
        "issued_at": doc.issued_at, "jws": doc.jws, "log_leaf": doc.log_leaf.decode("utf-8"),
        "inclusion_proof": {"leaf_index": doc.inclusion_proof.leaf_index, "tree_size": doc.inclusion_proof.tree_size,
                            "hashes": [base64.b64encode(h).decode() for h in doc.inclusion_proof.hashes]},
        "checkpoint": doc.checkpoint.note,
    }, ensure_ascii=False), encoding="utf-8")
    return path


def hub_inputs(stack: RunningStack, agency: str = "auditor") -> HubInputs:
    own = stack.home.client_cert(agency)
    return HubInputs(hub=stack.hub_address, cert=own.cert, key=own.key, agency=agency)


async def verify_json(stack: RunningStack, path: Path, state: Path) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    # The hub runs in this event loop: the blocking client runs beside it.
    code = await asyncio.to_thread(run_verify, path, TrustInputs(home=stack.home.root), hub=hub_inputs(stack),
                                   state=state, as_json=True, out=out, err=io.StringIO())
    return code, json.loads(out.getvalue())


async def test_fetch_verify_online_revoke(stack: RunningStack, personas: list[dict[str, Any]],
                                          tmp_path: Path) -> None:
    citizen = subject(personas, "dopa.person")
    doc = await fetch(stack, MUNI, request(stack, MUNI, "dopa.person", citizen))
    path = write_bundle(doc, tmp_path / "printout.json")
    await fetch(stack, MUNI, request(stack, MUNI, "dopa.house", subject(personas, "dopa.house")))
    state = tmp_path / "state.json"
    trust = TrustInputs(home=stack.home.root)
    out = io.StringIO()
    # The monitor remembers the newest checkpoint, newer than the printout's.
    assert await asyncio.to_thread(run_watch, trust, hub_inputs(stack), state=state, once=True, out=out) == 0, out

    code, report = await verify_json(stack, path, state)
    assert code == 0, report
    assert report["failed"] == [] and report["skipped"] == [3, 8]  # 3: a bundle is not a PDF; 8: no witnesses
    details = {c["number"]: c["detail"] for c in report["checks"]}
    assert "proof" in details[6] and "not revoked" in details[7]

    out = io.StringIO()
    assert await asyncio.to_thread(run_revoke, trust, hub_inputs(stack, MUNI), doc.printout_id,
                                   reason="ส่งผิดคน / sent to the wrong person",
                                   card=card(stack.home, MUNI, officer(stack, MUNI)), out=out) == 0
    assert f"revoked: printout {doc.printout_id}" in out.getvalue()

    code, report = await verify_json(stack, path, state)
    assert code == 1 and report["failed"] == [7]
    assert "ส่งผิดคน" in next(c["detail"] for c in report["checks"] if c["number"] == 7)

    out = io.StringIO()
    assert await asyncio.to_thread(run_accesses, trust, hub_inputs(stack), citizen, out=out) == 0
    table = out.getvalue()
    assert "เวลา / time" in table and MUNI in table and "dopa.person" in table and "ใช่ / yes" in table


async def test_accesses_refused_to_other_agencies(stack: RunningStack) -> None:
    err = io.StringIO()
    code = await asyncio.to_thread(run_accesses, TrustInputs(home=stack.home.root), hub_inputs(stack, MUNI),
                                   "1101700230708", err=err)
    assert code == 1 and "refused" in err.getvalue()
