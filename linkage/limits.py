"""Abuse limits of the hub and the registries: every number in one place.

Per agency, from ``[agencies.NAME]`` in linkage.toml (followed while the hub runs):

    rate_per_s, burst   a token bucket: up to ``burst`` calls at once, then ``rate_per_s`` a second
    daily_quota         calls per day; the day is Bangkok's (UTC+7) and the quota resets at midnight

Every hub call costs one token and one unit of quota (FetchDocuments one per document
type, at most ``burst``). It is charged as soon as the certificate names the agency,
before the request is checked or any provider is called, so malformed calls count
too. A refused call is RESOURCE_EXHAUSTED ``rate_limited`` or ``quota_exhausted``
(``LimitExceeded``, linkage/hub/overlimit.py) with ``retry_after_ms``; it issues nothing and logs nothing but a
warning, at most one per agency every ``REFUSAL_LOG_INTERVAL_S``. With SQLite the counts
live in the hub process (a restart starts afresh); on PostgreSQL every replica leases them from
one row per agency (linkage/hub/sharedlimits.py), so replicas together hold the limits. The hub admits
a call in one place, ``Hub.admit`` in linkage/hub/rules.py, which holds the limiter.

Per server, fixed: message sizes, concurrent streams per connection, the length of
every string field of a request (``FIELD_LIMITS``), the batch of FetchDocuments, the hub's
batch reads from a registry (``MAX_PROVIDER_BATCH``, ``PROVIDER_BATCH_ANSWER``) and the range of GetEntries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = [
    "BANGKOK",
    "CONSENT_APPROVED_S",
    "CONSENT_PENDING_S",
    "DEFAULT_LIMITS",
    "FIELD_LIMITS",
    "HUB_MAX_RECEIVE",
    "HUB_MAX_SEND",
    "MAX_BATCH",
    "MAX_CONCURRENT_STREAMS",
    "MAX_ENTRIES",
    "MAX_PROVIDER_BATCH",
    "OTHER_FIELD_LIMIT",
    "PROVIDER_BATCH_ANSWER",
    "PROVIDER_MAX_RECEIVE",
    "PROVIDER_MAX_SEND",
    "REFUSAL_LOG_INTERVAL_S",
    "AgencyLimits",
    "server_options",
]

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
# Reads in one BatchGetRecords call to a registry: the most the hub sends, the least a registry must accept.
MAX_PROVIDER_BATCH = 64
# A registry's BatchGetRecords answer stays below this (bytes); an entry that would pass it is read alone.
PROVIDER_BATCH_ANSWER = 4 * 1024 * 1024

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
    # Officer sign-in (linkage/hub/officers.py): the session secret, the signed statement, key id, signature.
    "officer_session": 100,
    "statement": 1024,
    "kid": 64,
    "signature": 128,
    "webauthn_assertion": 4096,
    "code": 32,
    "credential": 4096,
    "challenge": 128,
    "card_certificate": 1024,
    "consent_id": 64,
}
# A field added later without its own line above (tests/hub/test_limits.py keeps this unused).
OTHER_FIELD_LIMIT = 100

# How long a citizen's pending consent waits for their decision, and an approved one for its one fetch (seconds).
CONSENT_PENDING_S = 24 * 3600.0
CONSENT_APPROVED_S = 24 * 3600.0

# The daily quota's day: Bangkok's (UTC+7).
BANGKOK = dt.timezone(dt.timedelta(hours=7), "ICT")

# At most one warning per agency this often about its refused calls.
REFUSAL_LOG_INTERVAL_S = 10.0


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


def server_options(max_receive: int, max_send: int) -> list[tuple[str, int]]:
    """The gRPC server options that carry these limits."""
    return [
        ("grpc.max_receive_message_length", max_receive),
        ("grpc.max_send_message_length", max_send),
        ("grpc.max_concurrent_streams", MAX_CONCURRENT_STREAMS),
    ]
