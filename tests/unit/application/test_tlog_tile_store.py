"""The tree as stored tiles agrees with RFC 9162 computed the RFC's way, across tile boundaries,
batches and restarts (the sequencer on the in-memory store; SQLite and PostgreSQL:
tests/integration/test_tlog_store.py)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cache
from uuid import uuid4

import pytest

from capledger.application.chain import GENESIS, seal
from capledger.application.ledger import Ledger
from capledger.application.storage import ImportRow, TreeLeaf, TreeTile, event_log, log_tree
from capledger.application.storage.memory import LedgerMemoryRecorder
from capledger.application.tlog.entry import LogEntry
from capledger.application.tlog.merkle import (
    TILE_WIDTH,
    Frontier,
    TileEdge,
    TileHashReader,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    partial_tiles,
    root,
    stored_tile,
    tile_size,
    tile_width,
)
from capledger.application.tlog.sequencer import Sequencer
from capledger.application.tlog.tiles import tile_data, tiles_of
from capledger.bootstrap import load_rules

from .test_tlog_merkle import path, subproof

pytestmark = pytest.mark.unit

TOPIC = "capledger.domain.project:Project.Test"
#: Sizes on both sides of a level-0 tile's and a level-1 tile's boundary, in the order grown.
SIZES = [1, 255, 256, 257, 511, 512, 513, 65_535, 65_536, 65_537]


@pytest.fixture(scope="module")
def ledger() -> Iterator[Ledger]:
    """An in-memory store of ``max(SIZES)`` events sealed in their chains, one import."""
    opened = Ledger(rules=load_rules())
    streams = [uuid4() for _ in range(7)]
    heads = dict.fromkeys(streams, (0, GENESIS))
    rows: list[ImportRow] = []
    for n in range(max(SIZES)):
        stream = streams[n % len(streams)]
        version, prev = heads[stream]
        state, digest = seal(
            stream=str(stream), version=version + 1, topic=TOPIC, data={"n": n}, meta={}, prev=prev
        )
        rows.append((stream.hex, version + 1, TOPIC, state))
        heads[stream] = (version + 1, digest)
    with event_log(opened.recorder).bulk_import() as target:
        target.insert(rows)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def leaves(ledger: Ledger) -> list[bytes]:
    rows = event_log(ledger.recorder).read_rows(0, max(SIZES))
    return [leaf_hash(LogEntry.of_stored(*row[:3], row.state).encode()) for row in rows]


def expected_tile(leaves: list[bytes], level: int, index: int, width: int) -> bytes:
    """The tile's hashes by the specification: the roots of its ``256**level``-leaf subtrees."""

    @cache
    def mth(begin: int, end: int) -> bytes:
        if end - begin == 1:
            return leaves[begin]
        k = 1 << ((end - begin - 1).bit_length() - 1)
        return node_hash(mth(begin, begin + k), mth(begin + k, end))

    span = TILE_WIDTH**level
    first = index * TILE_WIDTH
    return b"".join(mth((first + i) * span, (first + i + 1) * span) for i in range(width))


