"""The paper code's format, piece by piece, against a throwaway PKI: Base45 (RFC 9285's own examples), COSE_Sign1,
the frozen dictionary, making and joining parts, and every way a code can be refused (closed error set)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import uuid
import zlib

import cbor2
import pytest

from consumers.auditor.cose import CoseError, b45decode, b45encode, open_sign1, sign1
from consumers.auditor.papercode import (
    MAX_PARTS,
    PART_CHARS,
    IncompleteSet,
    PaperClaims,
    PaperDoc,
    join_parts,
    kid_of,
    make_paper_code,
    verify_paper_code,
)
from consumers.auditor.paperdict import DICTIONARY_V1
from consumers.auditor.summary import BadSignature, SignerNotValid, SummaryTrust, UnknownSigner, UnreadableSummary
from tests.auditor.conftest import DAY, NOW, World

# Forty members whose IDs and names do not repeat: more than one code holds.
MEMBERS = tuple((f"สมาชิก {n}", f"นาย{''.join(chr(0x0E01 + b % 46) for b in hashlib.sha256(bytes([n])).digest()[:8])} · "
                 f"{int.from_bytes(hashlib.sha256(bytes([n, 1])).digest()[:6], 'big') % 10**13:013d} · ผู้อาศัย")
                for n in range(40))


def claims(rows: tuple[tuple[str, str], ...] = (("ที่อยู่ (บรรทัดเดียว)", "49 หมู่ที่ 4 ตำบลเสือโฮก"),),
           at: dt.datetime = NOW) -> PaperClaims:
    doc = PaperDoc("dopa.house", str(uuid.UUID(int=7)), bytes(range(16)), "ทะเบียนบ้าน", NOW - DAY, rows)
    return PaperClaims("1101700230708", "นายสมชาย ใจดี", at, "3540723298335", "นางสาวสุดารัตน์ ทองดี",
                       "PHR-2569-00001", "ขึ้นทะเบียนผู้สูงอายุ", "เทศบาลเมืองแพร่", (doc,), ("แผนที่",))


def trust(world: World) -> SummaryTrust:
    return SummaryTrust.build(world.root, [world.agency_cert])


# --- Base45 and COSE ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("plain", "encoded"), [
    (b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581"), (b"ietf!", "QED8WEX0"), (b"", ""),
])
def test_base45_rfc9285_examples(plain: bytes, encoded: str) -> None:
    assert b45encode(plain) == encoded and b45decode(encoded) == plain


@pytest.mark.parametrize("bad", ["GGW", "ZZ", "A", "abc", "BB8?", "QED8WEX0AB"])
def test_base45_refuses(bad: str) -> None:
    with pytest.raises(CoseError) as info:
        b45decode(bad)
    assert info.value.code == "bad_base45"


def test_cose_sign1_round_trip_and_refusals(world: World) -> None:
    message = sign1(b"payload", world.agency_key, b"kid-1234")
    tagged = cbor2.loads(message)
    assert tagged.tag == 18 and cbor2.loads(tagged.value[0]) == {1: -7, 4: b"kid-1234"}
    opened = open_sign1(message)
    opened.verify(world.agency_cert.public_key())  # type: ignore[arg-type]
    with pytest.raises(CoseError, match="does not verify"):
        dataclasses.replace(opened, payload=b"payloae").verify(world.agency_cert.public_key())  # type: ignore[arg-type]
    protected, _, payload, signature = tagged.value
    for bad, code in [
        (cbor2.dumps(cbor2.CBORTag(98, [protected, {}, payload, signature])), "not_cose"),
        (cbor2.dumps([protected, {}, payload]), "not_cose"),
        (cbor2.dumps([cbor2.dumps({1: -35, 4: b"k"}), {}, payload, signature]), "bad_header"),
        (cbor2.dumps([cbor2.dumps({4: b"k"}), {1: -7}, payload, signature]), "bad_header"),  # alg unprotected
        (cbor2.dumps([cbor2.dumps({1: -7, 4: b"k", 2: [99]}), {}, payload, signature]), "bad_header"),
        (cbor2.dumps([cbor2.dumps({1: -7}), {4: b"k"}, payload, signature]), "bad_header"),  # kid unprotected
        (cbor2.dumps([protected, {}, None, signature]), "not_cose"),  # detached payload
        (cbor2.dumps([protected, {}, payload, signature[:63]]), "not_cose"),
        (b"\xff\x00", "not_cose"),
    ]:
        with pytest.raises(CoseError) as info:
            open_sign1(bad)
        assert info.value.code == code, bad


def test_an_independent_cose_library_verifies_the_paper_code(world: World) -> None:
    """Any COSE library checks the code with the agency certificate's key: python-cwt (maintained; pycose 1.1, its
    last release, cannot even decode a message under cbor2 6)."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from cwt import COSE, COSEKey, VerifyError

    [text] = make_paper_code(claims(), world.agency_key, world.agency_cert)
    message = zlib.decompressobj(zdict=DICTIONARY_V1).decompress(b45decode(text[4:]))
    pem = world.agency_cert.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    key = COSEKey.from_pem(pem, alg="ES256", kid=kid_of(world.agency_cert))
    payload = COSE.new().decode(message, key)
    assert cbor2.loads(payload)[2] == "1101700230708"
    other = world.foreign_cert.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(VerifyError):
        COSE.new().decode(message, COSEKey.from_pem(other, alg="ES256", kid=kid_of(world.agency_cert)))


