"""The tree itself (RFC 9162 §2.1): leaf and node hashes, the root of a list of leaves, and the incremental
tree (``CompactRange``) that grows one leaf at a time in O(log n) memory; the hash-length and sign checks
every proof function makes before hashing."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from linkage.merkle.errors import ProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LEAF_PREFIX",
    "NODE_PREFIX",
    "CompactRange",
    "HashAt",
    "Node",
    "NodeSource",
    "check_hashes",
    "check_non_negative",
    "leaf_hash",
    "node_hash",
    "root",
]

LEAF_PREFIX = b"\x00"
"""RFC 6962 §2.1 domain separation byte for leaves."""
NODE_PREFIX = b"\x01"
"""RFC 6962 §2.1 domain separation byte for interior nodes."""
HASH_SIZE = 32
"""Length in bytes of every leaf, node and root hash (SHA-256)."""
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}): the root of the tree with no leaves."""

HashAt = Callable[[int, int], bytes]
"""``hash_at(level, index)``: root of the perfect subtree of ``2**level`` leaves starting at ``index * 2**level``."""
NodeSource = Sequence[bytes] | HashAt
"""Where proof generation reads hashes from: a sequence of leaf hashes, or a ``HashAt``."""


def leaf_hash(data: bytes) -> bytes:
    """Return SHA-256(0x00 || data), the RFC 6962 hash of one log entry."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return SHA-256(0x01 || left || right), the RFC 6962 hash of an interior node."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return MTH over ``leaf_hashes`` (RFC 9162 §2.1.1), ``EMPTY_ROOT`` for none.

    Iterative and O(n): levels are paired bottom-up and a lone last node is
    carried up unchanged, which builds the same tree as the RFC's split at the
    largest power of two. Raises ``ProofError`` (bad_hash_length) for a leaf
    hash that is not 32 bytes.
    """
    check_hashes("leaf hash", leaf_hashes)
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


@dataclass(frozen=True, slots=True)
class Node:
    """The root ``hash`` of the perfect subtree at (``level``, ``index``), see ``HashAt``."""

    level: int
    index: int
    hash: bytes


class CompactRange:
    """The state of a growing tree in O(log n) memory: one hash per perfect subtree of the size's binary form.

    ``append`` adds one leaf hash in O(log n) time; ``root()`` gives the tree
    root at the current size in O(log n). The state is ``size`` and ``peaks``
    (largest subtree first) and can be restored with ``from_peaks``.
    """

    __slots__ = ("_peaks", "_size")

    def __init__(self) -> None:
        """Start an empty tree."""
        self._size = 0
        self._peaks: list[bytes] = []

    @classmethod
    def from_peaks(cls, size: int, peaks: Iterable[bytes]) -> CompactRange:
        """Restore a state saved from ``size`` and ``peaks``.

        Raises ``ProofError`` (bad_compact_range) unless there is exactly one
        32-byte hash per set bit of ``size``.
        """
        hashes = list(peaks)
        if size < 0 or len(hashes) != size.bit_count() or any(len(h) != HASH_SIZE for h in hashes):
            raise ProofError(
                "bad_compact_range",
                f"a tree of size {size} needs {max(size, 0).bit_count()} peaks of {HASH_SIZE} bytes, got {len(hashes)}",
            )
        state = cls()
        state._size = size
        state._peaks = [bytes(h) for h in hashes]
        return state

    @property
    def size(self) -> int:
        """The number of leaves appended so far."""
        return self._size

    @property
    def peaks(self) -> tuple[bytes, ...]:
        """Roots of the perfect subtrees that make up the tree, largest (leftmost) first."""
        return tuple(self._peaks)

    def append(self, leaf: bytes) -> tuple[Node, ...]:
        """Append one leaf hash; return every node completed by it, the leaf itself first.

        Storing the returned nodes is enough to answer ``hash_at`` for any
        later proof. Raises ``ProofError`` (bad_hash_length) for a leaf hash
        that is not 32 bytes; the state is then unchanged.
        """
        check_hashes("leaf hash", [leaf])
        index = self._size
        h = bytes(leaf)
        created = [Node(0, index, h)]
        level = 0
        # Each trailing one bit of the old size is a left sibling waiting for this subtree.
        while (self._size >> level) & 1:
            h = node_hash(self._peaks.pop(), h)
            level += 1
            created.append(Node(level, index >> level, h))
        self._peaks.append(h)
        self._size += 1
        return tuple(created)

    def root(self) -> bytes:
        """Return the Merkle tree hash at the current size (``EMPTY_ROOT`` when empty)."""
        if not self._peaks:
            return EMPTY_ROOT
        h = self._peaks[-1]
        for peak in reversed(self._peaks[:-1]):
            h = node_hash(peak, h)
        return h

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"


def check_non_negative(**values: int) -> None:
    for name, value in values.items():
        if value < 0:
            raise ProofError("negative_value", f"{name} must not be negative, got {value}")


def check_hashes(what: str, hashes: Iterable[bytes]) -> None:
    for position, h in enumerate(hashes):
        if len(h) != HASH_SIZE:
            raise ProofError("bad_hash_length", f"{what} #{position} has {len(h)} bytes, want {HASH_SIZE}")