def test_tiles_and_proofs_are_the_specifications_as_the_tree_grows_by_batches_and_restarts(
    ledger: Ledger, leaves: list[bytes]
) -> None:
    log, tree = event_log(ledger.recorder), log_tree(ledger.recorder)
    size = 0
    for target in SIZES:
        # A sequencer resumed from the store for each size: the partial tiles it read back
        # are widened by a batch that ends exactly at the size.
        sequencer = Sequencer(log, tree, batch=target - size)
        assert sequencer.size == size and sequencer.step() == target - size
        size = target

        for tile in tiles_of(size):
            stored = tree.read_tiles([(tile.level, tile.index)])[tile.level, tile.index]
            # Stored exactly as wide as the tree has it, its inner nodes after it.
            expected = expected_tile(leaves, tile.level, tile.index, tile.width)
            assert tile_data(tree, tile) == expected and stored == stored_tile(expected)
            assert tile_width(stored) == tile.width
        assert {(t.level, t.index) for t in tiles_of(size) if t.width < TILE_WIDTH} == set(
            partial_tiles(size)
        )
        upto = leaves[:size]
        assert root(tree, size) == sequencer.root()
        for index in {0, size // 3, size - 256, size - 2, size - 1} & set(range(size)):
            assert inclusion_proof(tree, index, size) == path(index, upto)
        for old in {1, 255, 256, size // 2, size - 1} & set(range(1, size)):
            assert consistency_proof(tree, old, size) == subproof(old, upto, True)


def test_a_proof_reads_a_few_tiles_in_one_read(ledger: Ledger, leaves: list[bytes]) -> None:
    tree = log_tree(ledger.recorder)
    Sequencer(event_log(ledger.recorder), tree, batch=100_000).catch_up()
    size = max(SIZES)
    reads: list[set[tuple[int, int]]] = []
    read_tiles = tree.read_tiles

    class Counted:
        def read_tiles(self, ids: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
            reads.append(set(ids))
            return read_tiles(ids)

    reader = TileHashReader(Counted())
    for index in (0, 300, size - 1):
        reads.clear()
        assert inclusion_proof(reader, index, size) == path(index, leaves[:size])
        assert len(reads) == 1 and len(reads[0]) <= 2 * 3  # at most two tiles per tile level


def test_kept_tiles_answer_again_and_a_node_beyond_a_kept_partial_tile_is_read(
    ledger: Ledger, leaves: list[bytes]
) -> None:
    tree = LedgerMemoryRecorder()
    sequencer = Sequencer(event_log(ledger.recorder), tree, batch=300)
    sequencer.step()
    reads: list[set[tuple[int, int]]] = []

    class Counted:
        def read_tiles(self, ids: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
            reads.append(set(ids))
            return tree.read_tiles(ids)

    reader = TileHashReader(Counted(), keep_bytes=10 * tile_size(TILE_WIDTH))
    assert inclusion_proof(reader, 290, 300) == path(290, leaves[:300]) and len(reads) == 1
    assert inclusion_proof(reader, 290, 300) == path(290, leaves[:300]) and len(reads) == 1

    sequencer.step()  # 600 leaves: tile 0/1, kept 44 wide, is now full
    assert inclusion_proof(reader, 290, 600) == path(290, leaves[:600])
    assert reads[1:] == [{(0, 1), (0, 2)}]  # what the kept tiles do not hold, in one read
    assert inclusion_proof(reader, 290, 300) == path(290, leaves[:300]) and len(reads) == 2

    small = TileHashReader(Counted(), keep_bytes=tile_size(TILE_WIDTH))  # one full tile
    for index in (0, 300, 599, 0):
        assert inclusion_proof(small, index, 600) == path(index, leaves[:600])
    assert small.kept_bytes <= tile_size(TILE_WIDTH)


def test_a_batch_of_a_thousand_events_writes_a_handful_of_rows(ledger: Ledger) -> None:
    tree = LedgerMemoryRecorder()
    written: list[int] = []
    append = tree.append_to_log_tree

    def counted(
        size: int, head: TreeLeaf, runs: Sequence[TreeLeaf], tiles: Sequence[TreeTile]
    ) -> None:
        written.append(len(runs) + len(tiles) + 1)  # and the head's row
        append(size, head, runs, tiles)

    tree.append_to_log_tree = counted  # type: ignore[method-assign]
    Sequencer(event_log(ledger.recorder), tree, batch=1_000).catch_up()

    assert len(written) == 66 and max(written) <= 8  # 4 to 5 level-0 tiles, 1 or 2 above, head
    assert root(tree, max(SIZES)) == root(log_tree(ledger.recorder), max(SIZES))


def test_positions_are_kept_as_runs_and_a_gap_has_no_leaf() -> None:
    tree = LedgerMemoryRecorder()
    hashes = stored_tile(b"".join(leaf_hash(bytes([n])) for n in range(6)))
    # Leaves 0-2 at positions 1-3, leaves 3-5 at positions 10-12 (4 to 9: rolled back).
    tree.append_to_log_tree(0, (5, 12), [(0, 1), (3, 10)], [(0, 0, hashes)])

    assert tree.leaf_positions(0, 6) == [1, 2, 3, 10, 11, 12]
    assert tree.leaf_positions(2, 5) == [3, 10, 11] and tree.leaf_positions(4, 99) == [11, 12]
    assert [tree.leaf_index_of(p) for p in (1, 3, 4, 9, 10, 12, 13)] == [
        0, 2, None, None, 3, 5, None
    ]  # fmt: skip


def test_a_tile_edge_takes_only_the_nodes_the_next_leaves_complete() -> None:
    leaves = [leaf_hash(n.to_bytes(2, "big")) for n in range(600)]
    frontier = Frontier()
    levels = frontier.extend(leaves[:300])
    edge = TileEdge(300, {(0, 1): stored_tile(b"".join(leaves[256:300])),
                          (1, 0): stored_tile(levels[8][0])})  # fmt: skip
    with pytest.raises(ValueError, match="stop below their top level"):
        edge.extend([leaves[300:302]])  # they complete node (1, 150) too
    with pytest.raises(ValueError, match="not the level-1 nodes"):
        edge.extend([leaves[300:301], [leaves[0]]])

    edge.extend(frontier.extend(leaves[300:600]))

    level_8 = [frontier_node(leaves, 8, index) for index in range(2)]
    assert edge.take() == [
        (0, 1, stored_tile(b"".join(leaves[256:512]))),
        (0, 2, stored_tile(b"".join(leaves[512:600]))),
        (1, 0, stored_tile(b"".join(level_8))),
    ]
    assert edge.take() == []
    with pytest.raises(ValueError, match="hashes wide"):
        TileEdge(300, {(0, 1): stored_tile(b"h" * 32 * 43), (1, 0): stored_tile(b"r" * 32)})


def frontier_node(leaves: Sequence[bytes], level: int, index: int) -> bytes:
    """Node ``(level, index)`` computed the RFC's way from its leaves."""
    span = leaves[index << level : (index + 1) << level]
    while len(span) > 1:
        span = [node_hash(span[at], span[at + 1]) for at in range(0, len(span), 2)]
    return span[0]


def test_a_frontier_hashes_the_same_nodes_whatever_the_batches() -> None:
    leaves = [leaf_hash(n.to_bytes(2, "big")) for n in range(1_000)]
    one_by_one, batched = Frontier(), Frontier()
    completed: dict[int, list[bytes]] = {}
    for leaf in leaves:
        for (level, _), digest in one_by_one.append(leaf):
            completed.setdefault(level, []).append(digest)
    by_batch: dict[int, list[bytes]] = {}
    for start, stop in ((0, 1), (1, 7), (7, 256), (256, 257), (257, 1_000)):
        for level, nodes in enumerate(batched.extend(leaves[start:stop])):
            by_batch.setdefault(level, []).extend(nodes)

    assert by_batch == completed and batched.root() == one_by_one.root()
    assert completed[9] == [frontier_node(leaves, 9, 0)] and batched.size == 1_000


def test_a_stored_tile_holds_its_inner_nodes_level_by_level() -> None:
    hashes = [leaf_hash(bytes([n])) for n in range(5)]
    pairs = [node_hash(hashes[0], hashes[1]), node_hash(hashes[2], hashes[3])]

    stored = stored_tile(b"".join(hashes))
    assert stored == b"".join([*hashes, *pairs, node_hash(*pairs)])
    assert tile_width(stored) == 5 and tile_width(stored[:-1]) is None
    assert [tile_width(stored_tile(b"h" * 32 * w)) for w in range(1, 257)] == list(range(1, 257))