def test_the_dictionary_is_frozen() -> None:
    """Part of the LP1 format: papers printed today must decode in ten years. A new dictionary is a new prefix."""
    assert hashlib.sha256(DICTIONARY_V1).hexdigest() == \
        "b7ba696a4f58b161a9fff59af69e88d104555032c9fe3f052a554acf546637b6"


# --- making, joining, verifying -----------------------------------------------------------------------------------

def test_one_code_round_trip(world: World) -> None:
    [text] = make_paper_code(claims(), world.agency_key, world.agency_cert)
    assert text.startswith("LP1:") and set(text[4:]) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    whole, parts = join_parts([text])
    report = verify_paper_code(whole, trust(world), parts=parts)
    assert report.claims == claims() and report.signer == "TH-GOV-RD-tax" and parts == 1
    assert [s[:3] for s in report.steps] == ["[1]", "[2]", "[3]", "[4]"]


def test_a_part_that_ends_in_a_space_joins_whole() -> None:
    """A space is a Base45 character: a part may begin or end with one, and the join keeps it (the set id is the
    digest of the whole text); only a scanner's line end comes off. A quarter of multi-part papers failed with
    "do not join into set" while the reader stripped spaces."""
    whole = "8A0 $% " + " +-./:A" + "BC 9Z  "
    set_id = hashlib.sha256(whole.encode()).hexdigest()[:8].upper()
    texts = [f"LP1/{k + 1}/3/{set_id}:{whole[k * 7:(k + 1) * 7]}" for k in range(3)]
    assert texts[0].endswith(" ") and texts[2].endswith(" ") and texts[1].split(":", 1)[1].startswith(" ")
    assert join_parts([texts[2] + "\r\n", texts[0], texts[1] + "\n"]) == (whole, 3)


def test_a_large_paper_splits_into_parts_that_join_in_any_order(world: World) -> None:
    big = claims(MEMBERS)
    texts = make_paper_code(big, world.agency_key, world.agency_cert)
    assert len(texts) >= 2 and all(len(t) <= PART_CHARS + 20 for t in texts)
    assert {t.split(":", 1)[0].rsplit("/", 1)[1] for t in texts} == {texts[0].split(":", 1)[0].rsplit("/", 1)[1]}
    whole, parts = join_parts([*reversed(texts), texts[0]])  # any order; a part photographed twice is fine
    assert parts == len(texts) and verify_paper_code(whole, trust(world), parts=parts).claims == big
    # Missing parts are named; so is a part of another paper.
    with pytest.raises(IncompleteSet, match=f"QR part\\(s\\) 2 of {len(texts)} missing"):
        join_parts([texts[0], *texts[2:]])
    other = make_paper_code(claims(MEMBERS[::-1]), world.agency_key, world.agency_cert)
    with pytest.raises(IncompleteSet, match="more than one paper"):
        join_parts([*texts, other[0]])
    with pytest.raises(IncompleteSet, match="more than one paper"):
        join_parts([texts[0], make_paper_code(claims(), world.agency_key, world.agency_cert)[0]])
    # A chunk swapped for another of the same length under the same set header: the set id no longer holds.
    head, body = texts[1].split(":", 1)
    forged = f"{head}:{body[::-1]}"
    with pytest.raises(IncompleteSet, match="do not join"):
        join_parts([texts[0], forged, *texts[2:]])
    with pytest.raises(IncompleteSet, match="both say they are part 1"):
        join_parts([texts[0], f"{texts[0].split(':', 1)[0]}:{body}"])


@pytest.mark.parametrize("text", ["LP2:ABC", "https://example.org", "LP1/3/2/ABCDEF12:AAA", "LP1/0/2/ABCDEF12:AAA",
                                  "LP1/1/99/ABCDEF12:AAA", "LP1"])
def test_not_a_paper_code(text: str) -> None:
    with pytest.raises(UnreadableSummary):
        join_parts([text])


def _inflate(raw: bytes) -> bytes | None:
    try:
        return zlib.decompressobj(zdict=DICTIONARY_V1).decompress(raw)
    except zlib.error:
        return None


