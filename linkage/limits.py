"""Abuse limits of the hub and the registries: every number in one place, and the per-agency limiter.

Per agency, from ``[agencies.NAME]`` in linkage.toml (followed while the hub runs):

    rate_per_s, burst   a token bucket: up to ``burst`` calls at once, then ``rate_per_s`` a second
    daily_quota         calls per day; the day is Bangkok's (UTC+7) and the quota resets at midnight

Every hub call costs one token and one unit of quota (FetchDocuments one per document
type, at most ``burst``). It is charged as soon as the certificate names the agency,
before the request is checked or any provider is called, so malformed calls count
too. A refused call is RESOURCE_EXHAUSTED ``rate_limited`` or ``quota_exhausted``
(``LimitExceeded``) with ``retry_after_ms``; it issues nothing and logs nothing but a
warning, at most one per agency every ``REFUSAL_LOG_INTERVAL_S``. Counts live in the
hub process: each replica counts its own, and a restart starts afresh.

Per server, fixed: message sizes, concurrent streams per connection, the length of
every string field of a request (``FIELD_LIMITS``), the batch of FetchDocuments and the
range of GetEntries.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from linkage.errors import InvalidRequest, LimitExceeded

__all__ = [
    "DEFAULT_LIMITS",
    "FIELD_LIMITS",
    "HUB_MAX_RECEIVE",
    "HUB_MAX_SEND",
    "MAX_BATCH",
    "MAX_CONCURRENT_STREAMS",
    "MAX_ENTRIES",
    "PROVIDER_MAX_RECEIVE",
    "PROVIDER_MAX_SEND",
    "AgencyLimiter",
    "AgencyLimits",
    "check_fields",
    "check_length",
    "server_options",
]

_log = logging.getLogger("linkage.limits")

# Message sizes (bytes). Requests are a few hundred bytes; answers carry a sealed record.
HUB_MAX_RECEIVE = 64 * 1024
HUB_MAX_SEND = 4 * 1024 * 1024
PROVIDER_MAX_RECEIVE = 64 * 1024
# What the hub reads from a registry (linkage/hub/routing.py, and the conformance kit's PROVIDER_ANSWER_LIMIT).
PROVIDER_MAX_SEND = 8 * 1024 * 1024
# Calls in flight on one HTTP/2 connection (grpc.max_concurrent_streams); more wait for a free stream.
MAX_CONCURRENT_STREAMS = 256

# Document types in one FetchDocuments call; each at most once.
MAX_BATCH = 16
# Entries in one GetEntries call.
MAX_ENTRIES = 1000

# Longest value of each string (characters) or bytes (bytes) field of a hub or audit request, by field name.
# An ID may carry dashes and spaces ("1-1017-00230-70-8"), hence more than 13.
FIELD_LIMITS: dict[str, int] = {
    "doc_type": 64,
    "doc_types": 64,
    "subject_id": 32,
    "officer_id": 32,
    "citizen_id": 32,
    "purpose": 500,
    "case_ref": 100,
    "reason": 500,
    "printout_id": 64,
    "first_name_th": 100,
    "last_name_th": 100,
    "birth_date": 16,
    "laser_code": 32,
    "leaf_hash": 32,
}
_OTHER_FIELD = 100  # a field added later without its own line above (tests/hub/test_limits.py keeps this unused)

REFUSAL_LOG_INTERVAL_S = 10.0
_TEXT = (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES)
_BANGKOK = dt.timezone(dt.timedelta(hours=7), "ICT")


@dataclass(frozen=True)
class AgencyLimits:
    """How much one agency may call the hub. Raises ValueError naming the key when a value is out of range."""

    rate_per_s: int = 50
    burst: int = 100
    daily_quota: int = 100_000

    def __post_init__(self) -> None:
        for key, high in (("rate_per_s", 1_000_000), ("burst", 10_000_000), ("daily_quota", 10**12)):
            value = getattr(self, key)
            if not 1 <= value <= high:
                raise ValueError(f"{key} must be between 1 and {high}, got {value}")


DEFAULT_LIMITS = AgencyLimits()
"""The limits of an agency whose table in linkage.toml names none."""


@dataclass
class _Account:
    tokens: float
    refilled: float  # monotonic seconds
    day: dt.date
    used_today: int = 0
    refused: int = 0
    logged: float = -math.inf


class AgencyLimiter:
    """Token bucket and daily quota per agency name. Not thread-safe: the hub serves from one event loop.

    ``clock`` (monotonic seconds) and ``now`` (aware datetime) are inputs so that tests can move time.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self._clock = clock
        self._now = now
        self._accounts: dict[str, _Account] = {}

    def admit(self, agency: str, limits: AgencyLimits, cost: int = 1) -> None:
        """Charge ``cost`` calls (at least 1, at most ``limits.burst``) to agency, or raise LimitExceeded.

        A refused call charges nothing. Reasons: ``quota_exhausted`` (retry after the
        next Bangkok midnight), ``rate_limited`` (retry when the bucket holds ``cost``).
        """
        cost = max(1, min(cost, limits.burst))
        moment, today = self._clock(), self._now().astimezone(_BANGKOK)
        account = self._accounts.get(agency)
        if account is None:
            account = self._accounts[agency] = _Account(float(limits.burst), moment, today.date())
        account.tokens = min(float(limits.burst), account.tokens + (moment - account.refilled) * limits.rate_per_s)
        account.refilled = moment
        if account.day != today.date():
            account.day, account.used_today = today.date(), 0
        if account.used_today + cost > limits.daily_quota:
            midnight = dt.datetime.combine(today.date() + dt.timedelta(days=1), dt.time(), _BANGKOK)
            wait_ms = max(1, math.ceil((midnight - today).total_seconds() * 1000))
            self._refused(agency, account, moment, "quota_exhausted")
            raise LimitExceeded(
                "quota_exhausted",
                f"{agency} ใช้โควตาการขอข้อมูลของวันนี้ครบ {limits.daily_quota:,} ครั้งแล้ว ขอใหม่ได้หลังเที่ยงคืน"
                f" / {agency} has used its daily quota of {limits.daily_quota:,} calls; it resets at midnight"
                f" Bangkok time, in {_duration(wait_ms)} (daily_quota in [agencies.{agency}])",
                retry_after_ms=wait_ms)
        if account.tokens < cost:
            wait_ms = max(1, math.ceil((cost - account.tokens) / limits.rate_per_s * 1000))
            self._refused(agency, account, moment, "rate_limited")
            raise LimitExceeded(
                "rate_limited",
                f"{agency} ขอข้อมูลถี่เกินกำหนด กรุณารอ {_duration(wait_ms)} แล้วลองใหม่"
                f" / {agency} is over its rate limit of {limits.rate_per_s} calls/s (burst {limits.burst});"
                f" retry after {_duration(wait_ms)} (rate_per_s, burst in [agencies.{agency}])",
                retry_after_ms=wait_ms)
        account.tokens -= cost
        account.used_today += cost

    def used_today(self, agency: str) -> int:
        """Calls charged to agency since Bangkok's last midnight (as of its last call)."""
        account = self._accounts.get(agency)
        return 0 if account is None else account.used_today

    def _refused(self, agency: str, account: _Account, moment: float, reason: str) -> None:
        account.refused += 1
        if moment - account.logged >= REFUSAL_LOG_INTERVAL_S:
            _log.warning("calls refused since the last such line", extra={"agency": agency, "refused": account.refused,
                                                                           "reason": reason})
            account.refused, account.logged = 0, moment


