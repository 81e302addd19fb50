"""The Merkle tree from stored subtree hashes agrees with RFC 9162 §2.1 computed the RFC's way."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping

import pytest

from capledger.application.tlog.merkle import (
    EMPTY_ROOT,
    Frontier,
    NodeId,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    range_nodes,
    root,
    verify_consistency,
    verify_inclusion,
)

pytestmark = pytest.mark.unit

SIZES = range(1, 40)


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1, literally."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1, literally."""
    if len(leaves) == 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    """RFC 9162 §2.1.4.1, literally."""
    if m == len(leaves):
        return [] if whole else [mth(leaves)]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m <= k:
        return [*subproof(m, leaves[:k], whole), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]


class DictTree:
    """Complete subtrees as a store keeps them: only what :class:`Frontier` completed."""

    def __init__(self) -> None:
        self.nodes: dict[NodeId, bytes] = {}
        self.frontier = Frontier()
        self.reads = 0

    def append(self, leaf: bytes) -> None:
        self.nodes.update(self.frontier.append(leaf))

    def subtree_hashes(self, ids: Collection[NodeId]) -> Mapping[NodeId, bytes]:
        self.reads += 1
        return {node: self.nodes[node] for node in ids}


def leaves_of(n: int) -> list[bytes]:
    return [leaf_hash(f"entry {i}".encode()) for i in range(n)]


@pytest.fixture(scope="module")
def grown() -> tuple[DictTree, list[bytes]]:
    tree, leaves = DictTree(), leaves_of(max(SIZES))
    for leaf in leaves:
        tree.append(leaf)
    return tree, leaves


def test_leaf_and_node_hashes_are_domain_separated_sha256() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    left, right = b"a" * 32, b"b" * 32
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_the_root_of_every_size_is_the_rfcs_from_stored_complete_subtrees_only(
    grown: tuple[DictTree, list[bytes]],
) -> None:
    tree, leaves = grown
    assert root(tree, 0) == EMPTY_ROOT
    for n in SIZES:
        assert root(tree, n) == mth(leaves[:n]), n


def test_the_frontier_root_follows_each_append() -> None:
    frontier, leaves = Frontier(), leaves_of(20)
    for n, leaf in enumerate(leaves, 1):
        frontier.append(leaf)
        assert frontier.root() == mth(leaves[:n])


def test_a_frontier_reloaded_from_the_store_continues_the_same_tree(
    grown: tuple[DictTree, list[bytes]],
) -> None:
    tree, leaves = grown
    for n in (1, 6, 8, 13):
        frontier = Frontier.load(tree, n)
        frontier.append(leaves[n])
        assert frontier.root() == mth(leaves[: n + 1])


def test_inclusion_proofs_are_the_rfcs_paths_and_verify(
    grown: tuple[DictTree, list[bytes]],
) -> None:
    tree, leaves = grown
    for n in SIZES:
        for index in range(n):
            proof = inclusion_proof(tree, index, n)
            assert proof == path(index, leaves[:n]), (index, n)
            verify_inclusion(index, n, leaves[index], proof, mth(leaves[:n]))


def test_consistency_proofs_are_the_rfcs_and_verify(
    grown: tuple[DictTree, list[bytes]],
) -> None:
    tree, leaves = grown
    for n in SIZES:
        for m in range(0, n + 1):
            proof = consistency_proof(tree, m, n)
            expected = [] if m in (0, n) else subproof(m, leaves[:n], True)
            assert proof == expected, (m, n)
            verify_consistency(m, n, proof, mth(leaves[:m]), mth(leaves[:n]))


def test_a_proof_reads_the_store_once_and_a_logarithmic_number_of_nodes() -> None:
    tree = DictTree()
    for leaf in leaves_of(1000):
        tree.append(leaf)
    before = tree.reads
    inclusion_proof(tree, 377, 999)
    consistency_proof(tree, 377, 999)
    assert tree.reads - before == 2
    assert len(range_nodes(0, 999)) == bin(999).count("1")


def test_a_wrong_leaf_index_size_or_sibling_fails_inclusion(
    grown: tuple[DictTree, list[bytes]],
) -> None:
    tree, leaves = grown
    n, index = 13, 5
    proof, good = inclusion_proof(tree, index, n), mth(leaves[:n])
    bad_sibling = [*proof[:-1], leaf_hash(b"forged")]
    for args in (
        (index, n, leaves[6], proof, good),
        (index + 1, n, leaves[index], proof, good),
        (index, n, leaves[index], bad_sibling, good),
        (index, n, leaves[index], proof[:-1], good),
        (index, n, leaves[index], [*proof, good], good),
        (index, n + 5, leaves[index], proof, good),
        (n, n, leaves[index], proof, good),
    ):
        with pytest.raises(ProofError):
            verify_inclusion(*args)  # type: ignore[arg-type]


def test_a_rewritten_history_or_a_fork_fails_consistency(
    grown: tuple[DictTree, list[bytes]],
) -> None:
    tree, leaves = grown
    m, n = 6, 19
    proof = consistency_proof(tree, m, n)
    old, new = mth(leaves[:m]), mth(leaves[:n])
    rewritten = mth([leaf_hash(b"rewritten"), *leaves[1:m]])
    for args in (
        (m, n, proof, rewritten, new),
        (m, n, proof, old, mth(leaves[: n - 1])),
        (m, n, proof[:-1], old, new),
        (m, n, [], old, new),
        (m, m, [], old, rewritten),  # a fork: same size, another root
        (n, m, proof, new, old),
    ):
        with pytest.raises(ProofError):
            verify_consistency(*args)  # type: ignore[arg-type]


def test_range_nodes_refuses_a_span_that_is_no_subtree() -> None:
    assert range_nodes(8, 15) == [(2, 2), (1, 6), (0, 14)]
    with pytest.raises(ValueError):
        range_nodes(2, 7)
    with pytest.raises(ValueError):
        range_nodes(3, 3)
