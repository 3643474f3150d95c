"""The Merkle code's error tree (drawn in ``linkage.merkle``): ``MerkleError``, ``ProofError``, ``RootMismatch``."""

from __future__ import annotations

from typing import Literal

__all__ = ["MerkleError", "ProofError", "ProofErrorCode", "RootMismatch"]

ProofErrorCode = Literal[
    "negative_value",
    "index_out_of_range",
    "sizes_out_of_order",
    "empty_tree",
    "wrong_proof_length",
    "bad_hash_length",
    "size_beyond_source",
    "bad_compact_range",
]


class MerkleError(Exception):
    """Base of every error linkage.merkle raises; ``code`` is stable, the message is for people."""

    code: str = "merkle_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class ProofError(MerkleError):
    """The inputs have the wrong shape; nothing was hashed. ``code`` names the broken precondition."""

    code: ProofErrorCode

    def __init__(self, code: ProofErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class RootMismatch(MerkleError):
    """A well-formed proof chains to ``calculated``, not to the claimed ``expected`` root."""

    code: str = "root_mismatch"

    def __init__(self, which: Literal["root", "root1", "root2"], expected: bytes, calculated: bytes) -> None:
        super().__init__(f"calculated {which} {calculated.hex()} does not match the expected {which} {expected.hex()}")
        self.which = which
        self.expected = expected
        self.calculated = calculated
