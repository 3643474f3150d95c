"""Long-term validity of certified PDFs (issue 13 item 4): PAdES B-T with the sandbox's RFC 3161 TSA, B-LT with the
chain and the CA's CRL embedded, and the auditor's check 12, through real parts: the TSA's aiohttp server on port 0,
the counter's own rendering and signing, pyHanko's validation. Time moves by the auditor's ``now`` (a frozen,
later validation time) and the TSA's clock, never by sleeping.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps.api import TimeStamper

from consumers.auditor import PaperReport, PdfFile, Trust, verify_pdf
from consumers.counter.longterm import LongTerm
from consumers.counter.printout import (
    CounterSigner,
    PrintCase,
    SignerUnavailable,
    TimestampUnavailable,
    render_case_pdf,
    sign_pdf,
)
from linkage import pki, seal
from linkage.crl import Revocation, crl_path, load_crl, publish_crl
from linkage.tsa import TimeStampAuthority, serve

AGENCY = "TH-GOV-phrae-municipality"
SUBJECT = "1101700230708"
DAY = dt.timedelta(days=1)


class Clock:
    """The TSA's clock: real time plus an offset a test moves."""

    def __init__(self) -> None:
        self.offset = dt.timedelta(0)

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC).replace(microsecond=0) + self.offset


@dataclass
class World:
    root: Path
    ca: pki.CertPaths
    agency: pki.CertPaths
    tsa_url: str
    clock: Clock
    unsigned: bytes

    def signer(self, crl: Path | None = None, tsa_url: str | None = None) -> CounterSigner:
        long_term = LongTerm(tsa_url or self.tsa_url, self.ca.cert, crl or crl_path(self.ca))
        return CounterSigner(self.agency.cert, self.agency.key, self.ca.cert, long_term=long_term)

    def sign(self, signer: CounterSigner) -> bytes:
        return sign_pdf(self.unsigned, signer, officer_name="นางสาวสุดารัตน์ ทองดี", officer_id="PHR-0007")

    def trust(self, *crls: bytes) -> Trust:
        return Trust(x509.load_pem_x509_certificate(self.ca.cert.read_bytes()), crls=crls)


def _verify(world: World, pdf: bytes, now: dt.datetime, *crls: bytes) -> PaperReport:
    return verify_pdf(PdfFile(name="case.pdf", data=pdf), world.trust(*crls), now=now)


def _check(report: PaperReport, number: int) -> Any:
    [check] = [c for c in report.checks if c.number == number]
    return check


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("ltv")
    ca = pki.create_ca(root / "ca")
    publish_crl(ca)
    hub_seal = pki.issue(ca, "hub-seal", pki.Role.SEAL, root / "seal")
    # An agency certificate that expires in 30 days: the copies must outlive it.
    agency = pki.issue(ca, AGENCY, pki.Role.CLIENT, root / "agency", unit="agency", days=30)
    tsa = pki.issue(ca, "linkage-tsa", pki.Role.TSA, root / "tsa", unit="tsa", days=3000)
    clock = Clock()
    authority = TimeStampAuthority(tsa, x509.load_pem_x509_certificate(ca.cert.read_bytes()), clock)
    sealer = seal.Sealer.from_files(hub_seal.cert, hub_seal.key, ca.cert)
    jws = sealer.seal({
        "printout_id": str(uuid.uuid4()), "doc_type": "dopa.person", "subject_id": SUBJECT,
        "data": {"first_name_th": "สมชาย", "last_name_th": "ใจดี"}, "issuer": seal.HUB_ISSUER,
        "provider": "TH/GOV/DOPA/civil-registry", "agency": AGENCY, "officer_id": "PHR-0007",
        "purpose": "ตรวจสอบสิทธิ์", "case_ref": "PHR-2569-0100",
        "issued_at": seal.format_issued_at(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)),
        "request_hash": seal.request_hash({"agency": AGENCY})})
    case = PrintCase(service_name="ขอสำเนาทะเบียน", subject_id=SUBJECT, subject_name="นายสมชาย ใจดี",
                     officer_name="นางสาวสุดารัตน์ ทองดี", officer_id="PHR-0007", agency_title="เทศบาลเมืองแพร่",
                     case_ref="PHR-2569-0100", printouts=(str(jws),))
    unsigned = render_case_pdf(case, CounterSigner(agency.cert, agency.key, ca.cert))
    with _running(authority, ca) as url:
        yield World(root, ca, agency, url, clock, unsigned)


@pytest.fixture(scope="module")
def copy(world: World) -> bytes:
    """A B-LT copy certified now, before any rotation or revocation."""
    return world.sign(world.signer())


