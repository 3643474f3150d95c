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

    errors.py   the error tree above
    tree.py     leaf and node hashes, root, the incremental tree (CompactRange)
    proofs.py   inclusion and consistency proofs (RFC 9162)
    verify.py   their verification (transparency-dev/merkle proof/verify.go)
"""

from linkage.merkle.errors import MerkleError, ProofError, ProofErrorCode, RootMismatch
from linkage.merkle.proofs import consistency_proof, inclusion_proof
from linkage.merkle.tree import (
    EMPTY_ROOT,
    HASH_SIZE,
    LEAF_PREFIX,
    NODE_PREFIX,
    CompactRange,
    HashAt,
    Node,
    NodeSource,
    leaf_hash,
    node_hash,
    root,
)
from linkage.merkle.verify import (
    root_from_consistency_proof,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

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