def _duration(ms: int) -> str:
    if ms < 10_000:
        return f"{ms / 1000:.1f} s"
    minutes = math.ceil(ms / 60_000)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def check_length(name: str, value: str | bytes, limit: int | None = None, *, path: str | None = None) -> None:
    """Raise InvalidRequest ``<name>_too_long`` when value is longer than its limit (FIELD_LIMITS by default)."""
    limit = FIELD_LIMITS.get(name, _OTHER_FIELD) if limit is None else limit
    if len(value) <= limit:
        return
    where = path or name
    unit_th, unit_en = ("ไบต์", "bytes") if isinstance(value, bytes) else ("ตัวอักษร", "characters")
    raise InvalidRequest(f"{name}_too_long", f"{where}: ยาวเกิน {limit} {unit_th} / {where} is {len(value)} {unit_en}"
                         f" long; at most {limit} are allowed")


def check_fields(message: Message, prefix: str = "") -> None:
    """Check every string and bytes field of a request, nested and repeated ones too, against FIELD_LIMITS.

    Raises InvalidRequest ``<field>_too_long`` naming the first field over its limit (``card.laser_code``,
    ``doc_types[2]``). How many items a list may hold is the rule of its method (e.g. MAX_BATCH).
    """
    for field, value in message.ListFields():
        path = f"{prefix}{field.name}"
        items = list(enumerate(value)) if field.is_repeated else [(None, value)]
        for i, item in items:
            where = path if i is None else f"{path}[{i}]"
            if field.type in _TEXT:
                check_length(field.name, item, path=where)
            elif field.type == FieldDescriptor.TYPE_MESSAGE:
                check_fields(item, f"{where}.")


def server_options(max_receive: int, max_send: int) -> list[tuple[str, int]]:
    """The gRPC server options that carry these limits."""
    return [
        ("grpc.max_receive_message_length", max_receive),
        ("grpc.max_send_message_length", max_send),
        ("grpc.max_concurrent_streams", MAX_CONCURRENT_STREAMS),
    ]
