"""A witness of the hub's log: a small server of its own that cosigns each checkpoint consistent with the last.

C2SP tlog-witness over HTTP, cosignatures in C2SP tlog-cosignature's Ed25519 ``cosignature/v1``
(``linkage.cosignature``); the wire format is ``linkage.witness_protocol``, shared with the hub that submits.
It imports only the core: never the hub, the command line, providers or consumers (tests/test_layers.py).

    witness.py   Witness.add_checkpoint: the numbered checks, the refusals and their HTTP statuses
    state.py     WitnessState: the newest checkpoint cosigned per log, written atomically before answering
    server.py    create_app / serve (aiohttp), and the sandbox's witness from DIR (witness_from_home)

``linkage serve-witness NAME`` runs one; ``linkage up`` starts the sandbox's two.
"""

from linkage.witness.server import create_app, serve, witness_from_home
from linkage.witness.state import BadWitnessState, Cosigned, WitnessState
from linkage.witness.witness import (
    BadProof,
    KnownLog,
    MalformedSubmission,
    SizeConflict,
    StateUnwritable,
    UnknownLog,
    UntrustedCheckpoint,
    Witness,
    WitnessRefusal,
)

__all__ = [
    "BadProof",
    "BadWitnessState",
    "Cosigned",
    "KnownLog",
    "MalformedSubmission",
    "SizeConflict",
    "StateUnwritable",
    "UnknownLog",
    "UntrustedCheckpoint",
    "Witness",
    "WitnessRefusal",
    "WitnessState",
    "create_app",
    "serve",
    "witness_from_home",
]
