"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and their verification: pure, no I/O.

The audit log is an append-only Merkle tree of SHA-256 hashes (RFC 9162 §2.1)::

    leaf hash  = SHA-256(LEAF_PREFIX || entry)           LEAF_PREFIX = 0x00
    node hash  = SHA-256(NODE_PREFIX || left || right)   NODE_PREFIX = 0x01
    empty tree = SHA-256("")                             EMPTY_ROOT

Proof generation follows the recursive definitions of RFC 9162 §2.1.3.1 (PATH)
and §2.1.4.1 (SUBPROOF); verification follows transparency-dev/merkle
``proof/verify.go``: every precondition (sizes, index, proof length, hash
lengths) is checked before anything is hashed, and a proof of the right shape
that leads to another root is reported as a distinct error.

Error tree (``code`` is the stable snake_case code, ``str(error)`` the message)::

    MerkleError        merkle_error
    ├── ProofError     the inputs have the wrong shape; ``code`` says which:
    │                  negative_value, index_out_of_range, sizes_out_of_order,
    │                  empty_tree, wrong_proof_length, bad_hash_length,
    │                  size_beyond_source, bad_compact_range
    └── RootMismatch   root_mismatch: well-formed, but the hashes do not chain
                       to the claimed root (``which`` names it: root, root1, root2)

Node sources: proof generation needs the roots of perfect subtrees. It takes
either a plain sequence of leaf hashes, or a function ``hash_at(level, index)``
returning the root of the perfect subtree of ``2**level`` leaves that starts
at leaf ``index * 2**level``. A store can persist those nodes as
``CompactRange.append`` reports them and serve proofs without the leaves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LEAF_PREFIX",
    "NODE_PREFIX",
    "CompactRange",
    "HashAt",
    "MerkleError",
    "Node",
    "NodeSource",
    "ProofError",
    "ProofErrorCode",
    "RootMismatch",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "root_from_consistency_proof",
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
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


# ---------------------------------------------------------------------------
# Errors


class MerkleError(Exception):
    """Base of every error this module raises; ``code`` is stable, the message is for people."""

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


# ---------------------------------------------------------------------------
# Hashing


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
    _check_hashes("leaf hash", leaf_hashes)
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


# ---------------------------------------------------------------------------
# The incremental tree


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
        _check_hashes("leaf hash", [leaf])
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


# ---------------------------------------------------------------------------
# Proof generation (RFC 9162 §2.1.3.1 and §2.1.4.1)


def inclusion_proof(source: NodeSource, index: int, size: int) -> list[bytes]:
    """Return the inclusion proof (audit path) of leaf ``index`` in the tree of the first ``size`` leaves.

    Hashes are ordered from the leaf upwards, as RFC 9162 and ``verify_inclusion``
    expect. Raises ``ProofError``: negative_value, index_out_of_range
    (``index >= size``), size_beyond_source (a sequence shorter than ``size``),
    bad_hash_length (the source gave a hash that is not 32 bytes).
    """
    _check_non_negative(index=index, size=size)
    if index >= size:
        raise ProofError("index_out_of_range", f"leaf index {index} is not below the tree size {size}")
    hash_at = _as_hash_at(source, size)
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append(_subtree_hash(hash_at, lo + k, hi))
            hi = lo + k
        else:
            path.append(_subtree_hash(hash_at, lo, lo + k))
            lo += k
    path.reverse()
    return path


