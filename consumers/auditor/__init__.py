"""The auditor's tools: verify printouts (bundle, JWS, signed PDF, QR summary) in seven numbered checks, watch the
audit log, list accesses."""

from consumers.auditor.bundle import (
    AuditInput,
    LogProof,
    PdfFile,
    Printout,
    QrSummary,
    load_input,
    load_printout,
    parse_input,
    parse_printout,
)
from consumers.auditor.cli import HubInputs, run_accesses, run_revoke, run_verify, run_watch
from consumers.auditor.dispatch import verify_input
from consumers.auditor.errors import (
    Alarm,
    BadState,
    BadTrustRoot,
    HubRefused,
    HubUnreachable,
    UnreadableInput,
    UnsupportedInput,
    VerificationError,
)
from consumers.auditor.log import Entry, InclusionProof, LogSource, Revocation
from consumers.auditor.pdf import verify_pdf
from consumers.auditor.qr import decode_picture, verify_qr
from consumers.auditor.report import Check, DocumentReport, PaperReport, Report
from consumers.auditor.state import AuditorState
from consumers.auditor.trustinputs import TrustInputs
from consumers.auditor.verify import Trust, load_trust_root, verify_printout
from consumers.auditor.watch import RoundResult, watch_round

__all__ = [
    "Alarm",
    "AuditInput",
    "AuditorState",
    "BadState",
    "BadTrustRoot",
    "Check",
    "DocumentReport",
    "Entry",
    "HubInputs",
    "HubRefused",
    "HubUnreachable",
    "InclusionProof",
    "LogProof",
    "LogSource",
    "PaperReport",
    "PdfFile",
    "Printout",
    "QrSummary",
    "Report",
    "Revocation",
    "RoundResult",
    "Trust",
    "TrustInputs",
    "UnreadableInput",
    "UnsupportedInput",
    "VerificationError",
    "decode_picture",
    "load_input",
    "load_printout",
    "load_trust_root",
    "parse_input",
    "parse_printout",
    "run_accesses",
    "run_revoke",
    "run_verify",
    "run_watch",
    "verify_input",
    "verify_pdf",
    "verify_printout",
    "verify_qr",
    "watch_round",
]
