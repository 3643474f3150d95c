"""The TSA's HTTP server: RFC 3161 over HTTP (POST application/timestamp-query), and the CA's CRL.

    create_app(authority, crl)           POST /      a TimeStampReq in, a TimeStampResp out (RFC 3161 3.4)
                                         GET /crl    the linkage CA's CRL (DER, application/pkix-crl)
                                         GET /metrics
    serve(authority, crl, host, port, ready)   run it until cancelled; ready(bound_port) once it listens
    tsa_from_home(home)                  the sandbox's TSA: DIR/pki/tsa/linkage-tsa.pem, issued on first use

No TLS and no authentication: what it answers is signed, and anyone may check it. A request that is not
``application/timestamp-query`` is 415; one over MAX_BODY is 413; a malformed one is a TimeStampResp with
status rejection (``authority.TimeStampAuthority.answer``), as RFC 3161 says.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import Final

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from linkage import pki
from linkage.config import Home
from linkage.crl import crl_path, load_crl, publish_crl, stale
from linkage.metrics import REASON, add_http_metrics
from linkage.tsa.authority import TimeStampAuthority

__all__ = ["CRL_PATH", "QUERY_TYPE", "REPLY_TYPE", "TSA_NAME", "create_app", "current_crl", "ensure_pki", "serve",
           "tsa_from_home", "tsa_paths"]

_log = logging.getLogger("linkage.tsa")

QUERY_TYPE: Final = "application/timestamp-query"
REPLY_TYPE: Final = "application/timestamp-reply"
CRL_PATH: Final = "/crl"
TSA_NAME: Final = "linkage-tsa"
MAX_BODY: Final = 4096  # a TimeStampReq with a SHA-512 imprint, a nonce and a policy is ~120 bytes
REFRESH_S: Final = 3600.0  # how often serve() looks whether the CA's CRL is due to be published again
TSA = web.AppKey("tsa", TimeStampAuthority)
CRL = web.AppKey[Callable[[], bytes]]("crl")


async def _stamp(request: web.Request) -> web.Response:
    if request.content_type != QUERY_TYPE:
        request[REASON] = "bad_content_type"
        raise web.HTTPUnsupportedMediaType(text=f"send a DER TimeStampReq as {QUERY_TYPE} (RFC 3161 3.4)\n")
    body = await request.read()
    return web.Response(body=request.app[TSA].answer(body), content_type=REPLY_TYPE)


async def _crl(request: web.Request) -> web.Response:
    try:
        data = request.app[CRL]()
    except (OSError, ValueError) as exc:
        _log.error("the CA's CRL cannot be read or published: %s", exc)
        request[REASON] = "crl_unavailable"
        raise web.HTTPServiceUnavailable(text="the CA's revocation list cannot be read now\n") from exc
    return web.Response(body=data, content_type="application/pkix-crl")


def create_app(authority: TimeStampAuthority, crl: Callable[[], bytes]) -> web.Application:
    """The TSA's app; crl() gives the DER CRL to serve (raising OSError or ValueError when it cannot)."""
    app = web.Application(client_max_size=MAX_BODY)
    app[TSA] = authority
    app[CRL] = crl
    add_http_metrics(app)
    app.router.add_post("/", _stamp, name="timestamp")
    app.router.add_get(CRL_PATH, _crl, name="crl")
    return app


def tsa_paths(home: Home) -> pki.CertPaths:
    return pki.CertPaths(home.pki / "tsa" / f"{TSA_NAME}.pem", home.pki / "tsa" / f"{TSA_NAME}.key")


def ensure_pki(home: Home) -> pki.CertPaths:
    """The TSA's certificate (issued by the linkage CA for the CA's lifetime) and the CA's CRL (empty), made if
    missing: by ``linkage init``, and once for a sandbox made before the TSA existed. Raises OSError or
    ValueError."""
    own = tsa_paths(home)
    if not own.cert.exists():
        ca_cert = x509.load_pem_x509_certificate(home.ca.cert.read_bytes())
        days = (ca_cert.not_valid_after_utc - dt.datetime.now(dt.UTC)).days
        issued = pki.issue(home.ca, TSA_NAME, pki.Role.TSA, own.cert.parent, unit="tsa", days=max(1, days))
        assert issued == own
    if not crl_path(home.ca).exists():
        publish_crl(home.ca)
    return own


def tsa_from_home(home: Home) -> tuple[TimeStampAuthority, Callable[[], bytes]]:
    """The sandbox's TSA and its CRL source (``ensure_pki`` first). Raises OSError or ValueError."""
    own = ensure_pki(home)
    ca_cert = x509.load_pem_x509_certificate(home.ca.cert.read_bytes())
    return TimeStampAuthority(own, ca_cert), lambda: current_crl(home.ca)


def current_crl(ca: pki.CertPaths) -> bytes:
    """The CA's CRL as DER, published again first when it is past half its life."""
    path = crl_path(ca)
    crl = load_crl(path)
    if stale(crl):
        crl = publish_crl(ca)
    return crl.public_bytes(serialization.Encoding.DER)


async def serve(authority: TimeStampAuthority, crl: Callable[[], bytes], host: str, port: int,
                ready: Callable[[int], None], *, refresh_s: float = REFRESH_S) -> None:
    """Serve until cancelled; every refresh_s, crl() (which publishes the CA's list again when it is past half its
    life, so that the counter, which reads the file, never signs with a stale one). Raises OSError when it cannot
    listen."""
    runner = web.AppRunner(create_app(authority, crl), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        ready(int(runner.addresses[0][1]))
        while True:
            try:
                crl()
            except (OSError, ValueError) as exc:
                _log.error("the CA's CRL cannot be read or published: %s", exc)
            await asyncio.sleep(refresh_s)
    finally:
        await runner.cleanup()

