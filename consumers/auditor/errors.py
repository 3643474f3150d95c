"""The auditor's error tree: the only exceptions its parsers, verifier and monitor raise.

    VerificationError          code (stable snake_case), message and message_en (English; the CLI shows it as
                               is), message_th (Thai, where a person holding a paper meets it: a photo without
                               a QR code, ...)
    ├── UnreadableInput        unreadable_input    not a printout at all: not a JWS, not JSON, no file, an
    │                                              empty file, a PDF pyHanko cannot parse, a picture without
    │                                              a QR code, a QR code that is not a printout summary
    ├── UnsupportedInput       unsupported_input   a paper form (PDF, QR) handed to a reader of single
    │                                              printouts (``load_printout``); ``load_input`` reads it
    ├── BadTrustRoot           bad_trust_root      a trust input is missing or unusable: the CA
    │                                              certificate, the log's verifier key, its origin
    ├── BadState               bad_state           the auditor's state file cannot be read or written
    ├── HubUnreachable         hub_unreachable     an online check could not ask the hub
    ├── HubRefused             hub_refused         the hub answered with an error (no such printout,
                                                   cannot prove that, not allowed); ``hub_code`` is the
                                                   hub's code (``linkage.errors``), e.g. not_an_auditor
    └── Alarm                  fork, rollback, rewritten_entry, bad_checkpoint, backdated, bad_officer_proof,
                               bad_presence (an entry's card proof fails: check 11)
                                                   the monitor caught the log misbehaving; unwitnessed:
                                                   its checkpoint lacks the witnesses' quorum (they
                                                   may be down: ``audit watch`` asks again)

A printout that can be read but is wrong (bad signature, foreign CA, a proof
that leads elsewhere, a PDF changed after signing or with its signature
stripped, a QR summary signed by a stranger, ...) is not an error: the
verifier returns a ``Report`` (or a ``PaperReport``) with ``valid=False``
naming each failed check. Exit codes: an
``Alarm`` or an invalid report is 1, every other error here is 2.
"""

from __future__ import annotations

from typing import ClassVar, Literal

__all__ = [
    "Alarm",
    "AlarmCode",
    "BadState",
    "BadTrustRoot",
    "HubRefused",
    "HubUnreachable",
    "UnreadableInput",
    "UnsupportedInput",
    "VerificationError",
]


class VerificationError(Exception):
    """Base of everything the auditor raises about its inputs."""

    code: ClassVar[str] = "verification_error"

    def __init__(self, message: str, message_th: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.message_en = message
        self.message_th = message_th


class UnreadableInput(VerificationError):
    """The input is not a compact JWS / printout bundle that can be examined at all."""

    code = "unreadable_input"


class UnsupportedInput(VerificationError):
    """A paper form (a PDF, a QR summary or its picture) given to ``load_printout``, which reads one printout."""

    code = "unsupported_input"


class BadTrustRoot(VerificationError):
    """A trust input (the linkage CA certificate, the log's note key or origin) cannot be loaded."""

    code = "bad_trust_root"


class BadState(VerificationError):
    """The auditor's state file (the checkpoints it has seen) is unreadable or cannot be written."""

    code = "bad_state"


class HubUnreachable(VerificationError):
    """An online check needed the hub and could not get an answer from it."""

    code = "hub_unreachable"


class HubRefused(VerificationError):
    """The hub answered an online check with an error; ``hub_code`` is the hub's own stable code."""

    code = "hub_refused"

    def __init__(self, hub_code: str, message: str) -> None:
        super().__init__(message)
        self.hub_code = hub_code


AlarmCode = Literal["fork", "rollback", "rewritten_entry", "bad_checkpoint", "backdated", "unwitnessed",
                  "bad_officer_proof", "bad_presence"]


class Alarm(VerificationError):
    """The log contradicts itself or what this auditor saw before; ``kind`` says how."""

    code = "log_alarm"

    def __init__(self, kind: AlarmCode, message: str) -> None:
        super().__init__(message)
        self.kind: AlarmCode = kind
