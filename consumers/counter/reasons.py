"""Why a document of a case could not be fetched, as the officer reads it, and whether trying again can help.

The hub answers with a stable reason code (``no_right``, ``citizen_not_present``, ``record_not_found``, …)
and a message written for developers, which names codes: the document type, the agency, the registry.
``explain`` turns the code into a Thai and an English sentence naming the document and the registry by
their titles; the code and the hub's own message stay for the auditor's detail on the page.

A retry is offered only where it can help: the hub marks a failure retryable (a registry down, a
rate limit), the citizen can still come with their card, the counter stopped mid-fetch, or the answer
failed the checks on receipt. Anything else (no right to the type, no such record) the applicant must
bring on paper, and the case lists it with what they still bring.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["INTERRUPTED", "REVOKED", "Explained", "explain", "provider_name"]

# The counter's own reason: it stopped between asking the hub and storing the answer.
INTERRUPTED: Final = "fetch_interrupted"
# The counter's own too: the officer revoked the copy fetched (a mis-printed copy); a new one can be fetched.
REVOKED: Final = "printout_revoked"

# The registries behind the hub, by their provider name. The hub's API names a provider only by code.
_PROVIDERS: Final = {
    "dopa": ("กรมการปกครอง", "the Department of Provincial Administration"),
    "dbd": ("กรมพัฒนาธุรกิจการค้า", "the Department of Business Development"),
    "edu": ("กระทรวงการอุดมศึกษา วิทยาศาสตร์ วิจัยและนวัตกรรม",
            "the Ministry of Higher Education, Science, Research and Innovation"),
    "promptpay": ("ระบบพร้อมเพย์ (บริษัท เนชั่นแนล ไอทีเอ็มเอ็กซ์ จำกัด)", "the PromptPay directory (National ITMX)"),
}
_SOME_PROVIDER: Final = ("หน่วยงานเจ้าของข้อมูล", "the registry that holds it")

# reason -> (Thai, English); {th}/{en} is the document's title, {p_th}/{p_en} the registry's name.
_TEXTS: Final = {
    INTERRUPTED: ("ระบบเคาน์เตอร์หยุดทำงานก่อนได้รับเอกสารฉบับนี้ กรุณากดลองดึงอีกครั้ง",
                  "The counter stopped before this document arrived; press retry."),
    REVOKED: ("{th} ฉบับที่ดึงไว้ถูกเพิกถอนแล้ว สำเนาที่พิมพ์จากฉบับนั้นตรวจสอบไม่ผ่านอีกต่อไป กดลองดึงอีกครั้งเพื่อรับฉบับใหม่",
              "The {en} fetched before was revoked: copies printed from it no longer verify. Retry to fetch a new"
              " one."),
    "citizen_not_present": ("{th} ให้ได้เฉพาะเมื่อเจ้าของข้อมูลมาแสดงตนพร้อมบัตร เมื่อผู้ยื่นมาพร้อมบัตรแล้ว"
                            " ให้ทำเครื่องหมายด้านล่างแล้วกดลองดึงอีกครั้ง",
                            "The {en} is given only when its owner is here with their ID card: once the applicant"
                            " is, tick the box below and retry."),
    "no_right": ("หน่วยงานนี้ไม่ได้รับสิทธิ์ขอ{th}ผ่านระบบเชื่อมโยง ดึงอีกครั้งก็ไม่ได้ ผู้ยื่นต้องนำเอกสารนี้มาเอง",
                 "This office has no right to the {en} through the linkage; retrying cannot help: the applicant"
                 " must bring it."),
    "record_not_found": ("{p_th}ไม่มีข้อมูล{th}ของเลขประจำตัวนี้ ผู้ยื่นต้องนำเอกสารนี้มาเอง",
                         "{p_en} has no {en} for this ID: the applicant must bring it."),
    "officer_not_registered": ("เลขประจำตัวของท่านยังไม่ได้ลงทะเบียนเป็นเจ้าหน้าที่ของหน่วยงานนี้ในระบบเชื่อมโยง"
                               " กรุณาติดต่อผู้ดูแลระบบ",
                               "Your ID is not registered as an officer of this office with the linkage;"
                               " ask the administrator."),
    "rate_limited": ("ศูนย์กลางจำกัดจำนวนคำขอของหน่วยงานนี้ชั่วคราว กรุณารอสักครู่แล้วลองดึงอีกครั้ง",
                     "The hub is holding back this office's requests for a moment; wait a little and retry."),
    "quota_exhausted": ("หน่วยงานนี้ใช้โควตาคำขอของวันนี้ครบแล้ว กรุณาติดต่อผู้ดูแลระบบ",
                        "This office has used up today's quota of requests; ask the administrator."),
    "printout_invalid": ("เอกสารที่ได้รับตรวจสอบตราประทับไม่ผ่าน ระบบจึงไม่แสดง กรุณาลองดึงอีกครั้ง",
                         "The document that arrived failed the seal check and is not shown; retry."),
    "printout_not_requested": ("เอกสารที่ได้รับไม่ตรงกับคำขอ ระบบจึงไม่แสดง กรุณาลองดึงอีกครั้ง",
                               "The document that arrived does not answer the request and is not shown; retry."),
    "citizen_card_missing": ("ไม่พบบัตรประจำตัวประชาชนของผู้ยื่นในเครื่องอ่านบัตร กรุณาเสียบบัตรแล้วลองดึงอีกครั้ง",
                             "The applicant's ID card is not in the card reader; insert it and retry."),
    "card_voided": ("บัตรประจำตัวประชาชนของผู้ยื่นถูกยกเลิกแล้ว จึงยืนยันการมาแสดงตนไม่ได้ ผู้ยื่นต้องทำบัตรใหม่",
                    "The applicant's ID card has been voided, so it cannot prove they are here: they need a new"
                    " card."),
    "card_expired": ("บัตรประจำตัวประชาชนของผู้ยื่นหมดอายุแล้ว จึงยืนยันการมาแสดงตนไม่ได้ ผู้ยื่นต้องต่ออายุบัตร",
                     "The applicant's ID card has expired, so it cannot prove they are here: they need to renew"
                     " it."),
    "card_of_another_person": ("บัตรในเครื่องอ่านเป็นของบุคคลอื่น ไม่ใช่ของผู้ยื่น",
                               "The card in the reader is another person's, not the applicant's."),
}
# The card's proof did not hold for a reason a new reading can fix (a challenge spent or expired, a signature
# that came out wrong): read the card again.
_CARD_AGAIN: Final = ("ยืนยันการมาแสดงตนด้วยบัตรไม่สำเร็จ กรุณาเสียบบัตรใหม่แล้วลองดึงอีกครั้ง",
                      "The card could not prove the applicant is here; insert it again and retry.")
_CARD_REASONS: Final = frozenset({"challenge_used", "challenge_expired", "challenge_unknown",
                                  "card_signature_invalid", "card_not_registered", "card_certificate_invalid",
                                  "presence_proof_missing", "presence_proof_malformed"})
# A registry that did not answer, or answered with an error: it may well answer a retry.
_PROVIDER_DOWN: Final = ("{p_th}ไม่พร้อมให้บริการในขณะนี้ กรุณาลองดึงอีกครั้งภายหลัง",
                         "{p_en} cannot serve this right now; retry later.")
_RETRYABLE: Final = ("ระบบเชื่อมโยงข้อมูลไม่สามารถให้บริการได้ในขณะนี้ กรุณาลองดึงอีกครั้ง",
                     "The linkage could not serve this right now; retry.")
# Not retryable by the hub's word, but a retry can still help: once the citizen is here, after a crash, or
# when the answer that came failed the checks on receipt.
_FIXABLE: Final = frozenset({INTERRUPTED, REVOKED, "citizen_not_present", "printout_invalid", "printout_not_requested",
                             "citizen_card_missing", "card_of_another_person", *_CARD_REASONS})
_REFUSED: Final = ("ระบบเชื่อมโยงไม่ส่งเอกสารนี้ให้ ผู้ยื่นต้องนำเอกสารนี้มาเอง (รายละเอียดสำหรับผู้ตรวจสอบอยู่ด้านล่าง)",
                   "The linkage refused this document: the applicant must bring it (details for auditors below).")


@dataclass(frozen=True)
class Explained:
    """A problem as the officer reads it, in Thai and in English; ``retry`` when trying again can help (else
    the applicant must bring the document)."""

    th: str
    en: str
    retry: bool


def provider_name(provider: str) -> tuple[str, str]:
    """The registry's name in Thai and English; a provider the counter does not know is "the registry"."""
    return _PROVIDERS.get(provider, _SOME_PROVIDER)


def explain(reason: str, *, retryable: bool, provider: str, title_th: str, title_en: str) -> Explained:
    """The officer's sentence for ``reason`` about the document titled ``title_th`` / ``title_en`` (never a
    code), and whether a retry can help."""
    texts = _TEXTS.get(reason) or (_CARD_AGAIN if reason in _CARD_REASONS else None)
    if texts is None:
        if reason.startswith("provider_") or (provider and retryable):
            texts = _PROVIDER_DOWN
        else:
            texts = _RETRYABLE if retryable else _REFUSED
    p_th, p_en = provider_name(provider)
    th, en = texts
    return Explained(th.format(th=title_th, p_th=p_th), en.format(en=title_en, p_en=p_en[:1].upper() + p_en[1:]),
                     retry=retryable or reason in _FIXABLE)
