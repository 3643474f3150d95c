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


def test_the_writer_matches_a_published_vector() -> None:
    # ThaiQR/ThaiQR-Go's test of MerchantBillpaymentQRGenerate: the same fields in the same order, the same CRC.
    bill = BillPayment("011234567891233", "REF123456789", Decimal("200.00"), "REF987654321", "THAIQR")
    assert bill_payment_payload(bill) == ("00020101021230710016A00000067701011201150112345678912330212REF123456789"
                                          "0312REF98765432153037645406200.005802TH5906THAIQR6304F528")


@pytest.mark.parametrize(("payload", "expected"), [
    # Bill-payment codes published in open-source projects (a decoder's tests, a shop's page): each with its
    # own CRC, and fields this writer does not emit (52 merchant category, 62 additional data, initiation 11).
    ("00020101021130750016A00000067701011201150107537000882050219ZY010556UP8013305E80309MDMBEN38J530376454069"
     "00.045802TH622407200000yJMlWBD1ltXF6zJf6304858E",
     BillPayment("010753700088205", "ZY010556UP8013305E8", Decimal("900.04"), "MDMBEN38J")),
    ("00020101021230870016A00000067701011201150205565052805020220ZYZRM7LJKIHW852LI6BJ0320LV182T0VX97RFFYNH7LK53"
     "0376454031005802TH62240720PQRMGGT5EFY77KDP2QDI6304DBCF",
     BillPayment("020556505280502", "ZYZRM7LJKIHW852LI6BJ", Decimal("100"), "LV182T0VX97RFFYNH7LK")),
    ("00020101021230540016A0000006770101120115010556207402702021125062781065520412345303764540510.005802TH5902NA"
     "6304CE42",
     BillPayment("010556207402702", "25062781065", Decimal("10.00"), "", "NA")),
])
def test_published_bill_payment_codes_read_field_by_field(payload: str, expected: BillPayment) -> None:
    assert read_bill_payment(payload) == expected


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
    (_with_crc(bill_payment_payload(BILL)[:-8].replace("540520.00", "5405abcde") + "6304"), "an amount of baht"),
    (_with_crc(bill_payment_payload(BILL)[:-8].replace("540520.00", "") + "6304"), "an amount of baht"),
    (_with_crc("000201" "010212" "5303764" "540520.00" "5802TH" "6304"), "no bill-payment template"),
    (_with_crc("000201" "0105ab" "6304"), "field 01 runs past the end"),
    (_with_crc("000201" "000201" "6304"), "field 00 appears twice"),
])
def test_a_malformed_payload_is_refused(payload: str, says: str) -> None:
    with pytest.raises(ThaiQrError, match=says):
        read_bill_payment(payload)
