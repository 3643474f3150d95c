"""The time-stamping authority over real HTTP (aiohttp on port 0): RFC 3161 requests granted with a token pyHanko
validates against the linkage CA, bad requests answered in RFC 3161's own words, and the CA's CRL served."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from asn1crypto import algos, core, tsp
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.keys import load_certs_from_pemder_data
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko_certvalidator import ValidationContext

from linkage import pki
from linkage.config import Home
from linkage.crl import crl_path, load_crl, publish_crl, stale
from linkage.tsa import POLICY, QUERY_TYPE, REPLY_TYPE, create_app, ensure_pki, serve, tsa_from_home, tsa_paths


@pytest.fixture
def home(tmp_path: Path) -> Home:
    home = Home(tmp_path)
    pki.create_ca(home.pki)
    return home


@pytest.fixture
async def url(home: Home) -> AsyncIterator[str]:
    from aiohttp import web

    authority, crl = tsa_from_home(home)
    runner = web.AppRunner(create_app(authority, crl))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()


def _request(digest: bytes, algorithm: str = "sha256", nonce: int = 0x5EED) -> bytes:
    req = tsp.TimeStampReq({"version": "v1", "message_imprint": tsp.MessageImprint({
        "hash_algorithm": algos.DigestAlgorithm({"algorithm": algorithm}), "hashed_message": digest}),
        "nonce": nonce, "cert_req": True})
    data: bytes = req.dump()
    return data


async def _post(url: str, body: bytes, content_type: str = QUERY_TYPE) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession() as http, http.post(url, data=body,
                                                          headers={"Content-Type": content_type}) as resp:
        return resp.status, resp.content_type, await resp.read()


def test_the_tsa_certificate_is_for_time_stamping_only_and_critical(home: Home) -> None:
    cert = x509.load_pem_x509_certificate(ensure_pki(home).cert.read_bytes())
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert usage.critical and list(usage.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    ca = x509.load_pem_x509_certificate(home.ca.cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    assert tsa_paths(home).key.stat().st_mode & 0o077 == 0  # the key is the TSA's alone


async def test_a_request_is_granted_with_a_token_pyhanko_validates(home: Home, url: str) -> None:
    digest = hashlib.sha256(b"a certified copy's signature").digest()
    status, kind, body = await _post(url, _request(digest))
    assert (status, kind) == (200, REPLY_TYPE)
    resp = tsp.TimeStampResp.load(body)
    assert resp["status"]["status"].native == "granted"
    signed = resp["time_stamp_token"]["content"]
    info = signed["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native == digest
    assert info["nonce"].native == 0x5EED and info["policy"].dotted == POLICY
    roots = list(load_certs_from_pemder_data(home.ca.cert.read_bytes()))
    context = ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")
    result = await validate_tst_signed_data(signed, context, expected_tst_imprint=lambda _algorithm: digest)
    assert result["intact"] and result["valid"] and result["trust_problem_indic"] is None, result
    assert result["validation_path"] is not None  # to the linkage CA


@pytest.mark.parametrize(("body", "failure"), [
    (b"not DER at all", "bad_data_format"),
    (_request(os.urandom(16), "md5"), "bad_alg"),
    (_request(b"\x00" * 31), "bad_data_format"),  # a SHA-256 imprint one byte short
], ids=["not-der", "md5", "short-imprint"])
async def test_bad_requests_are_rejections_and_the_server_keeps_serving(url: str, body: bytes, failure: str) -> None:
    status, kind, data = await _post(url, body)
    assert (status, kind) == (200, REPLY_TYPE)
    # TimeStampResp with its status only: RFC 3161 has no token in a rejection (asn1crypto's TimeStampResp, which
    # wants one, cannot read it, so it is read as the SEQUENCE it is).
    resp = core.load(data)
    assert isinstance(resp, core.Sequence) and len(resp) == 1
    info = tsp.PKIStatusInfo.load(resp[0].dump())
    assert info["status"].native == "rejection" and info["fail_info"].native == {failure}
    ok, _, again = await _post(url, _request(hashlib.sha256(b"next").digest()))
    assert ok == 200 and tsp.TimeStampResp.load(again)["status"]["status"].native == "granted"


async def test_wrong_content_type_and_oversized_bodies_are_refused(url: str) -> None:
    status, _, text = await _post(url, _request(b"\x00" * 32), "application/octet-stream")
    assert status == 415 and QUERY_TYPE.encode() in text
    status, _, _ = await _post(url, b"\x30" * 10_000)
    assert status == 413


async def test_the_ca_crl_is_served(home: Home, url: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{url}crl") as resp:
        assert resp.status == 200 and resp.content_type == "application/pkix-crl"
        crl = x509.load_der_x509_crl(await resp.read())
    ca = x509.load_pem_x509_certificate(home.ca.cert.read_bytes())
    assert crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
    assert crl_path(home.ca).read_bytes() == crl.public_bytes(Encoding.DER)


async def test_a_crl_past_half_its_life_is_published_again_by_the_running_tsa(home: Home) -> None:
    ensure_pki(home)
    old = publish_crl(home.ca, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=20))
    assert stale(old)
    authority, crl = tsa_from_home(home)
    listening = asyncio.Event()
    task = asyncio.create_task(serve(authority, crl, "127.0.0.1", 0, lambda _port: listening.set()))
    try:
        await asyncio.wait_for(listening.wait(), 30)
        await asyncio.sleep(0)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    fresh = load_crl(crl_path(home.ca))
    assert not stale(fresh) and fresh.last_update_utc > old.last_update_utc