def consistency_proof(source: NodeSource, size1: int, size2: int) -> list[bytes]:
    """Return the consistency proof from the tree of ``size1`` leaves to the tree of ``size2`` leaves.

    Empty when ``size1 == size2``. Raises ``ProofError``: negative_value,
    sizes_out_of_order (``size1 > size2``), empty_tree (``size1 == 0``: nothing
    to prove), size_beyond_source, bad_hash_length.
    """
    _check_non_negative(size1=size1, size2=size2)
    if size1 > size2:
        raise ProofError("sizes_out_of_order", f"old size {size1} is greater than new size {size2}")
    if size1 == 0:
        raise ProofError("empty_tree", "a consistency proof from the empty tree is meaningless")
    hash_at = _as_hash_at(source, size2)
    proof: list[bytes] = []
    lo, hi, m = 0, size2, size1
    whole_old_tree = True  # SUBPROOF's b: the old tree is still exactly the node we are in.
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(_subtree_hash(hash_at, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_subtree_hash(hash_at, lo, lo + k))
            lo += k
            m -= k
            whole_old_tree = False
    if not whole_old_tree:
        proof.append(_subtree_hash(hash_at, lo, hi))
    proof.reverse()
    return proof


# ---------------------------------------------------------------------------
# Verification (transparency-dev/merkle proof/verify.go)


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """Return the root that ``proof`` leads to from ``leaf`` at ``index`` in a tree of ``size``.

    Raises ``ProofError`` before hashing anything: negative_value,
    index_out_of_range (``index >= size``), bad_hash_length (leaf or a proof
    hash not 32 bytes), wrong_proof_length.
    """
    inner = _check_inclusion_shape(leaf, index, size, proof)
    # 4. Chain up to the root.
    h = _chain_inner(leaf, proof[:inner], index)
    return _chain_border_right(h, proof[inner:])


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Return normally iff ``proof`` shows ``leaf`` at ``index`` in the tree of ``size`` with ``root``.

    Raises ``ProofError`` as ``root_from_inclusion_proof`` does, plus
    bad_hash_length for a root that is not 32 bytes, and ``RootMismatch`` when
    the proof is well-formed but leads to another root.
    """
    _check_inclusion_shape(leaf, index, size, proof)
    _check_hashes("root", [root])
    calculated = root_from_inclusion_proof(leaf, index, size, proof)
    if calculated != root:
        raise RootMismatch("root", root, calculated)


def root_from_consistency_proof(size1: int, size2: int, proof: Sequence[bytes], root1: bytes) -> bytes:
    """Check ``proof`` against the old tree (``size1``, ``root1``) and return the new root it leads to.

    For ``size1 == size2`` the proof must be empty and the new root is
    ``root1`` (which must be ``EMPTY_ROOT`` for size 0). Raises ``ProofError``
    before hashing: negative_value, sizes_out_of_order, wrong_proof_length,
    empty_tree (``0 == size1 < size2``), bad_hash_length; then
    ``RootMismatch`` (which = root1) if the proof does not lead to ``root1``.
    """
    # 1. Sizes: the old tree is a prefix of the new one.
    _check_non_negative(size1=size1, size2=size2)
    if size1 > size2:
        raise ProofError("sizes_out_of_order", f"old size {size1} is greater than new size {size2}")
    # 2. Equal sizes: nothing to hash, the trees must be the same one.
    if size1 == size2:
        if proof:
            raise ProofError("wrong_proof_length", f"sizes are equal ({size1}) but the proof has {len(proof)} hashes")
        if size1 == 0 and root1 != EMPTY_ROOT:
            # RFC 9162 §2.1.1: MTH({}) is SHA-256 of the empty string, nothing else.
            raise RootMismatch("root1", root1, EMPTY_ROOT)
        return root1
    # 3. Growing from nothing proves nothing.
    if size1 == 0:
        raise ProofError("empty_tree", "a consistency proof from the empty tree is meaningless")
    # 4. Every hash we will feed to SHA-256 has the hash length.
    _check_hashes("root1", [root1])
    _check_hashes("proof hash", proof)
    # 5. The proof has exactly the length the two sizes demand.
    inner, border = _decomp_incl_proof(size1 - 1, size2)
    shift = _trailing_zeros(size1)
    inner -= shift  # size1 < size2 makes shift < inner.
    # The proof starts with the root of the subtree of size 2**shift ending at size1,
    # unless that subtree is the whole old tree, whose root the verifier already has.
    seed_is_root1 = size1 == 1 << shift
    start = 0 if seed_is_root1 else 1
    if len(proof) != start + inner + border:
        raise ProofError(
            "wrong_proof_length",
            f"consistency proof from {size1} to {size2} needs {start + inner + border} hashes, got {len(proof)}",
        )
    seed = root1 if seed_is_root1 else proof[0]
    rest = proof[start:]
    mask = (size1 - 1) >> shift
    # 6. The proof must rebuild the old root ...
    hash1 = _chain_border_right(_chain_inner_right(seed, rest[:inner], mask), rest[inner:])
    if hash1 != root1:
        raise RootMismatch("root1", root1, hash1)
    # 7. ... and then yields the new one.
    return _chain_border_right(_chain_inner(seed, rest[:inner], mask), rest[inner:])


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Return normally iff ``proof`` shows the tree (``size2``, ``root2``) extends (``size1``, ``root1``).

    Raises ``ProofError`` as ``root_from_consistency_proof`` does (and
    bad_hash_length for a ``root2`` that is not 32 bytes when the sizes
    differ), and ``RootMismatch`` naming root1 or root2 for a well-formed proof
    that does not lead to the claimed roots (when ``size1`` is a power of two
    the proof starts from ``root1`` itself, so a wrong ``root1`` is reported as
    a root2 mismatch). For equal non-zero sizes no
    hashing happens and the two roots only have to be equal, as in the
    reference implementation.
    """
    if 0 < size1 < size2:
        _check_hashes("root2", [root2])
    calculated = root_from_consistency_proof(size1, size2, proof, root1)
    if calculated != root2:
        raise RootMismatch("root2", root2, calculated)


# ---------------------------------------------------------------------------
# Helpers


def _check_inclusion_shape(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> int:
    """Check every precondition of an inclusion proof; return the length of its inner part."""
    # 1. Sizes: the leaf must be inside the tree.
    _check_non_negative(index=index, size=size)
    if index >= size:
        raise ProofError("index_out_of_range", f"leaf index {index} is not below the tree size {size}")
    # 2. Every hash we will feed to SHA-256 has the hash length.
    _check_hashes("leaf hash", [leaf])
    _check_hashes("proof hash", proof)
    # 3. The proof has exactly the length the tree shape demands.
    inner, border = _decomp_incl_proof(index, size)
    if len(proof) != inner + border:
        raise ProofError(
            "wrong_proof_length",
            f"inclusion proof for leaf {index} of {size} needs {inner + border} hashes, got {len(proof)}",
        )
    return inner


def _check_non_negative(**values: int) -> None:
    for name, value in values.items():
        if value < 0:
            raise ProofError("negative_value", f"{name} must not be negative, got {value}")


def _check_hashes(what: str, hashes: Iterable[bytes]) -> None:
    for position, h in enumerate(hashes):
        if len(h) != HASH_SIZE:
            raise ProofError("bad_hash_length", f"{what} #{position} has {len(h)} bytes, want {HASH_SIZE}")


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2): RFC 9162's k."""
    return 1 << ((n - 1).bit_length() - 1)


def _trailing_zeros(n: int) -> int:
    return (n & -n).bit_length() - 1


def _decomp_incl_proof(index: int, size: int) -> tuple[int, int]:
    """Split an inclusion proof's length at the level where the paths to ``index`` and ``size - 1`` meet."""
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        seed = node_hash(seed, h) if (index >> i) & 1 == 0 else node_hash(h, seed)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    # Only left siblings: the result is the same subtree at the older size.
    for i, h in enumerate(proof):
        if (index >> i) & 1:
            seed = node_hash(h, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for h in proof:
        seed = node_hash(h, seed)
    return seed


def _as_hash_at(source: NodeSource, size: int) -> HashAt:
    if callable(source):
        return source
    leaves = source
    if len(leaves) < size:
        raise ProofError("size_beyond_source", f"tree size {size} but only {len(leaves)} leaf hashes")

    def hash_at(level: int, index: int) -> bytes:
        return root(leaves[index << level : (index + 1) << level])

    return hash_at


def _subtree_hash(hash_at: HashAt, begin: int, end: int) -> bytes:
    """MTH of leaves [begin, end), where ``begin`` is a multiple of a power of two >= ``end - begin``.

    That alignment holds for every range the RFC recursion visits, so the
    range splits into perfect subtrees, largest first, each one a ``hash_at``.
    """
    parts: list[bytes] = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        h = hash_at(level, begin >> level)
        _check_hashes(f"node ({level}, {begin >> level})", [h])
        parts.append(h)
        begin += 1 << level
    h = parts[-1]
    for part in reversed(parts[:-1]):
        h = node_hash(part, h)
    return h
