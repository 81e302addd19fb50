"""The C2SP tlog-tiles layout: paths, which tiles a tree has, and what a tile holds."""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Collection, Mapping

import pytest

from capledger.application.tlog.merkle import (
    Frontier,
    NodeId,
    TileEdge,
    TileHashReader,
    TileId,
    leaf_hash,
    root,
)
from capledger.application.tlog.tiles import (
    Tile,
    TileError,
    entry_bundle,
    index_path,
    tile_data,
    tiles_of,
)

pytestmark = pytest.mark.unit


class Tree:
    """Tiles as a store keeps them: what :class:`TileEdge` gave as the leaves arrived."""

    def __init__(self, size: int) -> None:
        self.tiles: dict[TileId, bytes] = {}
        self.leaves = [leaf_hash(f"entry {n}".encode()) for n in range(size)]
        frontier, edge = Frontier(), TileEdge()
        for leaf in self.leaves:
            edge.extend(frontier.extend([leaf]))
        self.tiles.update(((level, index), data) for level, index, data in edge.take())

    def read_tiles(self, ids: Collection[TileId]) -> Mapping[TileId, bytes]:
        return {tile: self.tiles[tile] for tile in ids if tile in self.tiles}

    def subtree_hashes(self, ids: Collection[NodeId]) -> Mapping[NodeId, bytes]:
        return TileHashReader(self).subtree_hashes(ids)


def test_tile_indexes_are_written_in_groups_of_three_digits_as_the_specification_shows() -> None:
    assert index_path(1234067) == "x001/x234/067"
    assert index_path(0) == "000" and index_path(999) == "999" and index_path(1000) == "x001/000"
    assert Tile(0, 1234067).path == "tile/0/x001/x234/067"
    assert Tile(1, 3, 17).path == "tile/1/003.p/17"
    assert Tile(0, 5, 112).entries_path == "tile/entries/005.p/112"
    with pytest.raises(TileError):
        _ = Tile(1, 0).entries_path


def test_the_tiles_of_a_tree_are_the_specifications_examples() -> None:
    def shape(size: int) -> Counter[tuple[int, int]]:
        return Counter((tile.level, tile.width) for tile in tiles_of(size))

    # "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level 0
    # tile of width 112, one full level 1 tile, one partial level 1 tile of width 17, and one
    # partial level 2 tile of width 1"; "a tree of size 256 ... a full level 0 tile and a
    # partial level 1 tile of width 1".
    assert shape(70_000) == Counter(
        {(0, 256): 273, (0, 112): 1, (1, 256): 1, (1, 17): 1, (2, 1): 1}
    )
    assert shape(256) == Counter({(0, 256): 1, (1, 1): 1})
    assert list(tiles_of(0)) == [] and list(tiles_of(1)) == [Tile(0, 0, 1)]


def test_a_level_0_tile_holds_leaf_hashes_and_a_level_1_tile_the_roots_of_full_tiles() -> None:
    tree = Tree(600)

    assert tile_data(tree, Tile(0, 2, 88)) == b"".join(tree.leaves[512:600])
    level_1 = tile_data(tree, Tile(1, 0, 2))
    for i in range(2):
        tile_root = Frontier()
        for leaf in tree.leaves[256 * i : 256 * (i + 1)]:
            tile_root.append(leaf)
        assert level_1[32 * i : 32 * (i + 1)] == tile_root.root()
    assert level_1[:32] == root(tree, 256)
    with pytest.raises(TileError):
        tile_data(tree, Tile(0, 3, 10))


def test_an_entry_bundle_prefixes_each_entry_with_its_length() -> None:
    assert entry_bundle([b"ab", b"", b"x" * 300]) == (
        b"\x00\x02ab" + b"\x00\x00" + struct.pack(">H", 300) + b"x" * 300
    )
