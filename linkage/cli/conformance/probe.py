"""Reaching the target before any check: TCP, then TLS trusted by the given CA, then HTTP/2.

``probe`` raises ``TargetError`` with a code that says which step failed (name_not_resolved,
connection_refused, connect_timeout, connect_failed, not_tls, tls_timeout, tls_untrusted, not_http2).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from linkage import pki
from linkage.cli.conformance.errors import TargetError, UsageError
from linkage.serverconfig import split_address

__all__ = ["Credentials", "probe", "split_target"]


@dataclass(frozen=True)
class Credentials:
    """The trust root and the client certificate the kit shows (a registry demands one)."""

    ca: Path
    own: pki.CertPaths



def split_target(target: str) -> tuple[str, int]:
    try:
        return split_address(target)
    except ValueError:
        raise UsageError(f"--provider must be HOST:PORT (e.g. 127.0.0.1:7451 or [::1]:7451), got {target!r}"
                         ) from None


async def probe(target: str, creds: Credentials, timeout: float) -> None:
    """Raise TargetError unless target takes TCP, then TLS trusted by creds.ca, then HTTP/2 (ALPN h2)."""
    host, port = split_target(target)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except socket.gaierror as exc:
        raise TargetError("name_not_resolved", f"cannot resolve {host!r}: {exc.strerror}") from None
    except ConnectionRefusedError:
        raise TargetError("connection_refused", f"nothing listens on {target} (connection refused)") from None
    except TimeoutError:
        raise TargetError("connect_timeout", f"{target} did not accept a connection within {timeout:g} s") from None
    except OSError as exc:
        raise TargetError("connect_failed", f"cannot connect to {target}: {exc.strerror or exc}") from None
    await _close(writer)
    context = ssl.create_default_context(cafile=str(creds.ca))
    context.load_cert_chain(str(creds.own.cert), str(creds.own.key))
    context.set_alpn_protocols(["h2"])
    not_grpc = "linkage providers serve gRPC over mutual TLS"
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=context, server_hostname=host),
                                           timeout)
    except ssl.SSLCertVerificationError as exc:
        raise TargetError("tls_untrusted", f"{target} speaks TLS but its certificate is not trusted by"
                                           f" {creds.ca}: {exc.verify_message}") from None
    except (ssl.SSLEOFError, ConnectionError, asyncio.IncompleteReadError):
        raise TargetError("not_tls", f"{target} closed the connection during the TLS handshake: it does not speak"
                                     f" TLS, or not to this client; {not_grpc}") from None
    except ssl.SSLError as exc:
        raise TargetError("not_tls", f"{target} does not speak TLS (handshake failed: {exc.reason or exc}): is it a"
                                     f" plain HTTP server, or gRPC without TLS? {not_grpc}") from None
    except TimeoutError:
        raise TargetError("tls_timeout", f"{target} accepted the connection but did not complete a TLS handshake"
                                         f" within {timeout:g} s: it does not answer, or not in TLS; {not_grpc}",
                          ) from None
    except OSError as exc:
        raise TargetError("connect_failed", f"cannot connect to {target}: {exc.strerror or exc}") from None
    ssl_object = writer.get_extra_info("ssl_object")
    alpn = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
    await _close(writer)
    if alpn != "h2":
        raise TargetError("not_http2", f"{target} speaks TLS but did not agree to HTTP/2 (ALPN {alpn!r}, expected"
                                       " 'h2'): it is not a gRPC server")


async def _close(writer: asyncio.StreamWriter) -> None:
    # A probe needs no orderly goodbye: waiting for the peer's TLS close_notify can take seconds.
    writer.transport.abort()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()
