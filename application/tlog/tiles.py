"""The log in the C2SP ``tlog-tiles`` layout: static files a standard transparency-log client reads.

A tile is 256 consecutive hashes at a tile level ``L``: the complete subtrees of ``256**L``
leaves each, that is the nodes of tree level ``8·L`` (:mod:`.merkle`); the rightmost tile of a
level is partial (``.p/<width>``). The store keeps the tree as these very tiles (each followed
by the inner nodes computed from it, :func:`~.merkle.stored_tile`), so a tile is served as the
stored one begins: a full tile's 256 hashes, a partial one ``.p/<W>`` as its first ``W``.
An entry bundle holds the entries of a level-0 tile, each prefixed by its length (uint16,
big-endian). Paths, relative to the log's prefix::

    checkpoint
    tile/<L>/<N>[.p/<W>]
    tile/entries/<N>[.p/<W>]

where ``<N>`` is written in groups of three digits, all but the last prefixed with ``x``
(``x001/x234/067``). :func:`publish_tiles` writes a tree of a given size (and its signed
checkpoint) into a directory, to be served as it is.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..storage import EventLog, LogTree
from .checkpoint import Checkpoint
from .entry import LogEntry
from .merkle import HASH_SIZE, TileReader, tile_width
from .merkle import TILE_WIDTH as TILE_WIDTH  # the layout's width, re-exported


class TileError(ValueError):
    """A tile the tree does not have, or a store whose log and tree disagree."""


def index_path(index: int) -> str:
    """``1234067`` → ``x001/x234/067``."""
    digits = str(index)
    digits = digits.zfill(-(-len(digits) // 3) * 3)
    groups = [digits[at : at + 3] for at in range(0, len(digits), 3)]
    return "/".join([*(f"x{group}" for group in groups[:-1]), groups[-1]])


@dataclass(frozen=True)
class Tile:
    level: int
    index: int
    width: int = TILE_WIDTH

    @property
    def path(self) -> str:
        return f"tile/{self.level}/{index_path(self.index)}{self._partial}"

    @property
    def entries_path(self) -> str:
        """The path of the entry bundle of a level-0 tile."""
        if self.level != 0:
            raise TileError("only level-0 tiles have entry bundles")
        return f"tile/entries/{index_path(self.index)}{self._partial}"

    @property
    def _partial(self) -> str:
        return "" if self.width == TILE_WIDTH else f".p/{self.width}"


def tiles_of(size: int) -> Iterator[Tile]:
    """Every tile of the tree of ``size`` leaves, level by level, the partial one last."""
    level = 0
    while size >= TILE_WIDTH**level and size > 0:
        span = TILE_WIDTH**level
        full, partial = divmod(size // span, TILE_WIDTH)
        for index in range(full):
            yield Tile(level, index)
        if partial:
            yield Tile(level, full, partial)
        level += 1


def tile_data(reader: TileReader, tile: Tile) -> bytes:
    """The tile's bytes: the first ``width`` hashes of the stored tile at its place."""
    stored = reader.read_tiles([(tile.level, tile.index)]).get((tile.level, tile.index), b"")
    width = tile_width(stored) or 0
    if width < tile.width:
        raise TileError(f"{tile.path}: the tree has {width} of its hashes")
    return stored[: tile.width * HASH_SIZE]


def entry_bundle(entries: Sequence[bytes]) -> bytes:
    return b"".join(struct.pack(">H", len(entry)) + entry for entry in entries)


def tile_entries(log: EventLog, tree: LogTree, tile: Tile) -> list[bytes]:
    """The log entries of a level-0 tile's leaves, read from the stored events."""
    start = tile.index * TILE_WIDTH
    positions = tree.leaf_positions(start, start + tile.width)
    if len(positions) != tile.width:
        raise TileError(f"{tile.entries_path}: the tree has {len(positions)} of its leaves")
    rows = log.read_rows(positions[0] - 1, positions[-1] - positions[0] + 1)
    by_position = {row.id: row for row in rows}
    entries = []
    for position in positions:
        row = by_position.get(position)
        if row is None:
            raise TileError(f"the event at position {position}, a leaf of the tree, is gone")
        entry = LogEntry.of_stored(row.id, row.originator_id, row.originator_version, row.state)
        entries.append(entry.encode())
    return entries


def publish_tiles(
    directory: Path, log: EventLog, tree: LogTree, size: int, checkpoint_note: str
) -> int:
    """Write the tiles and entry bundles of the tree of ``size`` leaves and its signed
    checkpoint (whose size it must be) under ``directory``; the number of files written."""
    text = checkpoint_note[: checkpoint_note.rfind("\n\n") + 1]
    if Checkpoint.parse(text).size != size:
        raise TileError(f"the checkpoint is not of the tree of {size} leaves")
    written = 0
    for tile in tiles_of(size):
        _write(directory / tile.path, tile_data(tree, tile))
        if tile.level == 0:
            _write(directory / tile.entries_path, entry_bundle(tile_entries(log, tree, tile)))
            written += 1
        written += 1
    _write(directory / "checkpoint", checkpoint_note.encode())
    return written + 1


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
