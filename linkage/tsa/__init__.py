"""The sandbox's time-stamping authority (RFC 3161 over HTTP) and where the linkage CA's CRL is served.

A server of its own beside the hub, like the witnesses: the counter asks it for a signature timestamp when it
certifies a PDF (PAdES B-T), and verifiers fetch the CA's CRL from it (GET /crl). It imports only the core
(tests/test_layers.py). Its certificate is issued by the linkage CA with extendedKeyUsage timeStamping,
critical (RFC 3161 2.3).

    authority.py   TimeStampAuthority.answer: a TimeStampReq in, a granted or rejected TimeStampResp out
    server.py      create_app / serve (aiohttp), and the sandbox's TSA from DIR (tsa_from_home)

``linkage serve-tsa`` runs it; ``linkage up`` starts it before the counter.
"""

from linkage.tsa.authority import DIGESTS, POLICY, TimeStampAuthority
from linkage.tsa.server import (
    CRL_PATH,
    QUERY_TYPE,
    REPLY_TYPE,
    create_app,
    ensure_pki,
    serve,
    tsa_from_home,
    tsa_paths,
)

__all__ = ["CRL_PATH", "DIGESTS", "POLICY", "QUERY_TYPE", "REPLY_TYPE", "TimeStampAuthority", "create_app",
           "ensure_pki", "serve", "tsa_from_home", "tsa_paths"]
