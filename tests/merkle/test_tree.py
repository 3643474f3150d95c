"""Properties of generation and verification over every tree of 1..70 leaves, and the error contract."""

from __future__ import annotations

import hashlib

import pytest

from linkage.merkle import (
    EMPTY_ROOT,
    LEAF_PREFIX,
    NODE_PREFIX,
    CompactRange,
    MerkleError,
    Node,
    ProofError,
    RootMismatch,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    root_from_consistency_proof,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

MAX_SIZE = 70
LEAVES = [leaf_hash(f"printout {i}".encode()) for i in range(MAX_SIZE)]
ROOTS = [root(LEAVES[:n]) for n in range(MAX_SIZE + 1)]


def _mth(hashes: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 taken literally (recursive), to check the iterative ``root``."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(hashes[:k]) + _mth(hashes[k:])).digest()


def _flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 1]) + h[1:]


def test_prefixes_and_hashes_follow_rfc_6962() -> None:
    assert (LEAF_PREFIX, NODE_PREFIX) == (b"\x00", b"\x01")
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert node_hash(b"L" * 32, b"R" * 32) == hashlib.sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()


def test_root_matches_the_recursive_definition() -> None:
    for n in range(MAX_SIZE + 1):
        assert ROOTS[n] == _mth(LEAVES[:n]), n


def test_compact_range_root_equals_root_at_every_size() -> None:
    tree = CompactRange()
    assert tree.root() == EMPTY_ROOT
    for n in range(1, MAX_SIZE + 1):
        tree.append(LEAVES[n - 1])
        assert tree.size == n
        assert tree.root() == ROOTS[n], n
        assert len(tree.peaks) == n.bit_count()
        restored = CompactRange.from_peaks(tree.size, tree.peaks)
        assert restored.root() == ROOTS[n]


def test_nodes_reported_by_append_serve_as_a_node_source() -> None:
    store: dict[tuple[int, int], bytes] = {}
    tree = CompactRange()
    for leaf in LEAVES:
        for node in tree.append(leaf):
            assert isinstance(node, Node)
            store[node.level, node.index] = node.hash

    def hash_at(level: int, index: int) -> bytes:
        return store[level, index]

    for size in range(1, MAX_SIZE + 1):
        for index in range(size):
            assert inclusion_proof(hash_at, index, size) == inclusion_proof(LEAVES, index, size)
        for size1 in range(1, size + 1):
            assert consistency_proof(hash_at, size1, size) == consistency_proof(LEAVES, size1, size)


@pytest.mark.parametrize("size", range(1, MAX_SIZE + 1))
def test_every_inclusion_proof_verifies(size: int) -> None:
    for index in range(size):
        proof = inclusion_proof(LEAVES, index, size)
        verify_inclusion(LEAVES[index], index, size, proof, ROOTS[size])
        assert root_from_inclusion_proof(LEAVES[index], index, size, proof) == ROOTS[size]
        with pytest.raises(RootMismatch):
            verify_inclusion(_flip(LEAVES[index]), index, size, proof, ROOTS[size])
        if proof:
            with pytest.raises(RootMismatch):
                verify_inclusion(LEAVES[index], index, size, [*proof[:-1], _flip(proof[-1])], ROOTS[size])
        with pytest.raises(ProofError) as too_long:
            verify_inclusion(LEAVES[index], index, size, [*proof, LEAVES[0]], ROOTS[size])
        assert too_long.value.code == "wrong_proof_length"


