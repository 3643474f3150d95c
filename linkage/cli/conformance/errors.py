"""The kit's errors: a stable snake_case code beside a message for people.

    ConformanceError      code (stable snake_case), message
    ├── UsageError        bad_usage: contradictory or missing flags, unreadable credentials, a bad --id
    └── TargetError       the target cannot be tested: name_not_resolved, connection_refused, connect_timeout,
                          connect_failed, not_tls, tls_timeout, tls_untrusted, not_http2, grpc_unavailable,
                          no_answer, not_a_provider
"""

from __future__ import annotations

__all__ = ["ConformanceError", "TargetError", "UsageError"]


class ConformanceError(Exception):
    """Base of the kit's errors: a stable snake_case ``code`` and a message for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class UsageError(ConformanceError):
    """The command line cannot be run as given; the message says what would be right."""

    def __init__(self, message: str) -> None:
        super().__init__("bad_usage", message)


class TargetError(ConformanceError):
    """The target cannot be tested: it does not answer, or is not a gRPC ProviderService over TLS."""

