"""What makes a certified PDF verifiable for years: a signature timestamp (PAdES B-T) and the validation data
embedded in it (B-LT), as pyHanko adds them when ``printout.sign_pdf`` signs.

``LongTerm`` is where the counter gets both: the sandbox's time-stamping authority (RFC 3161 over HTTP,
``linkage serve-tsa``; LINKAGE_COUNTER_TSA) and the linkage CA's certificate and CRL (DIR/pki/ca.crl, read
at every signing so a revocation counts from the next copy on). pyHanko validates the agency's certificate and
the TSA's against the CA, with the CRL required (``revocation_mode="require"``), before it embeds them: a
revoked agency certificate cannot certify, and a TSA the linkage CA did not issue cannot stamp.

``TimedStamper`` is pyHanko's HTTP client, timing each round trip (``LongTerm.round_trips``: the benchmark's
"timestamp round trip", scripts/bench_printout.py).

When the TSA does not answer, the counter refuses to certify (``printout.TimestampUnavailable``, Thai and
English), rather than print a copy without a timestamp that no one could check once the agency's certificate
is renewed or expires (docs/counter.md "Long-term validity").
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from asn1crypto import crl as asn1_crl
from asn1crypto import tsp
from pyhanko.keys import load_certs_from_pemder_data
from pyhanko.sign.timestamps.aiohttp_client import HTTPTimeStamper
from pyhanko_certvalidator import ValidationContext

__all__ = ["TSA_TIMEOUT_S", "LongTerm", "TimedStamper"]

TSA_TIMEOUT_S: Final = 5.0


class _Expected(logging.Filter):
    """pyHanko warns on every signing that it embeds validation data without fetching any: the counter means it
    (the CA's CRL is given, nothing is to be fetched), so that one line is dropped; its other warnings pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fetching is not allowed" not in record.getMessage()


logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_Expected())


class TimedStamper(HTTPTimeStamper):
    """pyHanko's RFC 3161 HTTP client, appending how long each request took (seconds) to ``round_trips``."""

    def __init__(self, url: str, round_trips: deque[float]) -> None:
        super().__init__(url, timeout=TSA_TIMEOUT_S)
        self.round_trips = round_trips

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        start = time.perf_counter()
        try:
            resp: tsp.TimeStampResp = await super().async_request_tsa_response(req)
        finally:
            self.round_trips.append(time.perf_counter() - start)
        return resp


@dataclass(frozen=True)
class LongTerm:
    """The TSA's URL (http://HOST:PORT/) and the linkage CA's certificate and CRL files."""

    tsa_url: str
    ca: Path
    crl: Path
    # The last timestamp round trips (seconds): what scripts/bench_printout.py reports apart.
    round_trips: deque[float] = field(default_factory=lambda: deque(maxlen=256), compare=False, repr=False)
    _stamper: TimedStamper | None = field(default=None, init=False, compare=False, repr=False)

    def timestamper(self) -> TimedStamper:
        """One client for every signing: pyHanko asks the TSA for a dummy token once per client (to size the
        signature and learn the TSA's certificates) and keeps it, so a new client each time would cost a
        second round trip per copy. It opens a connection per request, so it is safe from any thread."""
        if self._stamper is None:
            object.__setattr__(self, "_stamper", TimedStamper(self.tsa_url, self.round_trips))
        assert self._stamper is not None
        return self._stamper

    def validation_context(self) -> ValidationContext:
        """The CA as the only root and its CRL as it is now: what pyHanko checks and embeds (the DSS).
        Raises OSError or ValueError when a file cannot be read."""
        roots = list(load_certs_from_pemder_data(self.ca.read_bytes()))
        crl = asn1_crl.CertificateList.load(self.crl.read_bytes())
        crl.native  # noqa: B018 -- parses it all now: a damaged file is an error here, not in pyHanko
        return ValidationContext(trust_roots=roots, crls=[crl], allow_fetching=False, revocation_mode="require")
