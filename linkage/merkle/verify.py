"""Proof verification, after transparency-dev/merkle ``proof/verify.go``: every precondition (sizes, index,
proof length, hash lengths) is checked before anything is hashed, in numbered steps, and a proof of the
right shape that leads to another root raises ``RootMismatch``, apart from ``ProofError``."""

from __future__ import annotations

from collections.abc import Sequence

from linkage.merkle.errors import ProofError, RootMismatch
from linkage.merkle.tree import EMPTY_ROOT, check_hashes, check_non_negative, node_hash

__all__ = ["root_from_consistency_proof", "root_from_inclusion_proof", "verify_consistency", "verify_inclusion"]

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
    check_hashes("root", [root])
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
    check_non_negative(size1=size1, size2=size2)
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
    check_hashes("root1", [root1])
    check_hashes("proof hash", proof)
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
        check_hashes("root2", [root2])
    calculated = root_from_consistency_proof(size1, size2, proof, root1)
    if calculated != root2:
        raise RootMismatch("root2", root2, calculated)


def _check_inclusion_shape(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> int:
    """Check every precondition of an inclusion proof; return the length of its inner part."""
    # 1. Sizes: the leaf must be inside the tree.
    check_non_negative(index=index, size=size)
    if index >= size:
        raise ProofError("index_out_of_range", f"leaf index {index} is not below the tree size {size}")
    # 2. Every hash we will feed to SHA-256 has the hash length.
    check_hashes("leaf hash", [leaf])
    check_hashes("proof hash", proof)
    # 3. The proof has exactly the length the tree shape demands.
    inner, border = _decomp_incl_proof(index, size)
    if len(proof) != inner + border:
        raise ProofError(
            "wrong_proof_length",
            f"inclusion proof for leaf {index} of {size} needs {inner + border} hashes, got {len(proof)}",
        )
    return inner


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
