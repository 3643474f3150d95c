"""Proof generation, by the recursive definitions of RFC 9162 §2.1.3.1 (PATH) and §2.1.4.1 (SUBPROOF),
from a ``NodeSource``: a sequence of leaf hashes or a ``hash_at(level, index)`` of stored nodes."""

from __future__ import annotations

from linkage.merkle.errors import ProofError
from linkage.merkle.tree import HashAt, NodeSource, check_hashes, check_non_negative, node_hash, root

__all__ = ["consistency_proof", "inclusion_proof"]

def inclusion_proof(source: NodeSource, index: int, size: int) -> list[bytes]:
    """Return the inclusion proof (audit path) of leaf ``index`` in the tree of the first ``size`` leaves.

    Hashes are ordered from the leaf upwards, as RFC 9162 and ``verify_inclusion``
    expect. Raises ``ProofError``: negative_value, index_out_of_range
    (``index >= size``), size_beyond_source (a sequence shorter than ``size``),
    bad_hash_length (the source gave a hash that is not 32 bytes).
    """
    check_non_negative(index=index, size=size)
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
    check_non_negative(size1=size1, size2=size2)
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


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2): RFC 9162's k."""
    return 1 << ((n - 1).bit_length() - 1)


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
        check_hashes(f"node ({level}, {begin >> level})", [h])
        parts.append(h)
        begin += 1 << level
    h = parts[-1]
    for part in reversed(parts[:-1]):
        h = node_hash(part, h)
    return h