@pytest.mark.parametrize("size2", range(1, MAX_SIZE + 1))
def test_every_consistency_proof_verifies(size2: int) -> None:
    for size1 in range(1, size2 + 1):
        proof = consistency_proof(LEAVES, size1, size2)
        verify_consistency(size1, size2, proof, ROOTS[size1], ROOTS[size2])
        assert root_from_consistency_proof(size1, size2, proof, ROOTS[size1]) == ROOTS[size2]
        with pytest.raises(RootMismatch) as old:
            verify_consistency(size1, size2, proof, _flip(ROOTS[size1]), ROOTS[size2])
        # The old root is rebuilt only when it is not itself the proof's seed (size1 not a power
        # of two); otherwise a wrong root1 shows up as a wrong new root.
        rebuilt = size1 < size2 and size1.bit_count() > 1
        assert old.value.which == ("root1" if rebuilt else "root2")
        with pytest.raises(RootMismatch) as new:
            verify_consistency(size1, size2, proof, ROOTS[size1], _flip(ROOTS[size2]))
        assert new.value.which == "root2"


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda: verify_inclusion(LEAVES[0], 3, 3, [], ROOTS[3]), "index_out_of_range"),
        (lambda: verify_inclusion(LEAVES[0], -1, 3, [], ROOTS[3]), "negative_value"),
        (lambda: verify_inclusion(b"short", 0, 1, [], ROOTS[1]), "bad_hash_length"),
        (lambda: verify_inclusion(LEAVES[0], 0, 1, [], b"short"), "bad_hash_length"),
        (lambda: verify_inclusion(LEAVES[0], 0, 2, [], ROOTS[2]), "wrong_proof_length"),
        (lambda: verify_inclusion(LEAVES[0], 0, 2, [b"x"], ROOTS[2]), "bad_hash_length"),
        (lambda: verify_consistency(3, 2, [], ROOTS[3], ROOTS[2]), "sizes_out_of_order"),
        (lambda: verify_consistency(0, 2, [ROOTS[2]], EMPTY_ROOT, ROOTS[2]), "empty_tree"),
        (lambda: verify_consistency(2, 2, [ROOTS[2]], ROOTS[2], ROOTS[2]), "wrong_proof_length"),
        (lambda: verify_consistency(1, 2, [], ROOTS[1], ROOTS[2]), "wrong_proof_length"),
        (lambda: verify_consistency(3, 5, [LEAVES[0]] * 9, ROOTS[3], ROOTS[5]), "wrong_proof_length"),
        (lambda: verify_consistency(1, 2, [LEAVES[1]], ROOTS[1], b""), "bad_hash_length"),
        (lambda: verify_consistency(0, 0, [], b"x" * 32, b"x" * 32), "root_mismatch"),
        (lambda: inclusion_proof(LEAVES, 5, 5), "index_out_of_range"),
        (lambda: inclusion_proof(LEAVES[:3], 0, 5), "size_beyond_source"),
        (lambda: inclusion_proof(lambda level, index: b"short", 0, 2), "bad_hash_length"),
        (lambda: consistency_proof(LEAVES, 0, 5), "empty_tree"),
        (lambda: consistency_proof(LEAVES, 6, 5), "sizes_out_of_order"),
        (lambda: CompactRange.from_peaks(3, [LEAVES[0]]), "bad_compact_range"),
        (lambda: CompactRange().append(b"short"), "bad_hash_length"),
        (lambda: root([b"short"]), "bad_hash_length"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_bad_shapes_raise_their_code(call: object, code: str) -> None:
    assert callable(call)
    with pytest.raises(MerkleError) as caught:
        call()
    assert caught.value.code == code
    assert str(caught.value)


def test_preconditions_are_checked_before_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    import linkage.merkle as merkle

    def no_hashing(*_: object) -> bytes:
        raise AssertionError("hashed before the preconditions were checked")

    monkeypatch.setattr(merkle, "node_hash", no_hashing)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(LEAVES[0], 0, 4, [LEAVES[1]], ROOTS[4])
    with pytest.raises(ProofError):
        merkle.verify_consistency(3, 4, [LEAVES[1]] * 5, ROOTS[3], ROOTS[4])


def test_equal_sizes_need_no_proof() -> None:
    assert consistency_proof(LEAVES, 7, 7) == []
    verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    verify_consistency(7, 7, [], ROOTS[7], ROOTS[7])
    with pytest.raises(RootMismatch):
        verify_consistency(7, 7, [], ROOTS[7], ROOTS[6])
