"""The one ``PortInUse``: a server that cannot listen says which address, and what to change.

Every server of the sandbox (hub, registries, counter, metrics exporters) raises
it when its address is taken; `linkage` prints it and exits 3.
"""

from __future__ import annotations

__all__ = ["PortInUse"]


class PortInUse(OSError):
    """The address to listen on is taken by another program; the message says how to choose another."""

    def __init__(self, address: str, change: str, detail: str = "") -> None:
        self.address = address
        self.change = change
        why = f" ({detail})" if detail else ""
        super().__init__(f"cannot listen on {address}: the port is taken by another program{why};"
                         f" stop that program, or {change}")
