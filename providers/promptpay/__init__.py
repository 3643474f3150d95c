"""The PromptPay directory (mock of National ITMX's PromptPay "Any ID" directory): which bank account a
personal ID is linked to for receiving transfers.

``promptpay.account`` is keyed by the personal ID (the PromptPay proxy of type NATID) and answers the bank and the
account it resolves to, the account number masked as banking apps show it; the full number is the switch's to know
and is not a field. A person without a PromptPay registration has no record (NOT_FOUND): that is an answer, not a
fault. Not every agency needs it: in the sandbox only the municipality that pays allowances is granted it, and only
the fields a payment run needs (linkage/cli/sandbox.py).
"""

from __future__ import annotations

from linkage.ids import IdKind
from providers.registry import RECORD_INDEX, RECORD_TABLE, Registry, doc_type, field, record_query

__all__ = ["BANKS", "REGISTRY"]

# (code of the Bank of Thailand's bank list, Thai name, English name): the banks a sandbox account is at.
BANKS: tuple[tuple[str, str, str], ...] = (
    ("002", "ธนาคารกรุงเทพ", "Bangkok Bank"),
    ("004", "ธนาคารกสิกรไทย", "Kasikornbank"),
    ("006", "ธนาคารกรุงไทย", "Krungthai Bank"),
    ("011", "ธนาคารทหารไทยธนชาต", "TMBThanachart Bank"),
    ("014", "ธนาคารไทยพาณิชย์", "Siam Commercial Bank"),
    ("025", "ธนาคารกรุงศรีอยุธยา", "Bank of Ayudhya"),
    ("030", "ธนาคารออมสิน", "Government Savings Bank"),
    ("034", "ธนาคารเพื่อการเกษตรและสหกรณ์การเกษตร", "Bank for Agriculture and Agricultural Cooperatives"),
)

_ACCOUNT = doc_type("promptpay.account", "บัญชีพร้อมเพย์ที่ผูกกับเลขประจำตัวประชาชน",
                    "PromptPay account linked to the personal ID", IdKind.CITIZEN, [
    field("personal_id", "เลขประจำตัวประชาชน (พร้อมเพย์)", "Personal ID (the PromptPay proxy)"),
    field("bank_code", "รหัสธนาคาร", "Bank code (Bank of Thailand)"),
    field("bank_name_th", "ชื่อธนาคาร", "Bank (Thai)"),
    field("bank_name_en", "ชื่อธนาคาร (อังกฤษ)", "Bank"),
    field("account_masked", "เลขที่บัญชี (ปิดบางส่วน)", "Account number (masked)"),
    field("account_name_th", "ชื่อบัญชี", "Account holder's name (Thai)"),
    field("registered_date", "วันที่ลงทะเบียนพร้อมเพย์ (พ.ศ.)", "Date of PromptPay registration (BE, YYYYMMDD)"),
    field("status", "สถานะ", "Status (active / suspended)"),
])

REGISTRY = Registry(
    name="promptpay",
    member="TH/COM/NITMX/promptpay-directory",
    title_th="บริษัท เนชั่นแนล ไอทีเอ็มเอ็กซ์ จำกัด — ทะเบียนพร้อมเพย์",
    title_en="National ITMX — PromptPay directory",
    doc_types={"promptpay.account": _ACCOUNT},
    queries={"promptpay.account": record_query("promptpay.account")},
    schema=(RECORD_TABLE,),
    indexes=(RECORD_INDEX,),
)