class _Server(threading.Thread):
    def __init__(self, authority: TimeStampAuthority, ca: pki.CertPaths) -> None:
        super().__init__(daemon=True)
        self.authority, self.ca = authority, ca
        self.port = 0
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.task: asyncio.Task[None] | None = None

    def run(self) -> None:
        def ready(port: int) -> None:
            self.port = port
            self.ready.set()

        async def main() -> None:
            self.task = asyncio.ensure_future(serve(self.authority, lambda: crl_path(self.ca).read_bytes(),
                                                    "127.0.0.1", 0, ready))
            try:
                await self.task
            except asyncio.CancelledError:
                pass

        self.loop.run_until_complete(main())


class _running:
    def __init__(self, authority: TimeStampAuthority, ca: pki.CertPaths) -> None:
        self.server = _Server(authority, ca)

    def __enter__(self) -> str:
        self.server.start()
        assert self.server.ready.wait(30)
        return f"http://127.0.0.1:{self.server.port}/"

    def __exit__(self, *exc: object) -> None:
        task = self.server.task
        if task is not None:
            self.server.loop.call_soon_threadsafe(task.cancel)
        self.server.join(10)


# --- B-LT, and still valid after the certificate's expiry and the agency's key rotation ---------------------

def test_a_copy_is_b_lt_and_valid_now(world: World, copy: bytes) -> None:
    report = _verify(world, copy, dt.datetime.now(dt.UTC))
    assert report.valid, report.render()
    three, twelve = _check(report, 3), _check(report, 12)
    assert three.ok is True and "covering the whole file but the validation data added after it (DSS)" in three.detail
    assert twelve.ok is True and twelve.name == "long-term validity"
    assert "PAdES B-LT: timestamp by linkage-tsa at" in twelve.detail
    assert b"/DSS" in copy[len(world.unsigned):]  # the validation data, after the signed revision


def test_signed_before_rotation_and_expiry_still_validates_afterwards(world: World, copy: bytes) -> None:
    agency = x509.load_pem_x509_certificate(world.agency.cert.read_bytes())
    # The agency renews its key the next day (the old certificate superseded on the CA's CRL)...
    rotated = world.root / "rotated"
    rotated.mkdir()
    (rotated / "ca.pem").write_bytes(world.ca.cert.read_bytes())
    (rotated / "ca.key").write_bytes(world.ca.key.read_bytes())
    (rotated / "ca.crl").write_bytes(crl_path(world.ca).read_bytes())
    later_ca = pki.CertPaths(rotated / "ca.pem", rotated / "ca.key")
    renewed = publish_crl(later_ca, [Revocation(agency.serial_number, dt.datetime.now(dt.UTC) + DAY,
                                                x509.ReasonFlags.superseded)], now=dt.datetime.now(dt.UTC) + DAY)
    # ...and a verifier looks at the copy two months on, past the old certificate's expiry, with that newer CRL.
    later = dt.datetime.now(dt.UTC) + 60 * DAY
    assert agency.not_valid_after_utc < later
    report = _verify(world, copy, later, renewed.public_bytes(Encoding.DER))
    twelve = _check(report, 12)
    assert twelve.ok is True, twelve
    assert "revoked later" in twelve.detail and "superseded" in twelve.detail
    assert _check(report, 3).ok is True and report.valid, report.render()


# --- revocation: earlier signatures stand, later ones fail -------------------------------------------------------

def test_revoked_agency_earlier_signature_stands_later_one_fails(world: World, copy: bytes) -> None:
    before = world.root / "crl-before-revocation.der"
    before.write_bytes(crl_path(world.ca).read_bytes())
    agency = x509.load_pem_x509_certificate(world.agency.cert.read_bytes())
    revoked_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    scratch = world.root / "revocation"
    scratch.mkdir()
    for name in ("ca.pem", "ca.key", "ca.crl"):
        (scratch / name).write_bytes((world.ca.cert.parent / name).read_bytes())
    revoking = pki.CertPaths(scratch / "ca.pem", scratch / "ca.key")
    crl = publish_crl(revoking, [Revocation(agency.serial_number, revoked_at,
                                            x509.ReasonFlags.cessation_of_operation)], now=revoked_at)
    now_crl = crl.public_bytes(Encoding.DER)
    # The counter, reading the CA's CRL that lists it, refuses to certify at all.
    with pytest.raises(SignerUnavailable) as refused:
        world.clock.offset = dt.timedelta(minutes=10)
        try:
            world.sign(world.signer(crl=crl_path(revoking)))
        finally:
            world.clock.offset = dt.timedelta(0)
    assert "ใบรับรองของหน่วยงานถูกเพิกถอนแล้ว" in refused.value.message_th and "revoked" in refused.value.message
    # A counter still holding the CRL from before (or a stolen key) signs ten minutes after the revocation.
    world.clock.offset = dt.timedelta(minutes=10)
    try:
        late = world.sign(world.signer(crl=before))
    finally:
        world.clock.offset = dt.timedelta(0)
    when = dt.datetime.now(dt.UTC) + DAY
    earlier = _check(_verify(world, copy, when, now_crl), 12)
    assert earlier.ok is True and "revoked later" in earlier.detail, earlier
    report = _verify(world, late, when, now_crl)
    twelve = _check(report, 12)
    assert twelve.ok is False and "was revoked at" in twelve.detail and "cessation_of_operation" in twelve.detail
    assert not report.valid and "12 (ยืนยันได้ในระยะยาว / long-term validity)" in report.verdict()
    assert _check(report, 3).ok is True  # the signature itself is sound: only its time condemns it


