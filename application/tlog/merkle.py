"""The Merkle tree of RFC 9162 §2.1 over the log's entries, computed from complete subtrees' hashes.

Pure: the standard library only (an import-linter contract keeps it so), no storage.

A tree of ``n`` leaves is the RFC's ``MTH(D[n])``: a leaf's hash is ``SHA-256(0x00 ‖ entry)``,
an interior node's ``SHA-256(0x01 ‖ left ‖ right)``, the empty tree's ``SHA-256()``, and the
left subtree of ``D[n]`` holds the largest power of two of leaves below ``n``.

A *node* ``(level, index)`` is the complete subtree of the ``2**level`` leaves from
``index * 2**level``: level 0 holds the leaf hashes. Only complete subtrees are ever read, and
a complete node never changes as the log grows. Every subtree the RFC's proofs name,
``D[begin:end]``, starts at a multiple of the largest power of two not above ``end - begin``,
so its hash is the right fold of at most ``log2(n) + 1`` complete nodes (:func:`range_nodes`):
a proof, a root or a consistency check costs one batched read of ``O(log n)`` nodes' hashes,
never a rebuild. :class:`Frontier` appends leaves and says which nodes each one completes.

Stored, the nodes are grouped as the C2SP ``tlog-tiles`` layout groups them: a *tile* ``(L, N)``
holds the 256 nodes of tree level ``8·L`` from index ``256·N``, concatenated (the rightmost
tile of a level holds fewer: it is *partial*). A node of level ``8·L + h`` is computed from
``2**h`` consecutive hashes of one tile of level ``L``, as Go's ``sumdb/tlog``
``TileHashReader`` does; a store keeps those computed with the tile (:func:`stored_tile`), so a
proof reads a few tiles whatever the tree's size, and hashes nothing to find its nodes.
:class:`TileEdge` keeps the rightmost tile of each level as leaves arrive: what a store writes.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Protocol

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: ``(level, index)``: the complete subtree of leaves ``[index * 2**level, (index+1) * 2**level)``.
NodeId = tuple[int, int]
#: ``(tile level, tile index)``: the nodes ``(8·level, 256·index + i)``, ``i`` from 0 to 255.
TileId = tuple[int, int]
#: A tile as a store keeps it: tile level, tile index, its hashes concatenated.
StoredTile = tuple[int, int, bytes]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT


class ProofError(ValueError):
    """A proof that does not prove what it claims, or arguments no proof can have."""


class SubtreeReader(Protocol):
    """Stored hashes of complete subtrees (a storage adapter's, or a test's)."""

    def subtree_hashes(self, ids: Collection[NodeId]) -> Mapping[NodeId, bytes]:
        """The hash of each of these nodes (every one of them must be stored)."""
        ...


class TileReader(Protocol):
    """Stored tiles (a storage adapter's, or a test's)."""

    def read_tiles(self, ids: Collection[TileId]) -> Mapping[TileId, bytes]:
        """The stored hashes of each of these tiles, concatenated (absent ones left out)."""
        ...


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def range_nodes(begin: int, end: int) -> list[NodeId]:
    """The complete nodes that make up ``D[begin:end]``, largest (leftmost) first.

    ``begin`` must be a multiple of the largest power of two not above ``end - begin`` (as every
    subtree of the RFC's tree is), so the sizes strictly decrease: the bits of ``end - begin``.
    """
    if not 0 <= begin < end:
        raise ValueError(f"not a subtree: [{begin}, {end})")
    top = (end - begin).bit_length() - 1
    if begin % (1 << top):
        raise ValueError(f"[{begin}, {end}) is not a subtree of a log's tree")
    nodes: list[NodeId] = []
    start = begin
    for level in range(top, -1, -1):
        if (end - begin) >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """The hash of a subtree from its complete nodes' hashes, largest first (right fold)."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def _split(size: int) -> int:
    """The RFC's ``k``: the largest power of two smaller than ``size`` (``size > 1``)."""
    return 1 << ((size - 1).bit_length() - 1)


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The subtrees whose hashes are ``PATH(index, D[size])``, in the RFC's order (leaf first)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    ranges: list[tuple[int, int]] = []
    begin, end = 0, size
    while end - begin > 1:
        k = _split(end - begin)
        if index - begin < k:
            ranges.append((begin + k, end))
            end = begin + k
        else:
            ranges.append((begin, begin + k))
            begin += k
    ranges.reverse()
    return ranges


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The subtrees whose hashes are ``PROOF(old_size, D[new_size])`` (RFC 9162 §2.1.4.1)."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"no consistency proof from {old_size} to {new_size} leaves")
    if old_size in (0, new_size):
        return []
    ranges: list[tuple[int, int]] = []
    begin, end, m, whole = 0, new_size, old_size, True
    while m != end - begin:
        k = _split(end - begin)
        if m <= k:
            ranges.append((begin + k, end))
            end = begin + k
        else:
            ranges.append((begin, begin + k))
            m -= k
            begin += k
            whole = False
    if not whole:
        ranges.append((begin, end))
    ranges.reverse()
    return ranges


def subtree_hashes_of(reader: SubtreeReader, ranges: Iterable[tuple[int, int]]) -> list[bytes]:
    """The hash of each subtree, from one batched read of the complete nodes they are made of."""
    plans = [range_nodes(begin, end) for begin, end in ranges]
    stored = reader.subtree_hashes({node for plan in plans for node in plan})
    return [fold([stored[node] for node in plan]) for plan in plans]


def root(reader: SubtreeReader, size: int) -> bytes:
    """``MTH(D[size])``."""
    return EMPTY_ROOT if size == 0 else subtree_hashes_of(reader, [(0, size)])[0]


def inclusion_proof(reader: SubtreeReader, index: int, size: int) -> list[bytes]:
    return subtree_hashes_of(reader, inclusion_ranges(index, size))


def consistency_proof(reader: SubtreeReader, old_size: int, new_size: int) -> list[bytes]:
    return subtree_hashes_of(reader, consistency_ranges(old_size, new_size))


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` makes of ``leaf`` at ``index`` (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    fn, sn, result = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            raise ProofError("inclusion proof too long")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof too short")
    return result


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes
) -> None:
    """Raise :class:`ProofError` unless ``proof`` shows ``leaf`` at ``index`` of the tree."""
    if root_from_inclusion(index, size, leaf, proof) != expected_root:
        raise ProofError("inclusion proof leads to another root")


def verify_consistency(
    old_size: int,
    new_size: int,
    proof: Sequence[bytes],
    old_root: bytes,
    new_root: bytes,
) -> None:
    """Raise :class:`ProofError` unless the tree of ``new_size`` extends that of ``old_size``
    (RFC 9162 §2.1.4.2)."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"no consistency proof from {old_size} to {new_size} leaves")
    if old_size == 0 or old_size == new_size:
        if proof:
            raise ProofError("consistency proof must be empty")
        if old_size == new_size and old_root != new_root:
            raise ProofError("trees of the same size with different roots")
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof too long")
        if fn & 1 or fn == sn:
            fr = node_hash(node, fr)
            sr = node_hash(node, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, node)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof too short")
    if fr != old_root:
        raise ProofError("consistency proof does not lead to the old root")
    if sr != new_root:
        raise ProofError("consistency proof does not lead to the new root")


class Frontier:
    """The right edge of a growing tree: the complete nodes that make up ``D[0:size]``.

    :meth:`append` adds a leaf hash and returns every node it completes (the leaf's own node
    first); :meth:`extend` adds many and returns the nodes they complete level by level, each
    node hashed once: what a store keeps. The frontier itself is ``O(log size)`` hashes: at each
    level, the complete node that waits for its right sibling (where ``size`` has that bit).
    """

    def __init__(self, size: int = 0, nodes: Sequence[bytes] = ()) -> None:
        """A frontier of ``size`` leaves from the hashes of ``range_nodes(0, size)``."""
        if len(nodes) != (size.bit_count() if size else 0):
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} frontier nodes")
        self.size = size
        self._waiting: list[bytes | None] = [None] * size.bit_length()
        if size:
            for (level, _), digest in zip(range_nodes(0, size), nodes, strict=True):
                self._waiting[level] = digest

    @classmethod
    def load(cls, reader: SubtreeReader, size: int) -> Frontier:
        if size == 0:
            return cls()
        ids = range_nodes(0, size)
        stored = reader.subtree_hashes(ids)
        return cls(size, [stored[node] for node in ids])

    def append(self, leaf: bytes) -> list[tuple[NodeId, bytes]]:
        levels = self.extend([leaf])
        first = self.size - 1
        return [((level, first >> level), nodes[0]) for level, nodes in enumerate(levels)]

    def extend(self, leaves: Sequence[bytes]) -> list[list[bytes]]:
        """Append leaf hashes; the nodes they complete, level by level: item ``l`` holds the new
        complete nodes of level ``l`` in index order, the first of index ``old_size >> l``
        (item 0: the leaves), up to the highest level that got one."""
        levels: list[list[bytes]] = []
        waiting, sha256, prefix = self._waiting, hashlib.sha256, NODE_PREFIX
        nodes = list(leaves)
        level = 0
        while nodes:
            levels.append(nodes)
            if level == len(waiting):
                waiting.append(None)
            left = waiting[level]
            row = nodes if left is None else [left, *nodes]
            waiting[level] = row[-1] if len(row) & 1 else None
            nodes = [sha256(prefix + row[at] + row[at + 1]).digest()
                     for at in range(0, len(row) - 1, 2)]  # fmt: skip
            level += 1
        self.size += len(leaves)
        return levels

    def root(self) -> bytes:
        nodes = [digest for digest in reversed(self._waiting) if digest is not None]
        return fold(nodes) if nodes else EMPTY_ROOT


def tile_span(node: NodeId) -> tuple[TileId, int, int]:
    """The tile whose hashes ``node`` is computed from, and which of them: ``[start, stop)``."""
    level, index = node
    tile_level, height = divmod(level, TILE_HEIGHT)
    first = index << height
    start = first % TILE_WIDTH
    return (tile_level, first // TILE_WIDTH), start, start + (1 << height)


def partial_tiles(size: int) -> list[TileId]:
    """The partial (rightmost, not full) tile of each level of the tree of ``size`` leaves."""
    tiles, level = [], 0
    while count := size >> (TILE_HEIGHT * level):
        index, width = divmod(count, TILE_WIDTH)
        if width:
            tiles.append((level, index))
        level += 1
    return tiles


def tile_size(width: int) -> int:
    """The bytes of a tile of ``width`` hashes as stored (:func:`stored_tile`)."""
    return HASH_SIZE * sum(width >> height for height in range(TILE_HEIGHT))


#: A stored tile's width by its length (the length grows with the width).
_WIDTHS = {tile_size(width): width for width in range(1, TILE_WIDTH + 1)}


def tile_width(stored: bytes) -> int | None:
    """The width of a tile as stored, or None if ``stored`` is not one."""
    return _WIDTHS.get(len(stored))


def stored_tile(hashes: bytes) -> bytes:
    """A tile as a store keeps it: its hashes (the tile as served), then the hashes of the
    complete nodes inside it, tree level by tree level up to ``TILE_HEIGHT - 1``, so that no
    node needs computing when it is read."""
    levels, level = [hashes], hashes
    for _ in range(1, TILE_HEIGHT):
        level = b"".join(
            [node_hash(level[at : at + HASH_SIZE], level[at + HASH_SIZE : at + 2 * HASH_SIZE])
             for at in range(0, len(level) - 2 * HASH_SIZE + 1, 2 * HASH_SIZE)]
        )  # fmt: skip
        levels.append(level)
    return b"".join(levels)


def hashes_from_tiles(ids: Iterable[NodeId], tiles: Mapping[TileId, bytes]) -> dict[NodeId, bytes]:
    """The hash of each node its stored tile holds (those of other nodes left out)."""
    found: dict[NodeId, bytes] = {}
    for node in ids:
        tile, start, _ = tile_span(node)
        data = tiles.get(tile)
        width = None if data is None else tile_width(data)
        if data is None or width is None:
            continue
        height = node[0] % TILE_HEIGHT
        at = start >> height
        if at >= width >> height:
            continue
        offset = HASH_SIZE * (sum(width >> below for below in range(height)) + at)
        found[node] = data[offset : offset + HASH_SIZE]
    return found


class TileHashReader:
    """Complete subtrees' hashes from stored tiles: one read of the tiles the nodes are in.

    With ``keep_bytes``, it keeps the tiles it read, the least recently used dropped beyond that
    many bytes: a node never changes once complete, so a kept tile answers every node it holds,
    full or partial, for any tree size; only nodes that no kept tile holds (a tile not kept, or
    a partial one kept narrower than they need) are read, and the wider tile is kept. Safe to
    share between threads.
    """

    def __init__(self, tiles: TileReader, keep_bytes: int = 0) -> None:
        self.tiles = tiles
        self.keep_bytes = keep_bytes
        self._kept: OrderedDict[TileId, bytes] = OrderedDict()
        self._kept_bytes = 0
        self._lock = threading.Lock()

    def subtree_hashes(self, ids: Collection[NodeId]) -> dict[NodeId, bytes]:
        if not ids:
            return {}
        if not self.keep_bytes:
            return hashes_from_tiles(ids, self.tiles.read_tiles({tile_span(n)[0] for n in ids}))
        wanted = {tile_span(node)[0] for node in ids}
        with self._lock:
            kept = {tile: data for tile in wanted if (data := self._kept.get(tile)) is not None}
            for tile in kept:
                self._kept.move_to_end(tile)
        found = hashes_from_tiles(ids, kept)
        missing = [node for node in ids if node not in found]
        if missing:
            read = self.tiles.read_tiles({tile_span(node)[0] for node in missing})
            found.update(hashes_from_tiles(missing, read))
            self._keep(read)
        return found

    @property
    def kept_bytes(self) -> int:
        """The bytes of the tiles kept."""
        return self._kept_bytes

    def _keep(self, tiles: Mapping[TileId, bytes]) -> None:
        with self._lock:
            for tile, data in tiles.items():
                if len(data) > self.keep_bytes:
                    continue
                previous = self._kept.pop(tile, b"")
                self._kept_bytes -= len(previous)
                data = max(previous, data, key=len)  # two readers may race: the wider stays
                self._kept[tile] = data
                self._kept_bytes += len(data)
            while self._kept_bytes > self.keep_bytes:
                _, dropped = self._kept.popitem(last=False)
                self._kept_bytes -= len(dropped)


class TileEdge:
    """The rightmost tile of each tile level of a growing tree, as a store writes them.

    It keeps, for each tree level, the complete nodes of that level in the rightmost tile of
    its tile level: the tile's own hashes and its inner nodes, as :func:`stored_tile` lays them
    out, taken from what :meth:`Frontier.extend` hashed (no node is hashed twice).
    :meth:`extend` takes those nodes; :meth:`take` gives the tiles changed since the last take:
    every tile filled (once), and the partial tile of each level that grew, as wide as it now is
    (it replaces the narrower one stored).
    """

    def __init__(self, size: int = 0, tiles: Mapping[TileId, bytes] | None = None) -> None:
        """The edge of the tree of ``size`` leaves, from its stored partial tiles."""
        self.size = size
        self._open: list[bytearray] = []
        level = 0
        while count := size >> (TILE_HEIGHT * level):
            index, width = divmod(count, TILE_WIDTH)
            data = (tiles or {}).get((level, index), b"")
            if width and tile_width(data) != width:
                raise ValueError(f"tile {level}/{index} is not the tree's {width} hashes wide")
            at = 0
            for height in range(TILE_HEIGHT):
                end = at + (width >> height) * HASH_SIZE
                self._open.append(bytearray(data[at:end]))
                at = end
            level += 1
        self._filled: list[StoredTile] = []
        self._grown: set[int] = set()

    @classmethod
    def load(cls, reader: TileReader, size: int) -> TileEdge:
        return cls(size, reader.read_tiles(partial_tiles(size)))

    def extend(self, levels: Sequence[Sequence[bytes]]) -> None:
        """Add the nodes that the next leaves complete, level by level, as
        :meth:`Frontier.extend` returns them (item 0: the leaves)."""
        old, new = self.size, self.size + (len(levels[0]) if levels else 0)
        for level, nodes in enumerate(levels):
            if len(nodes) != (new >> level) - (old >> level):
                raise ValueError(f"not the level-{level} nodes of leaves {old} to {new}")
        if new >> len(levels) != old >> len(levels):
            raise ValueError(f"the nodes of leaves {old} to {new} stop below their top level")
        while len(self._open) < len(levels):
            self._open.extend(bytearray() for _ in range(TILE_HEIGHT))
        for level, nodes in enumerate(levels):
            self._open[level] += b"".join(nodes)
        full = TILE_WIDTH * HASH_SIZE
        widths = [full >> height for height in range(TILE_HEIGHT)]
        for bottom in range(0, len(levels), TILE_HEIGHT):  # the tree level of a tile level
            parts = self._open[bottom : bottom + TILE_HEIGHT]
            index = (old >> bottom) // TILE_WIDTH
            while len(parts[0]) >= full:
                tile = b"".join([part[:width] for part, width in zip(parts, widths, strict=True)])
                self._filled.append((bottom // TILE_HEIGHT, index, tile))
                for part, width in zip(parts, widths, strict=True):
                    del part[:width]
                index += 1
            self._grown.add(bottom // TILE_HEIGHT)
        self.size = new

    def take(self) -> list[StoredTile]:
        tiles = self._filled + [
            (level, (self.size >> (TILE_HEIGHT * level)) // TILE_WIDTH,
             b"".join(self._open[TILE_HEIGHT * level : TILE_HEIGHT * (level + 1)]))
            for level in sorted(self._grown)
            if self._open[TILE_HEIGHT * level]
        ]  # fmt: skip
        self._filled, self._grown = [], set()
        return tiles
