"""Thai QR Payment, bill-payment form: the EMVCo merchant-presented QR payload (EMV QRCPS-MPM) an agency shows
for a fee, and its reader.

    00 payload format indicator  "01"
    01 point of initiation       "12" (dynamic: one payment, its amount set)
    30 merchant account          the Thai QR bill payment template:
         00 AID "A000000677010112"   01 biller ID (tax ID + 2-digit suffix, 15 digits)
         02 reference 1             03 reference 2 (optional); each up to 20 of A-Z 0-9
    53 currency                  "764" (baht, ISO 4217)
    54 amount                    baht with two decimals, e.g. "20.00"
    58 country                   "TH"
    59 merchant name             optional, ASCII, up to 25
    63 CRC                       CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over the whole payload up to and
                                 including "6304", four upper-case hex digits

Every field is ID (2 digits), length (2 digits), value. The CRC is the standard library's ``binascii.crc_hqx``
seeded with 0xFFFF (checked against the catalogue value 0x29B1 for "123456789"). No maintained PyPI library
writes the bill-payment template (tag 30): ``promptpay``, ``pypromptpay``, ``thaiqrpayment`` write PromptPay
credit transfers (tag 29) and have not been updated since 2020-2022. The writer is checked against the ThaiQR-Go
library's test vector and the CRC against payloads published in other projects (tests/test_thaiqr.py).
``read_bill_payment`` raises only ``ThaiQrError``.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Final

__all__ = ["BILL_PAYMENT_AID", "BillPayment", "ThaiQrError", "bill_payment_payload", "crc16", "read_bill_payment",
           "tlv"]

BILL_PAYMENT_AID: Final = "A000000677010112"
_REF: Final = re.compile(r"^[A-Z0-9]{1,20}$")
_MAX_AMOUNT: Final = Decimal("9999999999.99")


class ThaiQrError(ValueError):
    """A payload that cannot be written or read; the message says which field and why."""


@dataclass(frozen=True)
class BillPayment:
    biller_id: str
    ref1: str
    amount: Decimal
    ref2: str = ""
    merchant_name: str = ""


def crc16(data: bytes) -> str:
    """CRC-16/CCITT-FALSE of ``data`` as four upper-case hex digits."""
    return f"{binascii.crc_hqx(data, 0xFFFF):04X}"


def tlv(tag: str, value: str) -> str:
    if len(tag) != 2 or not tag.isdigit() or not 0 < len(value) <= 99:
        raise ThaiQrError(f"field {tag}: a value of 1-99 characters, got {len(value)}")
    return f"{tag}{len(value):02d}{value}"


def _amount(amount: Decimal) -> str:
    try:
        cents = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise ThaiQrError(f"amount {amount!r} is not a number") from exc
    if cents != amount or not Decimal("0.01") <= cents <= _MAX_AMOUNT:
        raise ThaiQrError(f"amount must be 0.01 to {_MAX_AMOUNT} baht in whole satang, got {amount}")
    return f"{cents:.2f}"


def bill_payment_payload(bill: BillPayment) -> str:
    """The QR payload of one bill payment. Raises ThaiQrError for a field that cannot be written."""
    if not re.fullmatch(r"\d{15}", bill.biller_id):
        raise ThaiQrError(f"biller ID must be 15 digits (tax ID and a 2-digit suffix), got {bill.biller_id!r}")
    for name, ref in (("reference 1", bill.ref1), ("reference 2", bill.ref2)):
        if (ref or name == "reference 1") and not _REF.match(ref):
            raise ThaiQrError(f"{name} must be 1-20 of A-Z and 0-9, got {ref!r}")
    if bill.merchant_name and (not bill.merchant_name.isascii() or len(bill.merchant_name) > 25):
        raise ThaiQrError("merchant name must be ASCII, at most 25 characters")
    account = tlv("00", BILL_PAYMENT_AID) + tlv("01", bill.biller_id) + tlv("02", bill.ref1)
    if bill.ref2:
        account += tlv("03", bill.ref2)
    body = (tlv("00", "01") + tlv("01", "12") + tlv("30", account) + tlv("53", "764") + tlv("54", _amount(bill.amount))
            + tlv("58", "TH") + (tlv("59", bill.merchant_name) if bill.merchant_name else "") + "6304")
    return body + crc16(body.encode("ascii"))


def _fields(data: str, where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    i = 0
    while i < len(data):
        tag, size = data[i:i + 2], data[i + 2:i + 4]
        if len(tag) < 2 or not tag.isdigit() or not size.isdigit():
            raise ThaiQrError(f"{where}: no ID and length at position {i}")
        value = data[i + 4:i + 4 + int(size)]
        if len(value) != int(size):
            raise ThaiQrError(f"{where}: field {tag} runs past the end")
        if tag in out:
            raise ThaiQrError(f"{where}: field {tag} appears twice")
        out[tag] = value
        i += 4 + int(size)
    return out


def read_bill_payment(payload: str) -> BillPayment:
    """Read and check a bill-payment payload, as a payer's banking app would: the CRC first, then the fields a
    payment needs (format 01, initiation 11 or 12, tag 30 with the bill-payment AID and a biller ID, currency 764,
    an amount, country TH). Other EMVCo fields (52 merchant category, 60 city, 62 additional data, …) are read
    past. Raises ThaiQrError."""
    if not payload.isascii() or len(payload) < 8 or payload[-8:-4] != "6304":
        raise ThaiQrError("the payload does not end with a CRC field (6304 and four hex digits)")
    if crc16(payload[:-4].encode("ascii")) != payload[-4:].upper():
        raise ThaiQrError(f"CRC mismatch: the payload says {payload[-4:]}, its content gives"
                          f" {crc16(payload[:-4].encode('ascii'))}")
    top = _fields(payload[:-8], "payload")
    for tag, want in (("00", ("01",)), ("01", ("11", "12")), ("53", ("764",)), ("58", ("TH",))):
        if top.get(tag) not in want:
            raise ThaiQrError(f"field {tag} must be {' or '.join(want)}, got {top.get(tag)!r}")
    if "30" not in top:
        raise ThaiQrError("no bill-payment template (field 30)")
    account = _fields(top["30"], "field 30")
    if account.get("00") != BILL_PAYMENT_AID:
        raise ThaiQrError(f"field 30.00 must be the bill-payment AID {BILL_PAYMENT_AID}, got {account.get('00')!r}")
    if not re.fullmatch(r"\d{15}", account.get("01", "")) or not account.get("02"):
        raise ThaiQrError("field 30 needs a 15-digit biller ID (01) and a reference 1 (02)")
    if not re.fullmatch(r"\d{1,10}(\.\d{1,2})?", top.get("54", "")) or Decimal(top["54"]) <= 0:
        raise ThaiQrError(f"field 54 (amount) must be an amount of baht such as 20.00, got {top.get('54')!r}")
    return BillPayment(biller_id=account["01"], ref1=account["02"], amount=Decimal(top["54"]),
                       ref2=account.get("03", ""), merchant_name=top.get("59", ""))
