"""The event store in memory: the library's POPO recorder with the ledger's operations on the log.

The ``Ledger``'s default (unit tests, a demo without a file): ``PERSISTENCE_MODULE=
capledger.application.storage.memory``. It answers through the library's public reads; no other
process can read it, and an import keeps its events until the end and inserts them at once.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from threading import Lock
from uuid import UUID

import eventsourcing.popo as library
from eventsourcing.persistence import IntegrityError, StoredEvent

from ..tlog.merkle import TileHashReader
from . import (
    BulkImport,
    ImportRow,
    LogRow,
    PageRow,
    StoredCheckpoint,
    TreeLeaf,
    TreeTile,
    leaf_in_run,
    positions_in_runs,
)


class LedgerMemoryRecorder(library.POPOApplicationRecorder):
    """The library's in-memory application recorder, and the ledger's operations on the log."""

    pushes_notifications = False

    def position_of(self, originator_id: UUID, version: int) -> int | None:
        head = self.max_notification_id() or 0
        for notification in self.select_notifications(start=1, limit=max(head, 1)):
            if (notification.originator_id, notification.originator_version) == (
                originator_id,
                version,
            ):
                return notification.id
        return None

    def read_rows(self, after: int, limit: int) -> Sequence[LogRow]:
        page = self.select_notifications(start=after, limit=limit, inclusive_of_start=False)
        return [
            LogRow(n.id, str(n.originator_id), n.originator_version, n.topic, n.state) for n in page
        ]

    def read_folded(
        self, after: int, stop: int, aggregates: Sequence[str]
    ) -> tuple[int, list[PageRow]]:
        head = self.max_notification_id() or 0
        stop = min(stop, head)
        if stop <= after:
            return head, []
        prefixes = tuple(f"{aggregate}." for aggregate in aggregates)
        page = self.select_notifications(start=after + 1, limit=stop - after, stop=stop)
        return head, [
            (n.id, n.originator_id, n.originator_version, n.topic, n.state)
            for n in page
            if n.topic.partition(":")[2].startswith(prefixes)
        ]

    def log_file(self) -> None:
        return None

    @contextmanager
    def bulk_import(self) -> Iterator[BulkImport]:
        target = _MemoryImport(self)
        yield target
        if target.events:
            self.insert_events(target.events)

    def overwrite_stored_event(
        self, originator_id: UUID, version: int, *, topic: str | None = None,
        state: bytes | None = None,
    ) -> None:  # fmt: skip
        raise NotImplementedError("stored events in memory are not edited in place")

    def delete_stored_event(self, originator_id: UUID, version: int) -> None:
        raise NotImplementedError("stored events in memory are not deleted")

    # -- the verifiable log's tree (capledger.application.tlog) --

    def __init__(self) -> None:
        super().__init__()
        self._tree_lock = Lock()
        self._tree_head: TreeLeaf | None = None
        self._tree_runs: list[TreeLeaf] = []
        self._tree_tiles: dict[tuple[int, int], bytes] = {}
        self._checkpoints: dict[int, StoredCheckpoint] = {}
        self._cosignatures: dict[int, dict[str, str]] = {}

    def create_log_tree(self) -> None:
        return None

    def log_tree_head(self) -> TreeLeaf | None:
        with self._tree_lock:
            return self._tree_head

    def append_to_log_tree(
        self, size: int, head: TreeLeaf, runs: Sequence[TreeLeaf], tiles: Sequence[TreeTile]
    ) -> None:
        with self._tree_lock:
            if size != self._tree_size() or any(leaf < size for leaf, _ in runs):
                raise IntegrityError(f"the log tree no longer has {size} leaves")
            self._tree_runs.extend(runs)
            for level, index, hashes in tiles:
                self._tree_tiles[level, index] = hashes
            self._tree_head = head

    def read_tiles(self, ids: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        with self._tree_lock:
            return {tile: self._tree_tiles[tile] for tile in ids if tile in self._tree_tiles}

    def subtree_hashes(self, ids: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        return TileHashReader(self).subtree_hashes(ids)

    def leaf_index_of(self, position: int) -> int | None:
        with self._tree_lock:
            runs = self._tree_runs
            at = bisect_right(runs, position, key=lambda run: run[1]) - 1
            if at < 0:
                return None
            end = runs[at + 1][0] if at + 1 < len(runs) else self._tree_size()
            return leaf_in_run(position, runs[at], end)

    def leaf_positions(self, start: int, stop: int) -> list[int]:
        with self._tree_lock:
            runs = self._tree_runs
            first = max(bisect_right(runs, start, key=lambda run: run[0]) - 1, 0)
            last = bisect_right(runs, stop - 1, key=lambda run: run[0])
            return positions_in_runs(runs[first:last], start, min(stop, self._tree_size()))

    def _tree_size(self) -> int:
        return 0 if self._tree_head is None else self._tree_head[0] + 1

    # -- the verifiable log's checkpoints and cosignatures --

    def create_checkpoint_tables(self) -> None:
        return None

    def store_checkpoint(self, size: int, root: bytes, note: str) -> None:
        with self._tree_lock:
            if size in self._checkpoints:
                raise IntegrityError(f"a checkpoint of {size} entries is already stored")
            self._checkpoints[size] = (size, root, note)

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        with self._tree_lock:
            return self._checkpoints[max(self._checkpoints)] if self._checkpoints else None

    def checkpoint_of_size(self, size: int) -> StoredCheckpoint | None:
        with self._tree_lock:
            return self._checkpoints.get(size)

    def store_cosignature(self, size: int, witness: str, line: str) -> None:
        with self._tree_lock:
            self._cosignatures.setdefault(size, {})[witness] = line

    def cosignatures(self, size: int) -> list[str]:
        with self._tree_lock:
            lines = self._cosignatures.get(size, {})
            return [lines[witness] for witness in sorted(lines)]


class LedgerMemoryFactory(library.POPOFactory):
    def application_recorder(self) -> LedgerMemoryRecorder:
        return LedgerMemoryRecorder()


class _MemoryImport:
    def __init__(self, recorder: LedgerMemoryRecorder) -> None:
        self.recorder = recorder
        self.events: list[StoredEvent] = []
        self.empty = not recorder.max_notification_id()

    def is_empty(self) -> bool:
        return self.empty

    def last_events(self, streams: Collection[UUID]) -> dict[UUID, StoredEvent]:
        found: dict[UUID, StoredEvent] = {}
        for stream in streams:
            last = self.recorder.select_events(stream, desc=True, limit=1)
            if last:
                found[stream] = last[0]
        return found

    def insert(self, rows: Sequence[ImportRow]) -> None:
        self.events.extend(
            StoredEvent(UUID(hex=key), version, topic, state) for key, version, topic, state in rows
        )
