"""The payment switch's bulk credit transfers (linkage/disbursements.py, providers/payswitch/batches.py): a batch is
credited only when it is the named agency's, balances, and has not been settled under its number with other lines;
the same batch again gets the same settlement."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from cryptography import x509

from linkage.config import Home
from linkage.disbursements import (
    BATCH_SIGNATURE_HEADER,
    Batch,
    BatchError,
    BatchLine,
    batch_body,
    batch_sha256,
    parse_batch,
    read_settlement,
    sign_batch,
)
from linkage.payments import SIGNATURE_HEADER, switch_public_key
from linkage.pki import HUB_CLIENT, load_private_key
from providers.payswitch.server import create_app

MUNI = "phrae-municipality"
LINES = (BatchLine(1, "3540163143901", Decimal("800.00"), "PHR-APP-2569-00001"),
         BatchLine(2, "3540139687114", Decimal("700.00"), "PHR-APP-2569-00002"))


@pytest.fixture
async def switch(sandbox_home: Home) -> AsyncIterator[str]:
    server = TestServer(create_app(sandbox_home, "http://127.0.0.1:9/payments/callback"))
    await server.start_server()
    try:
        yield str(server.make_url("/disbursements"))
    finally:
        await server.close()


def _batch(number: str, lines: tuple[BatchLine, ...] = LINES, agency: str = MUNI) -> Batch:
    return Batch(number, agency, "2569-12", "2026-12-04T09:00:00Z", lines)


def _signed(home: Home, body: bytes, agency: str = MUNI) -> str:
    own = home.client_cert(agency)
    chain = [x509.load_pem_x509_certificate(own.cert.read_bytes()),
             x509.load_pem_x509_certificate(home.ca.cert.read_bytes())]
    return sign_batch(body, load_private_key(own.key), chain)


async def _post(url: str, body: bytes, signature: str) -> tuple[int, bytes, str]:
    async with aiohttp.ClientSession() as http, http.post(url, data=body,
                                                          headers={BATCH_SIGNATURE_HEADER: signature}) as resp:
        return resp.status, await resp.read(), resp.headers.get(SIGNATURE_HEADER, "")


async def test_a_signed_balanced_batch_is_settled_once(sandbox_home: Home, switch: str) -> None:
    number = "PHR-PAY-2569-12-01-TST1"
    body = batch_body(_batch(number))
    status, answer, signature = await _post(switch, body, _signed(sandbox_home, body))
    assert status == 200, answer
    settled = read_settlement(answer, signature, switch_public_key(sandbox_home))
    assert (settled.batch_no, settled.agency, settled.count, settled.total) == (number, MUNI, 2, "1500.00")
    assert settled.batch_sha256 == batch_sha256(body)
    again = await _post(switch, body, _signed(sandbox_home, body))
    assert again[0] == 200 and again[1] == answer  # the same settlement: credited once
    other = batch_body(_batch(number, LINES[:1]))  # another batch under a number already settled
    status, answer, _ = await _post(switch, other, _signed(sandbox_home, other))
    assert status == 409 and json.loads(answer)["error"] == "batch_no_reused"


@pytest.mark.parametrize(("change", "status", "code"), [
    ("tampered", 403, "forged"),
    ("unsigned", 403, "forged"),
    ("other_agency", 403, "forged"),
    ("not_an_agency", 403, "unknown_agency"),
    ("unbalanced", 400, "unbalanced"),
    ("twice", 400, "malformed"),
])
async def test_a_batch_the_switch_must_refuse_credits_nothing(sandbox_home: Home, switch: str, change: str,
                                                             status: int, code: str) -> None:
    number = f"PHR-PAY-2569-12-01-{change.upper()[:4]}"
    body = batch_body(_batch(number))
    signature = _signed(sandbox_home, body)
    if change == "tampered":  # a line's amount raised after signing
        body = body.replace(b'"800.00"', b'"900.00"').replace(b'"1500.00"', b'"1600.00"')
    elif change == "unsigned":
        signature = ""
    elif change == "other_agency":  # signed by the hospital, in the municipality's name
        signature = _signed(sandbox_home, body, "phrae-hospital")
    elif change == "not_an_agency":  # the hub's own client certificate: from the CA, not an agency
        body = batch_body(_batch(number, agency=HUB_CLIENT))
        signature = _signed(sandbox_home, body, HUB_CLIENT)
    elif change == "unbalanced":
        body = body.replace(b'"total":"1500.00"', b'"total":"1400.00"')
        signature = _signed(sandbox_home, body)
    elif change == "twice":
        body = batch_body(_batch(number, (LINES[0], BatchLine(2, LINES[0].proxy, Decimal("800.00"), LINES[0].ref))))
        signature = _signed(sandbox_home, body)
    answer_status, answer, _ = await _post(switch, body, signature)
    assert answer_status == status and json.loads(answer)["error"] == code, answer
    assert json.loads(answer)["message"]
    assert not (sandbox_home.data / "payswitch" / f"{MUNI}--{number}.json").exists()


@pytest.mark.parametrize(("body", "says"), [
    (b"not json", "not JSON"),
    (b"{}", "exactly the keys"),
    (batch_body(_batch("B", (BatchLine(1, "3540163143902", Decimal("800.00"), "R"),))), "not a personal ID"),
    (batch_body(_batch("B", (BatchLine(1, "3540163143901", Decimal("0.00"), "R"),))), "above zero"),
    (batch_body(_batch("B", ())), "at least one line"),
])
def test_a_malformed_batch_says_what_is_wrong(body: bytes, says: str) -> None:
    with pytest.raises(BatchError) as err:
        parse_batch(body)
    assert err.value.code == "malformed" and says in err.value.message
