"""The auditor's offline verifier: printouts today; log proofs, PDF and QR checks later."""

from consumers.auditor.bundle import load_printout
from consumers.auditor.cli import run_verify
from consumers.auditor.errors import BadTrustRoot, UnreadableInput, VerificationError
from consumers.auditor.verify import Check, Report, load_trust_root, verify_printout

__all__ = [
    "BadTrustRoot",
    "Check",
    "Report",
    "UnreadableInput",
    "VerificationError",
    "load_printout",
    "load_trust_root",
    "run_verify",
    "verify_printout",
]
