"""Thai QR bill payment (issue 14, item 2, the payload only): written, then decoded field by field (tags,
lengths, CRC) by hand here, and every malformed payload refused with ThaiQrError."""

from __future__ import annotations

from decimal import Decimal

import pytest

from linkage.thaiqr import BillPayment, ThaiQrError, bill_payment_payload, crc16, read_bill_payment

BILL = BillPayment(biller_id="099400016550100", ref1="PHRAPP256900001", amount=Decimal("20"), ref2="PHR256900001")


def test_crc_is_ccitt_false() -> None:
    assert crc16(b"123456789") == "29B1"  # the CRC catalogue's check value of CRC-16/CCITT-FALSE
    assert crc16(b"") == "FFFF"


def test_the_payload_field_by_field() -> None:
    payload = bill_payment_payload(BILL)
    fields, i = [], 0
    while i < len(payload):
        tag, size = payload[i:i + 2], int(payload[i + 2:i + 4])
        fields.append((tag, payload[i + 4:i + 4 + size]))
        i += 4 + size
    assert [t for t, _ in fields] == ["00", "01", "30", "53", "54", "58", "63"]
    values = dict(fields)
    assert values["00"] == "01" and values["01"] == "12" and values["53"] == "764" and values["58"] == "TH"
    assert values["54"] == "20.00"
    assert values["30"] == ("0016A000000677010112" "0115099400016550100" "0215PHRAPP256900001" "0312PHR256900001")
    assert values["63"] == crc16(payload[:-4].encode()) and payload[-8:-4] == "6304"
    assert read_bill_payment(payload) == BillPayment("099400016550100", "PHRAPP256900001", Decimal("20.00"),
                                                     "PHR256900001")


@pytest.mark.parametrize(("bill", "says"), [
    (BillPayment("09940001655010", "A1", Decimal("1")), "15 digits"),
    (BillPayment("099400016550100", "ref-1", Decimal("1")), "reference 1 must be"),
    (BillPayment("099400016550100", "A1", Decimal("0")), "amount must be"),
    (BillPayment("099400016550100", "A1", Decimal("1.005")), "whole satang"),
])
def test_a_field_that_cannot_be_written_is_refused(bill: BillPayment, says: str) -> None:
    with pytest.raises(ThaiQrError, match=says):
        bill_payment_payload(bill)


def _with_crc(body: str) -> str:
    return body + crc16(body.encode())


@pytest.mark.parametrize(("payload", "says"), [
    (bill_payment_payload(BILL)[:-1] + "0", "CRC mismatch"),
    (bill_payment_payload(BILL).replace("20.00", "90.00"), "CRC mismatch"),  # another amount, the old CRC
    (bill_payment_payload(BILL)[:-8], "does not end with a CRC"),
    (_with_crc(bill_payment_payload(BILL)[:-8].replace("5303764", "5303840") + "6304"), "field 53 must be"),
    (_with_crc(bill_payment_payload(BILL)[:-8].replace("A000000677010112", "A000000677010111") + "6304"),
     "bill-payment AID"),
    (_with_crc(bill_payment_payload(BILL)[:-8].replace("540520.00", "5405abcde") + "6304"), "not a number"),
    (_with_crc("000201" "010212" "5303764" "540520.00" "5802TH" "6304"), "no bill-payment template"),
    (_with_crc("000201" "0105ab" "6304"), "field 01 runs past the end"),
    (_with_crc("000201" "000201" "6304"), "field 00 appears twice"),
])
def test_a_malformed_payload_is_refused(payload: str, says: str) -> None:
    with pytest.raises(ThaiQrError, match=says):
        read_bill_payment(payload)
