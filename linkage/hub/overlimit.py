"""What the hub tells a call over a limit of linkage/limits.py: an agency over its daily quota (quota_exhausted)
or its rate (rate_limited), both to retry after ``retry_after_ms``, and a FetchDocuments or RequestConsent batch of
document types that is empty, repeats one or holds more than MAX_BATCH (check_batch).

Both limiters raise these: AgencyLimiter (linkage/hub/rules.py, step 2) and SharedLimiter (linkage/hub/sharedlimits.py).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

from linkage.errors import InvalidRequest, LimitExceeded
from linkage.limits import BANGKOK, MAX_BATCH, AgencyLimits

__all__ = ["check_batch", "quota_exhausted", "rate_limited"]


def quota_exhausted(agency: str, limits: AgencyLimits, today: dt.datetime) -> LimitExceeded:
    """The refusal of a call over the agency's daily quota; ``today`` is now in Bangkok."""
    midnight = dt.datetime.combine(today.date() + dt.timedelta(days=1), dt.time(), BANGKOK)
    wait_ms = max(1, math.ceil((midnight - today).total_seconds() * 1000))
    return LimitExceeded(
        "quota_exhausted",
        f"{agency} ใช้โควตาการขอข้อมูลของวันนี้ครบ {limits.daily_quota:,} ครั้งแล้ว ขอใหม่ได้หลังเที่ยงคืน",
        f"{agency} has used its daily quota of {limits.daily_quota:,} calls; it resets at midnight"
        f" Bangkok time, in {_duration(wait_ms)} (daily_quota in [agencies.{agency}])",
        retry_after_ms=wait_ms)


def rate_limited(agency: str, limits: AgencyLimits, wait_ms: int) -> LimitExceeded:
    """The refusal of a call over the agency's rate, to be retried after ``wait_ms``."""
    return LimitExceeded(
        "rate_limited",
        f"{agency} ขอข้อมูลถี่เกินกำหนด กรุณารอ {_duration(wait_ms)} แล้วลองใหม่",
        f"{agency} is over its rate limit of {limits.rate_per_s} calls/s (burst {limits.burst});"
        f" retry after {_duration(wait_ms)} (rate_per_s, burst in [agencies.{agency}])",
        retry_after_ms=wait_ms)


def _duration(ms: int) -> str:
    if ms < 10_000:
        return f"{ms / 1000:.1f} s"
    minutes = math.ceil(ms / 60_000)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def check_batch(doc_types: Sequence[str]) -> None:
    """1 to MAX_BATCH document types, none twice; else InvalidRequest."""
    if not doc_types:
        raise InvalidRequest("doc_types_missing", "ต้องระบุประเภทเอกสารอย่างน้อยหนึ่งประเภท",
                             "name at least one document type", field="doc_types")
    if len(doc_types) > MAX_BATCH:
        raise InvalidRequest("batch_too_large", f"ขอได้ไม่เกิน {MAX_BATCH} ประเภทต่อครั้ง",
                             f"at most {MAX_BATCH} document types per call, got {len(doc_types)}", field="doc_types")
    if len(set(doc_types)) != len(doc_types):
        raise InvalidRequest("doc_types_repeated", "มีประเภทเอกสารซ้ำ", "a document type is named more than once",
                             field="doc_types")
