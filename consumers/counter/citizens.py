"""The citizen's page, beyond the list: their consents as they read them, the short-lived token that lets them
decide one without typing their card again, and the check of what the hub lists against the log itself.

``CitizenTokens`` keeps, in the counter's memory only and for ``TOKEN_TTL_S``, the card details the hub accepted
for a citizen's page: a decision is sent with them, as the citizen's own request. ``proved_against_log`` is the
auditor's log check applied to the page: the newest checkpoint (signed by the pinned log key) is consistent with
the last one this counter saw, and each listed access is an entry of the tree under it (its inclusion proof),
naming the same printout; the page says what passed, or what did not.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from consumers.counter.display import field_rows, issued_text
from linkage import merkle
from linkage.checkpoint import Checkpoint, CheckpointError, NoteVerifier, open_checkpoint, parse_verifier_key
from linkage.config import ConfigError, Home, load_settings
from linkage.errors import LinkageError
from linkage.v1 import audit_pb2, common_pb2, hub_pb2, provider_pb2

__all__ = ["TOKEN_TTL_S", "CitizenTokens", "proved_against_log", "shown_consent"]

TOKEN_TTL_S = 600.0
_MAX_TOKENS = 10_000
# Accesses proved on one page view (two calls each); a longer history says how many were proved.
_MAX_PROVED = 50
_STATUS = {"pending": ("รอการตัดสินใจของท่าน", "waiting for your decision"),
           "approved": ("ท่านให้ความยินยอมแล้ว ยังไม่ได้ใช้", "approved, not used yet"),
           "refused": ("ท่านปฏิเสธแล้ว", "refused"), "used": ("ใช้ไปแล้ว", "used"),
           "expired": ("หมดอายุ", "expired")}


@dataclass
class CitizenTokens:
    """Citizens' page tokens (card details the hub accepted), and the newest checkpoint this counter saw."""

    _held: OrderedDict[str, tuple[float, str, provider_pb2.CheckCardRequest]] = field(default_factory=OrderedDict)
    last_checkpoint: Checkpoint | None = None

    def open(self, subject: str, card: provider_pb2.CheckCardRequest) -> str:
        now = time.monotonic()
        while self._held and (len(self._held) >= _MAX_TOKENS or next(iter(self._held.values()))[0] < now):
            self._held.popitem(last=False)
        token = secrets.token_urlsafe(24)
        self._held[token] = (now + TOKEN_TTL_S, subject, card)
        return token

    def get(self, token: str) -> tuple[str, provider_pb2.CheckCardRequest] | None:
        held = self._held.get(token)
        if held is None or held[0] < time.monotonic():
            return None
        return held[1], held[2]


def shown_consent(consent: hub_pb2.Consent, titles: Mapping[str, str],
                  doc_types: Mapping[str, common_pb2.DocumentType], lang: str) -> dict[str, Any]:
    """A consent as the citizen reads it: the office by name, the documents by title, what would be sent."""
    def title(code: str, th: str = "", en: str = "") -> str:
        spec = doc_types.get(code)
        return ((spec.title_th if lang == "th" else spec.title_en) if spec is not None else (th if lang == "th"
                else en)) or code

    preview = []
    for item in consent.preview:
        data = json.loads(item.data_json) if item.data_json else {}
        preview.append({"title": title(item.doc_type, item.title_th, item.title_en), "problem": item.problem,
                        "rows": field_rows(doc_types.get(item.doc_type), data, lang) if data else []})
    th, en = _STATUS.get(consent.status, (consent.status, consent.status))
    return {"id": consent.consent_id, "agency": titles.get(consent.agency, consent.agency),
            "documents": [title(t) for t in consent.doc_types], "purpose": consent.purpose,
            "status": consent.status, "status_text": th if lang == "th" else en, "case_ref": consent.case_ref,
            "asked": issued_text(consent.requested_at, lang), "preview": preview}


async def proved_against_log(app: web.Application, accesses: Sequence[audit_pb2.Access]) -> dict[str, Any]:
    """Check what the hub listed against its log; ``{"ok": True|False|None, "th", "en"}`` for the page."""
    from consumers.counter.state import HUB, STATE

    hub, tokens = app[HUB], app[STATE].citizens
    pinned = _log_trust(app[STATE].settings.home)
    if pinned is None:
        return {"ok": None, "th": "ไม่ได้ตรวจกับบันทึก (ไม่มีกุญแจของบันทึก)", "en": "not checked against the log"
                " (no log key)"}
    try:
        cp = open_checkpoint(await hub.checkpoint(), [pinned[0]], pinned[1])
        last = tokens.last_checkpoint
        if last is not None and cp.size < last.size:
            raise ValueError(f"the log shrank: size {cp.size} after {last.size}")
        if last is not None and 0 < last.size < cp.size:
            proof = await hub.consistency_proof(last.size, cp.size)
            merkle.verify_consistency(last.size, cp.size, proof, last.root_hash, cp.root_hash)
        elif last is not None and last.size == cp.size and last.root_hash != cp.root_hash:
            raise ValueError(f"two roots at size {cp.size}")
        listed = sorted(accesses, key=lambda a: a.log_index, reverse=True)[:_MAX_PROVED]  # the newest
        for access in listed:
            [entry] = await hub.entries(access.log_index, access.log_index + 1)
            if json.loads(entry.leaf).get("printout_id") != access.printout_id:
                raise ValueError(f"entry {access.log_index} is not printout {access.printout_id}")
            path = await hub.inclusion_proof(access.log_index, cp.size)
            merkle.verify_inclusion(merkle.leaf_hash(entry.leaf), access.log_index, cp.size, path.hashes,
                                    cp.root_hash)
    except (CheckpointError, merkle.MerkleError, LinkageError, ValueError) as exc:
        return {"ok": False, "th": "รายการที่แสดงไม่ตรงกับบันทึกการแลกเปลี่ยนข้อมูล กรุณาแจ้งหน่วยตรวจสอบ",
                "en": f"what is listed does not match the exchange log ({str(exc)[:200]}); tell an auditor"}
    tokens.last_checkpoint = cp
    more = len(accesses) - len(listed)
    th = (f"ตรวจกับบันทึกแล้ว: ทุกรายการอยู่ในบันทึกการแลกเปลี่ยนข้อมูลขนาด {cp.size:,} รายการ"
          " ซึ่งต่อเนื่องกับบันทึกที่ตรวจครั้งก่อน") + (f" (ตรวจ {len(listed)} รายการล่าสุด)" if more > 0 else "")
    en = (f"checked against the log: every listed access is in the exchange log of {cp.size:,} entries, one"
          " history with the one this counter saw before") + (f" (the newest {len(listed)})" if more > 0 else "")
    return {"ok": True, "th": th, "en": en}


def _log_trust(home: Home) -> tuple[NoteVerifier, str] | None:
    """The log's verifier key and origin the counter pins: its sandbox's (DIR/pki/log-note.vkey, linkage.toml)."""
    try:
        return (parse_verifier_key(home.log_note_vkey.read_text(encoding="ascii").strip()),
                load_settings(home).hub.log_origin)
    except (OSError, ValueError, CheckpointError, ConfigError):
        return None
