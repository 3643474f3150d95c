"""The auditor's error tree: the only exceptions its parsers and verifier raise.

    VerificationError          code (stable snake_case), message (English; the CLI shows it as is)
    ├── UnreadableInput        unreadable_input   not a printout at all: not a JWS, not JSON, no file
    └── BadTrustRoot           bad_trust_root     the CA certificate file is missing or not a certificate

A printout that can be read but is wrong (bad signature, foreign CA, missing
field, ...) is not an error: ``verify_printout`` returns a ``Report`` with
``valid=False`` naming each failed check.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["BadTrustRoot", "UnreadableInput", "VerificationError"]


class VerificationError(Exception):
    """Base of everything the auditor raises about its inputs."""

    code: ClassVar[str] = "verification_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnreadableInput(VerificationError):
    """The input is not a compact JWS / printout bundle that can be examined at all."""

    code = "unreadable_input"


class BadTrustRoot(VerificationError):
    """The trust root (the linkage CA certificate) cannot be loaded."""

    code = "bad_trust_root"