def test_every_bit_flip_is_refused_by_a_named_check(world: World) -> None:
    """One bit changed anywhere in the compressed code: unreadable, or a signature that no longer holds; the only
    flips that verify are the padding bits after deflate's last block, which inflate ignores (same message)."""
    [text] = make_paper_code(claims(), world.agency_key, world.agency_cert)
    raw = b45decode(text[4:])
    outcomes = set()
    for i in range(0, len(raw) * 8, 7):
        flipped = bytearray(raw)
        flipped[i // 8] ^= 1 << (i % 8)
        try:
            verify_paper_code(b45encode(bytes(flipped)), trust(world))
        except (UnreadableSummary, BadSignature, UnknownSigner) as exc:
            outcomes.add(type(exc).__name__)
        else:
            assert _inflate(bytes(flipped)) == _inflate(raw), f"bit {i} flipped, another message still verifies"
    assert "UnreadableSummary" in outcomes


def test_a_changed_field_breaks_the_signature(world: World) -> None:
    [text] = make_paper_code(claims(), world.agency_key, world.agency_cert)
    message = zlib.decompressobj(zdict=DICTIONARY_V1).decompress(b45decode(text[4:]))
    tagged = cbor2.loads(message)
    body = cbor2.loads(tagged.value[2])
    body[10][0][6][0][1] = "57 หมู่ที่ 4 ตำบลเสือโฮก"  # the house number
    forged = cbor2.dumps(cbor2.CBORTag(18, [tagged.value[0], {}, cbor2.dumps(body), tagged.value[3]]))
    deflate = zlib.compressobj(9, zdict=DICTIONARY_V1)
    with pytest.raises(BadSignature, match="does not verify with TH-GOV-RD-tax"):
        verify_paper_code(b45encode(deflate.compress(forged) + deflate.flush()), trust(world))


def test_signers_outside_the_trust_and_out_of_time(world: World) -> None:
    [foreign] = make_paper_code(claims(), world.foreign_key, world.foreign_cert)
    with pytest.raises(UnknownSigner, match="another sandbox"):
        verify_paper_code(join_parts([foreign])[0], trust(world))
    [late] = make_paper_code(claims(at=NOW + 4000 * DAY), world.agency_key, world.agency_cert)
    with pytest.raises(SignerNotValid, match="was not valid"):
        verify_paper_code(join_parts([late])[0], trust(world))
    assert kid_of(world.agency_cert) != kid_of(world.foreign_cert)


def test_a_compression_bomb_is_unreadable(world: World) -> None:
    deflate = zlib.compressobj(9, zdict=DICTIONARY_V1)
    bomb = deflate.compress(b"\0" * (4 * 1024 * 1024)) + deflate.flush()
    with pytest.raises(UnreadableSummary, match="complete zlib stream"):
        verify_paper_code(b45encode(bomb), trust(world))
    other = zlib.compressobj(9, zdict=b"another dictionary")
    with pytest.raises(UnreadableSummary, match="not zlib-compressed"):
        verify_paper_code(b45encode(other.compress(b"\xd2\x84") + other.flush()), trust(world))
    with pytest.raises(UnreadableSummary, match="not_cose"):
        verify_paper_code(b45encode(zlib.compress(b"no dictionary, no CBOR")), trust(world))


@pytest.mark.parametrize(("change", "why"), [
    ({1: 2}, "unknown paper code version"), ({10: []}, "lists no document"), ({2: 1101700230708}, "subject_id"),
    ({4: "2026-01-15"}, "print time"), ({10: [{1: "x"}]}, "printout_id"), ({11: [1]}, "still to bring"),
    ({4: 10**30}, "not a time"),
])
def test_payload_fields_are_typed(world: World, change: dict[int, object], why: str) -> None:
    [text] = make_paper_code(claims(), world.agency_key, world.agency_cert)
    message = zlib.decompressobj(zdict=DICTIONARY_V1).decompress(b45decode(text[4:]))
    body = cbor2.loads(cbor2.loads(message).value[2]) | change
    resigned = sign1(cbor2.dumps(body), world.agency_key, kid_of(world.agency_cert))
    deflate = zlib.compressobj(9, zdict=DICTIONARY_V1)
    with pytest.raises(UnreadableSummary, match=why):
        verify_paper_code(b45encode(deflate.compress(resigned) + deflate.flush()), trust(world))


def test_a_paper_larger_than_a_page_of_codes_is_refused_at_printing(world: World) -> None:
    huge = tuple((f"{label}.{n}", hashlib.sha256(f"{value}{n}".encode()).hexdigest())
                 for n in range(6) for label, value in MEMBERS)
    with pytest.raises(ValueError, match=f"more than the {MAX_PARTS} a page carries"):
        make_paper_code(claims(huge), world.agency_key, world.agency_cert)
