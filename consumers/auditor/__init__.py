"""The auditor's tools: verify printouts in seven numbered checks, watch the audit log, list accesses."""

from consumers.auditor.bundle import LogProof, Printout, load_printout, parse_printout
from consumers.auditor.cli import HubInputs, TrustInputs, run_accesses, run_revoke, run_verify, run_watch
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
from consumers.auditor.state import AuditorState
from consumers.auditor.verify import Check, Report, Trust, load_trust_root, verify_printout
from consumers.auditor.watch import RoundResult, watch_round

__all__ = [
    "Alarm",
    "AuditorState",
    "BadState",
    "BadTrustRoot",
    "Check",
    "Entry",
    "HubInputs",
    "HubRefused",
    "HubUnreachable",
    "InclusionProof",
    "LogProof",
    "LogSource",
    "Printout",
    "Report",
    "Revocation",
    "RoundResult",
    "Trust",
    "TrustInputs",
    "UnreadableInput",
    "UnsupportedInput",
    "VerificationError",
    "load_printout",
    "load_trust_root",
    "parse_printout",
    "run_accesses",
    "run_revoke",
    "run_verify",
    "run_watch",
    "verify_printout",
    "watch_round",
]
