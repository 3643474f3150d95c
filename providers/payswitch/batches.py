"""The switch's bulk credit transfers: ``POST /disbursements`` takes an agency's signed payment batch
(linkage/disbursements.py) and credits each line to its PromptPay proxy, once.

In this order: the body is at most ``MAX_BATCH_BYTES``; the detached signature (X-Batch-Signature) is the named
agency's, its certificate from the linkage CA; the agency is in linkage.toml now (a revoked one is refused), on the
certificate pinned for it when one is; the lines add up to the batch's count and total; then, per agency and batch
number, the batch is settled once: the settlement is written to DIR/data/payswitch/ before it is answered, and the
same batch sent again gets that same settlement (``replayed``), a different batch under a number already settled
is refused (409 ``batch_no_reused``). Refusals: 400 ``malformed`` / ``unbalanced``, 403 ``forged`` /
``unknown_agency``, 409 ``batch_no_reused``; each with a message, nothing credited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import secrets
from pathlib import Path
from typing import Final

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkage.config import ConfigError, Home, load_settings
from linkage.disbursements import (
    BATCH_SIGNATURE_HEADER,
    BatchError,
    Settlement,
    batch_sha256,
    sign_settlement,
    verify_batch,
)
from linkage.payments import SIGNATURE_HEADER

__all__ = ["MAX_BATCH_BYTES", "disburse"]

MAX_BATCH_BYTES: Final = 64 * 1024 * 1024  # 100 000 lines are about 10 MB
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
_log = logging.getLogger("providers.payswitch")
HOME = web.AppKey("payswitch_home", Home)
KEY = web.AppKey("payswitch_key", Ed25519PrivateKey)


def _refuse(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


def _settled(body: bytes, signature: str, replayed: bool) -> web.Response:
    return web.Response(body=body, content_type="application/json",
                        headers={SIGNATURE_HEADER: signature, "X-Replayed": "1" if replayed else "0"})


async def disburse(request: web.Request) -> web.Response:
    home = request.app[HOME]
    if (request.content_length or 0) > MAX_BATCH_BYTES:
        return _refuse(413, "too_large", f"a batch is at most {MAX_BATCH_BYTES} bytes")
    body = await request.read()
    try:
        ca = x509.load_pem_x509_certificate(home.ca.cert.read_bytes())
        batch, cert = verify_batch(body, request.headers.get(BATCH_SIGNATURE_HEADER, ""), ca)
    except BatchError as err:
        return _refuse(403 if err.code == "forged" else 400, err.code, err.message)
    try:
        agency = load_settings(home).agencies.get(batch.agency)
    except ConfigError as exc:
        return _refuse(503, "no_config", f"the switch cannot read linkage.toml: {exc}")
    pin = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    if agency is None or (agency.cert_sha256 and agency.cert_sha256 != pin):
        return _refuse(403, "unknown_agency", f"{batch.agency[:64]!r} is not an agency of this sandbox, or not on"
                                              " the certificate registered for it")
    if not (_SAFE.fullmatch(batch.batch_no) and _SAFE.fullmatch(batch.agency)):
        return _refuse(400, "malformed", "batch_no and agency are letters, digits, '.', '_' and '-'")
    digest = batch_sha256(body)
    path = home.data / "payswitch" / f"{batch.agency}--{batch.batch_no}.json"
    kept = _kept(path)
    if kept is None:
        settlement = Settlement(batch.batch_no, batch.agency, digest, len(batch.lines), f"{batch.total}",
                                f"STL{secrets.token_hex(8).upper()}",
                                dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"))
        signed, signature = sign_settlement(settlement, request.app[KEY])
        if _keep(path, signed, signature):
            _log.info("settled batch %s of %s: %d lines, %s baht, as %s", batch.batch_no, batch.agency,
                      len(batch.lines), batch.total, settlement.settlement_id)
            return _settled(signed, signature, replayed=False)
        kept = _kept(path)  # another request settled it meanwhile: that one stands
        assert kept is not None
    signed, signature = kept
    if json.loads(signed)["batch_sha256"] != digest:
        return _refuse(409, "batch_no_reused", f"batch {batch.batch_no} of {batch.agency} was settled with other"
                                               " lines; a new batch takes a new number")
    _log.info("batch %s of %s sent again: its settlement stands", batch.batch_no, batch.agency)
    return _settled(signed, signature, replayed=True)


def _kept(path: Path) -> tuple[bytes, str] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return doc["settlement"].encode("utf-8"), str(doc["signature"])


def _keep(path: Path, body: bytes, signature: str) -> bool:
    """Write the settlement once (False when it was there already); durable before it is answered."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    tmp.write_text(json.dumps({"settlement": body.decode("utf-8"), "signature": signature}), encoding="utf-8")
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)  # fails if another request settled the same batch first
    except FileExistsError:
        return False
    finally:
        tmp.unlink()
    return True
