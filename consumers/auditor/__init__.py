"""The auditor's tools: verify printouts (bundle, JWS, signed PDF, QR summary) in seven numbered checks, watch the
audit log, list accesses."""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Each name is imported from its module when first asked for, so that `linkage verify` of a bundle does not
# import the PDF, paper-code and hub-client checks it does not use (PEP 562).
_MODULES: dict[str, str] = {
    "Alarm": "consumers.auditor.errors",
    "AuditInput": "consumers.auditor.bundle",
    "AuditorState": "consumers.auditor.state",
    "BadState": "consumers.auditor.errors",
    "BadTrustRoot": "consumers.auditor.errors",
    "Check": "consumers.auditor.report",
    "DocumentReport": "consumers.auditor.report",
    "Entry": "consumers.auditor.log",
    "HubInputs": "consumers.auditor.cli",
    "HubRefused": "consumers.auditor.errors",
    "HubUnreachable": "consumers.auditor.errors",
    "InclusionProof": "consumers.auditor.log",
    "LogProof": "consumers.auditor.bundle",
    "LogSource": "consumers.auditor.log",
    "PaperReport": "consumers.auditor.report",
    "PdfFile": "consumers.auditor.bundle",
    "Printout": "consumers.auditor.bundle",
    "QrSummary": "consumers.auditor.bundle",
    "Report": "consumers.auditor.report",
    "Revocation": "consumers.auditor.log",
    "RoundResult": "consumers.auditor.watch",
    "Trust": "consumers.auditor.verify",
    "TrustInputs": "consumers.auditor.trustinputs",
    "UnreadableInput": "consumers.auditor.errors",
    "UnsupportedInput": "consumers.auditor.errors",
    "VerificationError": "consumers.auditor.errors",
    "decode_picture": "consumers.auditor.qr",
    "load_input": "consumers.auditor.bundle",
    "load_printout": "consumers.auditor.bundle",
    "load_trust_root": "consumers.auditor.verify",
    "parse_input": "consumers.auditor.bundle",
    "parse_printout": "consumers.auditor.bundle",
    "run_accesses": "consumers.auditor.cli",
    "run_revoke": "consumers.auditor.cli",
    "run_verify": "consumers.auditor.cli",
    "run_watch": "consumers.auditor.cli",
    "verify_input": "consumers.auditor.dispatch",
    "verify_pdf": "consumers.auditor.pdf",
    "verify_printout": "consumers.auditor.verify",
    "verify_qr": "consumers.auditor.qr",
    "watch_round": "consumers.auditor.watch",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

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