# --- bad input ----------------------------------------------------------------------------------------------------

def test_timestamp_from_an_unknown_authority_is_invalid(world: World, tmp_path: Path) -> None:
    # Another CA with the same name as the linkage CA, and a TSA of its own called linkage-tsa.
    rogue_ca = pki.create_ca(tmp_path / "rogue")
    rogue = pki.issue(rogue_ca, "linkage-tsa", pki.Role.TSA, tmp_path / "rogue-tsa", unit="tsa")
    authority = TimeStampAuthority(rogue, x509.load_pem_x509_certificate(rogue_ca.cert.read_bytes()))
    with _running(authority, rogue_ca) as url:
        # The counter refuses a TSA the linkage CA did not issue.
        with pytest.raises(TimestampUnavailable) as refused:
            world.sign(world.signer(tsa_url=url))
        assert "ไม่ได้รับการรับรองจากระบบ" in refused.value.message_th

    class Rogue(TimeStamper):
        async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
            return tsp.TimeStampResp.load(authority.answer(req.dump()))

    # Whoever holds the agency's key can still sign with such a timestamp: the auditor says whose it is.
    agency = CounterSigner(world.agency.cert, world.agency.key, world.ca.cert)
    meta = signers.PdfSignatureMetadata(field_name="CounterCertification", md_algorithm="sha256",
                                        subfilter=fields.SigSeedSubFilter.PADES)
    out = signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(world.unsigned), strict=False), meta,
                           signer=agency.pdf_signer, timestamper=Rogue(),  # type: ignore[no-untyped-call]
                           bytes_reserved=8192).getvalue()
    report = _verify(world, out, dt.datetime.now(dt.UTC))
    twelve = _check(report, 12)
    assert twelve.ok is False and "timestamp from an unknown authority: linkage-tsa" in twelve.detail
    assert not report.valid and "long-term validity" in report.verdict()


def test_a_copy_whose_dss_was_removed_is_invalid(world: World, copy: bytes) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    sig = PdfFileReader(io.BytesIO(copy), strict=False).embedded_signatures[0]
    end = int(sig.byte_range[2]) + int(sig.byte_range[3])
    stripped = copy[:end]  # the signed revision, without the incremental update that added the DSS
    assert b"/DSS" not in stripped
    report = _verify(world, stripped, dt.datetime.now(dt.UTC))
    assert _check(report, 3).ok is True
    twelve = _check(report, 12)
    assert twelve.ok is False and "no validation data (DSS)" in twelve.detail
    assert not report.valid


def test_tsa_down_the_counter_refuses_in_thai_and_english(world: World) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/"
    with pytest.raises(TimestampUnavailable) as refused:
        world.sign(world.signer(tsa_url=dead))
    assert refused.value.code == "timestamp_unavailable"
    assert "ระบบประทับเวลาไม่ตอบ" in refused.value.message_th and "nothing was certified" in refused.value.message


def test_a_b_b_copy_has_no_check_12(world: World) -> None:
    plain = world.sign(CounterSigner(world.agency.cert, world.agency.key, world.ca.cert))
    report = _verify(world, plain, dt.datetime.now(dt.UTC))
    assert [c.number for c in report.checks] == [3] and report.valid, report.render()


def test_the_ca_crl_lists_what_was_revoked(world: World) -> None:
    crl = load_crl(crl_path(world.ca))
    ca = x509.load_pem_x509_certificate(world.ca.cert.read_bytes())
    assert crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
    assert crl.next_update_utc is not None and crl.next_update_utc > dt.datetime.now(dt.UTC) + 20 * DAY
