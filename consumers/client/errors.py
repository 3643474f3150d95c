"""The client's own errors, beside the hub's tree it re-raises (``linkage.errors``).

    LinkageError (linkage.errors)     the hub's refusals, rebuilt from the status details: branch on ``code``
    └── PrintoutRejected              printout_invalid       the printout failed verification on receipt
                                      printout_not_requested the printout does not answer the request sent
    ClientSetupError (ValueError)     the client cannot be built: no address, unknown agency, unreadable
                                      endpoints.json or certificate; the message says what would be right

``PrintoutRejected`` never travels over gRPC: the client raises it when an
answer that came back OK fails the checks made on receipt. A caller that
already handles ``LinkageError`` handles it too (it is not retryable: sending
the request again would issue another printout).
"""

from __future__ import annotations

from typing import ClassVar

import grpc

from consumers.auditor.verify import Report
from linkage.errors import LinkageError

__all__ = ["ClientSetupError", "PrintoutRejected"]


class PrintoutRejected(LinkageError):
    """An answer the hub sent as a success that the client refuses to hand over."""

    status: ClassVar[grpc.StatusCode] = grpc.StatusCode.DATA_LOSS
    side: ClassVar[str] = "hub"
    retryable: ClassVar[bool] = False

    def __init__(self, code: str, message_th: str, message_en: str, *, report: Report | None = None) -> None:
        super().__init__(code, message_th, message_en)
        self.report = report


class ClientSetupError(ValueError):
    """The client cannot be built as asked."""
