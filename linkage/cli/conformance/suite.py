"""``run_suite``: probe the target, ask Describe, then run every check of CHECKS in order."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import grpc

from linkage import pki
from linkage.cli.conformance.batch import check_batch_read
from linkage.cli.conformance.calls import PROVIDER_ANSWER_LIMIT, SERVICE, call, clip
from linkage.cli.conformance.checks import (
    check_check_card,
    check_deadline,
    check_describe,
    check_error_details,
    check_field_projection,
    check_health,
    check_large_records,
    check_malformed_ids,
    check_not_found,
    check_reflection,
    check_unknown_doc_type,
    check_valid_ids,
)
from linkage.cli.conformance.errors import TargetError
from linkage.cli.conformance.probe import Credentials, probe
from linkage.cli.conformance.report import Report, Result
from linkage.cli.conformance.state import Check, Sample, SuiteState
from linkage.cli.conformance.thai_text import check_thai_text
from linkage.v1 import provider_pb2

__all__ = ["CHECKS", "run_suite"]


CHECKS: tuple[tuple[str, Check], ...] = (
    ("describe", check_describe),
    ("health", check_health),
    ("reflection", check_reflection),
    ("valid_ids", check_valid_ids),
    ("malformed_ids", check_malformed_ids),
    ("unknown_doc_type", check_unknown_doc_type),
    ("not_found", check_not_found),
    ("field_projection", check_field_projection),
    ("batch_read", check_batch_read),
    ("check_card", check_check_card),
    ("deadline", check_deadline),
    ("thai_text", check_thai_text),
    ("large_records", check_large_records),
    ("error_details", check_error_details),
)
"""Every check, in the order it runs: (name, check). Later checks read what earlier ones saw."""


async def run_suite(target: str, credentials: Credentials, samples: Sequence[Sample], *,
                    timeout: float, progress: Callable[[Result], None] | None = None) -> Report:
    """Run every check of CHECKS against the ProviderService at target (HOST:PORT).

    Raises UsageError for a target that is not HOST:PORT and TargetError when the target cannot be
    tested at all (see linkage.cli.conformance); a provider that answers but breaks the contract gives a
    Report whose failed results say how. progress, when given, is called with each result as it comes.
    """
    await probe(target, credentials, timeout)
    options = [("grpc.max_receive_message_length", PROVIDER_ANSWER_LIMIT), ("grpc.enable_retries", 0)]
    channel = grpc.aio.secure_channel(target, pki.channel_credentials(credentials.ca, credentials.own),
                                      options=options)
    try:
        suite = SuiteState(channel, timeout, samples)
        described = await call(suite.provider.Describe, provider_pb2.DescribeRequest(), timeout)
        if described.status == grpc.StatusCode.UNIMPLEMENTED:
            raise TargetError("not_a_provider", f"{target} is a gRPC server but not a {SERVICE.full_name}:"
                                                " Describe is UNIMPLEMENTED")
        if described.status == grpc.StatusCode.UNAVAILABLE:
            raise TargetError("grpc_unavailable", f"{target} completes a TLS handshake but refuses gRPC calls"
                                                  f" ({clip(described.message, 160)}); does it accept the client"
                                                  f" certificate {credentials.own.cert}?")
        if described.status in (None, grpc.StatusCode.DEADLINE_EXCEEDED):
            raise TargetError("no_answer", f"{target} did not answer Describe within {timeout:g} s")
        if described.ok:
            suite.describe = described.answer
        else:
            suite.describe_failure = described.shown()
        results = []
        for name, check in CHECKS:
            start = time.perf_counter()
            summary, problems = await check(suite)
            result = Result(name, not problems, summary, tuple(problems), time.perf_counter() - start)
            results.append(result)
            if progress is not None:
                progress(result)
    finally:
        await channel.close()
    d = suite.describe
    return Report(target, d.provider if d else "", d.member if d else "", tuple(results))
