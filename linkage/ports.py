"""The one ``PortInUse``: a server that cannot listen says which address, and what to change.

Every server of the sandbox (hub, registries, counter, metrics exporters) raises
it when its address is taken; `linkage` prints it and exits 3. ``choose_port``
is the advice for a component of a sandbox: the key of linkage.toml, the flag and
the variable that set its port, and ``linkage init --ports auto`` for a new sandbox.
``listen_failure`` tells a taken port from other reasons a server cannot listen (an
address this machine does not have, a port that needs privileges), so that "taken"
is said only when it is.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path

__all__ = ["PortInUse", "choose_port", "listen_failure"]


class PortInUse(OSError):
    """The address to listen on is taken by another program; the message says how to choose another."""

    def __init__(self, address: str, change: str, detail: str = "") -> None:
        self.address = address
        self.change = change
        why = f" ({detail})" if detail else ""
        super().__init__(f"cannot listen on {address}: the port is taken by another program{why};"
                         f" stop that program, or {change}")


def choose_port(section: str, variable: str, config_file: Path) -> str:
    """How to move a component to another port: ``choose_port("hub", "LINKAGE_HUB_PORT", DIR/linkage.toml)``."""
    return (f"choose another port: `port` in [{section}] of {config_file}, --port, or {variable}"
            f" (a new sandbox with free ports: linkage init --ports auto --home DIR)")


def listen_failure(address: str, change: str) -> OSError:
    """Why a server could not listen on address (HOST:PORT), found by binding a plain socket there:
    PortInUse when the port is taken, else an OSError with what the system says (and change)."""
    host, _, port = address.rpartition(":")
    try:
        family, kind, proto, _, where = socket.getaddrinfo(host.strip("[]"), int(port), type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.bind(where)
    except (OSError, ValueError) as exc:
        if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
            return PortInUse(address, change)
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return OSError(f"cannot listen on {address}: {why}; {change}")
    return OSError(f"cannot listen on {address} (the port is free: the server itself failed); {change}")
