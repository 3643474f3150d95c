"""The provider conformance kit: will a registry work behind the hub, before an agency connects it?

    linkage conformance --provider HOST:PORT [--home DIR | --ca FILE --cert FILE --key FILE]
                        [--id DOC_TYPE=ID ...] [--junit FILE] [--timeout S]

``run_suite(target, credentials, samples, timeout=...)`` first makes sure the target can be tested at
all: it resolves, accepts a TCP connection, completes a TLS handshake with a certificate from the
given CA, agrees to HTTP/2 and answers ``linkage.v1.ProviderService/Describe``. Anything else is a
``TargetError`` (exit 2), reported at once. Then it runs the checks below in order and returns a
``Report``: one ``Result`` per check, passed or with the problems found, each saying what was
expected and what came back. Calls within a check run together, each with the call deadline, so a
provider that hangs costs one deadline per check, never a hang of the kit.

    errors.py     the error tree below
    probe.py      reaching the target: TCP, TLS, HTTP/2 (the credentials the kit shows)
    calls.py      one call with a deadline the kit enforces, and how it ended (status, ErrorInfo)
    state.py      what the checks share: Describe's answer, the samples, the records and refusals seen
    checks.py     the checks of the contract, one coroutine each
    batch.py      the batch_read check
    thai_text.py  the thai_text check
    suite.py      CHECKS in their order, and run_suite
    report.py     Result, Report and the JUnit XML
    command.py    `linkage conformance`: flags, credentials, sample IDs, exit codes

Checks (stable names, the JUnit test case names):

    describe           Describe answers; provider, X-Road member, document types and fields are well formed
    health             grpc.health.v1 answers SERVING for "" and linkage.v1.ProviderService
    reflection         server reflection lists linkage.v1.ProviderService and resolves its methods
    valid_ids          every sample ID returns its record: type and ID echoed, every declared field, declared types
    malformed_ids      wrong length, non-digits, Thai digits, bad check digit, first digit 9, wrong kind:
                       INVALID_ARGUMENT
    unknown_doc_type   a document type the provider does not serve -> INVALID_ARGUMENT
    not_found          a well-formed ID with no record -> NOT_FOUND
    field_projection   asking for some fields returns exactly those, with the same values; an unknown field is refused
    batch_read         BatchGetRecords answers each read in its place as GetRecord does (records, NOT_FOUND,
                       INVALID_ARGUMENT) and takes MAX_PROVIDER_BATCH reads; UNIMPLEMENTED passes (optional)
    check_card         CheckCard: a wrong laser code never matches (UNIMPLEMENTED where dopa.card is not served)
    deadline           calls abandoned at a 1 ms deadline end at once; the provider still answers within the deadline
    thai_text          Thai fields hold Thai letters, in NFC, without mojibake or U+FFFD (records and Describe titles)
    large_records      every record fits a printout the hub can send (and the hub's receive limit)
    error_details      every refusal carries google.rpc.ErrorInfo, domain linkage.go.th, with the reason clients expect

Sample IDs come from ``--id DOC_TYPE=ID`` (a provider team's own test records; pass the largest you
have) and, with ``--home``, from the sandbox's personas.json.

Errors:

    ConformanceError      code (stable snake_case), message
    ├── UsageError        bad_usage: contradictory or missing flags, unreadable credentials, a bad --id
    └── TargetError       the target cannot be tested: name_not_resolved, connection_refused, connect_timeout,
                          connect_failed, not_tls, tls_timeout, tls_untrusted, not_http2, grpc_unavailable,
                          no_answer, not_a_provider

Exit codes: 0 every check passed, 1 a check failed, 2 bad usage or a target that cannot be tested.
"""

from linkage.cli.conformance.calls import PROVIDER_ANSWER_LIMIT, SERVICE
from linkage.cli.conformance.command import add_commands, run_conformance
from linkage.cli.conformance.errors import ConformanceError, TargetError, UsageError
from linkage.cli.conformance.probe import Credentials
from linkage.cli.conformance.report import Report, Result, write_junit
from linkage.cli.conformance.state import Sample
from linkage.cli.conformance.suite import CHECKS, run_suite

__all__ = [
    "CHECKS",
    "PROVIDER_ANSWER_LIMIT",
    "SERVICE",
    "ConformanceError",
    "Credentials",
    "Report",
    "Result",
    "Sample",
    "TargetError",
    "UsageError",
    "add_commands",
    "run_conformance",
    "run_suite",
    "write_junit",
]
