"""Check 11: the auditor checks a printout's proof of the citizen's presence with only the published card-issuer
key, catches a forged one (a hub that lies about presence), and ``audit watch`` checks every new entry."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from consumers.auditor import TrustInputs, run_watch
from consumers.auditor.verify import verify_printout
from consumers.client import HubClient
from linkage.cards import CitizenCard
from linkage.cli.sandbox import init
from linkage.hub.log import LogEntry
from linkage.seal import Sealer, printout_digest, unverified_payload
from tests.auditor.test_online import hub_inputs, verify_json
from tests.conftest import RunningStack, start_stack
from tests.officers import session

MUNI = "phrae-municipality"


def _persona(personas: list[dict[str, Any]], name: str) -> str:
    return str(next(p["id"] for p in personas if p["name"] == name))


async def _fetch_present(stack: RunningStack, subject: str, path: Path) -> dict[str, Any]:
    """Fetch dopa.card with the citizen's card through the client library; write the bundle; the payload."""
    officer = sorted(stack.settings.agencies[MUNI].officers)[0]
    async with HubClient.connect(stack.hub_address, stack.home.ca.cert, stack.home.client_cert(MUNI)) as hub:
        doc = await hub.fetch_document("dopa.card", subject, purpose="ต่ออายุใบอนุญาต",
                                       officer_session=await session(stack, MUNI, officer), case_ref="PHR-2569-0077",
                                       citizen_card=CitizenCard.load(stack.home.card_file(subject)))
    path.write_text(json.dumps(doc.bundle(), ensure_ascii=False), encoding="utf-8")
    return doc.payload


async def test_a_presence_proof_passes_check_11_with_the_published_key_only(
        stack: RunningStack, personas: list[dict[str, Any]], tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    await _fetch_present(stack, _persona(personas, "ordinary"), path)
    code, report = await verify_json(stack, path, tmp_path / "state.json")
    assert code == 0, report
    eleven = next(c for c in report["checks"] if c["number"] == 11)
    assert eleven["ok"] is True and "signed the hub's challenge and this request" in eleven["detail"]
    # Without the card-issuer key the check is skipped, saying what to pin.
    trust = dataclasses.replace(TrustInputs(home=stack.home.root).load(), card_issuer=None)
    jws = json.loads(path.read_text(encoding="utf-8"))["jws"]
    [skipped] = [c for c in verify_printout(jws, trust).checks if c.number == 11]
    assert skipped.ok is None and "card-issuer" in skipped.detail


@pytest.mark.parametrize("forgery", ["another_persons_card", "signature_of_another_request", "card_expired"])
async def test_a_hub_that_lies_about_presence_fails_check_11(
        stack: RunningStack, personas: list[dict[str, Any]], tmp_path: Path, forgery: str) -> None:
    """The hub's own seal key, in a compromised hub's hands, reseals a printout whose presence is false."""
    payload = await _fetch_present(stack, _persona(personas, "ordinary"), tmp_path / "card.json")
    other = await _fetch_present(stack, _persona(personas, "director"), tmp_path / "other.json")
    presence = dict(payload["presence"])
    if forgery == "another_persons_card":
        presence = dict(other["presence"])
        expected = "another person's"
    elif forgery == "signature_of_another_request":
        payload = {**payload, "purpose": "อย่างอื่น"}
        expected = "not over this challenge and this request"
    else:
        payload = {**payload, "issued_at": "2100-01-01T00:00:00.000000Z"}
        expected = "challenge was"  # and the card expired long before
    sealer = Sealer.from_files(stack.home.seal.cert, stack.home.seal.key, stack.home.ca.cert)
    jws = sealer.seal({**payload, "presence": presence})
    trust = TrustInputs(home=stack.home.root).load()
    report = verify_printout(jws, trust, now=dt.datetime(2101, 1, 1, tzinfo=dt.UTC))
    [eleven] = [c for c in report.checks if c.number == 11]
    assert eleven.ok is False and expected in eleven.detail, eleven
    assert not report.valid


@pytest.fixture
async def own_stack(tmp_path: Path) -> AsyncIterator[RunningStack]:
    """A sandbox of its own: the forged entry below must not reach the session's shared log."""
    running = await start_stack(init(tmp_path / "sandbox", citizens=500, seed=1))  # the session's personas
    try:
        yield running
    finally:
        await running.hub.stop(0)
        for server in running.providers.values():
            await server.stop(0)


async def test_audit_watch_checks_every_new_entry_for_its_presence_proof(own_stack: RunningStack,
                                                                         tmp_path: Path) -> None:
    stack = own_stack
    personas = json.loads(stack.home.personas.read_text(encoding="utf-8"))
    state = tmp_path / "state.json"
    trust = TrustInputs(home=stack.home.root)
    await _fetch_present(stack, _persona(personas, "ordinary"), tmp_path / "card.json")
    out, err = io.StringIO(), io.StringIO()
    assert await asyncio.to_thread(run_watch, trust, hub_inputs(stack), state=state, once=True, out=out,
                                   err=err) == 0, (out.getvalue(), err.getvalue())
    # A hub that logs a presence the card never signed (another request's signature): the next round alarms.
    [(_, raw)] = await stack.hub.hub.log.entries(stack.hub.hub.log.size - 1, stack.hub.hub.log.size)
    leaf = json.loads(raw)
    forged = {**leaf["presence"], "presence_hash": "0" * 64}
    payload = unverified_payload(json.loads((tmp_path / "card.json").read_text(encoding="utf-8"))["jws"])
    await stack.hub.hub.log.append(LogEntry(
        printout_id="00000000-0000-4000-8000-000000000001", doc_type="dopa.card", provider="dopa", agency=MUNI,
        officer_id=payload["officer_id"], purpose="ปลอม", case_ref="", issued_at=leaf["issued_at"],
        subject_hash=leaf["subject_hash"], printout_sha256=printout_digest(base64.b64encode(b"x").decode() + ".e.e"),
        presence=forged))
    out, err = io.StringIO(), io.StringIO()
    assert await asyncio.to_thread(run_watch, trust, hub_inputs(stack), state=state, once=True, out=out,
                                   err=err) != 0
    assert "bad_presence" in err.getvalue() + out.getvalue()
